"""Start-up of export: the connectors, the transfer codes, the CLI, the first data sections."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.connectors import registry
from app.connectors.panel import AccountSection, ActivitySection
from app.export import DEFAULTS, bp, cli, transfer, transfer_views, views  # noqa: F401 - routes
from app.features import Feature
from app.profile.model import HosterProfile


def configure(app: Flask) -> None:
    """Read the settings, then build the connectors of hoster.toml's services."""
    deny = app.config["EXPORT_DIRECTORY_DENY"]
    if isinstance(deny, str):
        app.config["EXPORT_DIRECTORY_DENY"] = tuple(a for a in deny.replace(",", " ").split() if a)
    profile: HosterProfile = app.extensions["panel_hoster"]
    registry.init_app(app, profile)


FEATURE = Feature(
    name="export",
    settings=DEFAULTS,
    init=configure,
    blueprints=(bp,),
    commands=(cli.export_group,),
    attention=((transfer_views.codes_waiting, transfer.valid_code_probe),),
    # The account and the activity lead the archive (and the deletion's list).
    panel_sections=lambda _app: (
        AccountSection(),
        ActivitySection(),
        transfer.TransferCodesSection(),
    ),
    audit_labels={
        "export.downloaded": _l("Downloaded a copy of all your data"),
        "export.transfer_code_created": _l("Created a transfer code for another panel"),
        "export.transfer_code_revoked": _l("Revoked a transfer code"),
        "export.transferred": _l("Another panel downloaded your data with a transfer code"),
    },
)
