"""Build the connectors at start-up: built-ins, hoster.toml services, third-party plugins.

A service names its connector in hoster.toml:

    [services.connector]
    type = "files"                      # or "command", "imap", "dav", "matrix", "http",
    path = "/srv/nextcloud/data/{uid}/files"   # or a plugin's name

The protocol connectors (`imap`, `dav`, `matrix`, `http`) live in one module each under
app/connectors/, listed in PROTOCOL_MODULES; each module has
`build(service, options: ConnectorOptions, app) -> Connector` and reads every option
through ConnectorOptions, which then refuses the keys nobody read. A module is imported
only when hoster.toml uses its type.

Plugins are found through the `chatons_panel.connectors` entry-point group: the entry
point's name is the `type`, its object a callable `(service, options, app) -> Connector`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from flask import Flask

from app.connectors.base import Connector, register_connector, register_core_connector
from app.connectors.command import CommandConnector
from app.connectors.directory import DirectoryConnector
from app.connectors.files import FilesConnector
from app.connectors.options import ConnectorOptions
from app.connectors.panel import PanelConnector
from app.profile.model import HosterProfile, ProfileError, Service

ENTRY_POINT_GROUP = "chatons_panel.connectors"
Factory = Callable[[Service, dict[str, Any], Flask], Connector]


def _files(service: Service, options: dict[str, Any], app: Flask) -> Connector:
    # Relative paths are read from the panel's folder, where instance/ lives.
    return FilesConnector.from_options(service, options, Path(app.instance_path).parent)


def _command(service: Service, options: dict[str, Any], app: Flask) -> Connector:
    return CommandConnector.from_options(
        service, options, float(app.config["EXPORT_COMMAND_TIMEOUT"])
    )


BUILT_IN: dict[str, Factory] = {"files": _files, "command": _command}

# type -> module with `build(service, options: ConnectorOptions, app) -> Connector`.
PROTOCOL_MODULES: dict[str, str] = {
    "imap": "app.connectors.imap",
    "dav": "app.connectors.dav",
    "matrix": "app.connectors.matrix",
    "http": "app.connectors.http",
}


def _protocol_factory(module_name: str) -> Factory:
    def factory(service: Service, options: dict[str, Any], app: Flask) -> Connector:
        module = importlib.import_module(module_name)
        reader = ConnectorOptions(
            options,
            f"services.{service.slug}.connector",
            base_dir=Path(app.instance_path).parent,
        )
        connector: Connector = module.build(service, reader, app)
        reader.finish()
        return connector

    return factory


def connector_types() -> dict[str, Factory]:
    """Built-in connector types and those of the installed plugins."""
    found: dict[str, Factory] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found[point.name] = point.load()
    found.update(BUILT_IN)  # a plugin cannot replace a built-in
    for kind, module_name in PROTOCOL_MODULES.items():
        if importlib.util.find_spec(module_name) is not None:
            found[kind] = _protocol_factory(module_name)
    return found


def build_connector(service: Service, app: Flask, types: dict[str, Factory]) -> Connector:
    options = dict(service.connector or {})
    where = f"services.{service.slug}.connector"
    kind = options.pop("type", None)
    if not isinstance(kind, str) or not kind:
        raise ProfileError(f'{where}.type is missing: say which connector, e.g. type = "files".')
    factory = types.get(kind)
    if factory is None:
        known = ", ".join(sorted(types))
        raise ProfileError(f"{where}.type: unknown connector {kind!r} (known: {known}).")
    try:
        connector = factory(service, options, app)
    except (ValueError, TypeError) as exc:
        raise ProfileError(f"{where}: {exc}") from exc
    if getattr(connector, "slug", None) != service.slug:
        raise ProfileError(f"{where}: the {kind!r} connector must use the slug {service.slug!r}.")
    return connector


def init_app(app: Flask, profile: HosterProfile) -> None:
    """The core connectors (panel, directory) and one per service of hoster.toml."""
    register_core_connector(app, PanelConnector(app))
    deny = frozenset(str(a) for a in app.config["EXPORT_DIRECTORY_DENY"])
    register_core_connector(
        app, DirectoryConnector(lambda: app.extensions["panel_directory"], deny)
    )
    wanted = [s for s in profile.services if s.connector]
    types = connector_types() if wanted else {}
    for service in wanted:
        register_connector(app, build_connector(service, app, types))
