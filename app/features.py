"""The start-up contract: each feature declares itself once, and the factory walks the list.

A feature package (app/support/, app/deletion/...) describes everything it adds to the
panel in one `Feature` value, kept in its `feature.py`: its blueprints, its settings and
their checks, its CLI commands, its worker tasks, its lines on the staff home, its part of
the export and deletion (panel sections), its figures on /stats, its audit labels and what
it shows on the account page. `create_app` installs the features of `FEATURES`
(app/__init__.py) in order, with `install()`; nothing else registers anything at start-up.

This module imports no feature, so that every feature can import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import click
from flask import Blueprint, Flask

from app import audit, tasks
from app.accounts.attention import (
    AttentionProbe,
    AttentionProvider,
    OverviewProvider,
    register_attention,
    register_overview,
)
from app.staff import StaffQueue, register_queue
from app.transparency.statistics import Statistic, register_statistic

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.accounts.models import Account
    from app.connectors.base import ArchiveEntry, DataItem


class PanelSection(Protocol):
    """A feature's share of the panel's own data about an account, exported and deleted by
    the built-in `panel` connector (app/connectors/panel.py), which knows no feature itself.

    Entry paths are relative to `panel/<name>/` (a path already starting with `panel/` is
    kept as it is). `delete` runs inside the deletion's transaction and never commits.
    """

    name: str  # folder under panel/ in the archive, e.g. "tickets"

    def inventory(self, session: Session, account: Account) -> list[DataItem]: ...

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]: ...

    def delete(self, session: Session, account: Account) -> None: ...


def register_panel_section(app: Flask, section: PanelSection) -> None:
    app.extensions.setdefault("panel_sections", []).append(section)


def panel_sections(app: Flask) -> list[PanelSection]:
    sections: list[PanelSection] = app.extensions.get("panel_sections", [])
    return sections


@dataclass(frozen=True)
class WorkerTask:
    """A function the worker runs by name (`tasks.enqueue`), or on a schedule when set."""

    name: str
    function: tasks.TaskFunction
    schedule: tasks.crontab | None = None
    retries: int = 0
    retry_delay: int = 0


def _no_sections(_app: Flask) -> Iterable[PanelSection]:
    return ()


@dataclass(frozen=True)
class Feature:
    """Everything one feature adds to the panel, installed in this order by install()."""

    name: str
    # Settings and their defaults (PANEL_<KEY> overrides them), set before `init` runs.
    settings: Mapping[str, Any] = field(default_factory=dict)
    # Checks the settings (raising config.ConfigError) and binds what needs the app:
    # extensions, request hooks, template globals. Runs before the blueprints are registered.
    init: Callable[[Flask], None] | None = None
    blueprints: tuple[Blueprint, ...] = ()
    commands: tuple[click.Command, ...] = ()
    tasks: tuple[WorkerTask, ...] = ()
    staff_queues: tuple[StaffQueue, ...] = ()
    # Built with the app: a section may need a setting (the attachments' folder).
    panel_sections: Callable[[Flask], Iterable[PanelSection]] = _no_sections
    statistics: tuple[Statistic, ...] = ()
    audit_labels: Mapping[str, Any] = field(default_factory=dict)
    # The account page: what waits for the person, and the feature's own card.
    # A provider alone, or with its probe (an EXISTS clause: app/accounts/attention.py), so
    # that the account page asks it only when the one statement of every probe finds something.
    attention: tuple[AttentionProvider | tuple[AttentionProvider, AttentionProbe], ...] = ()
    overview: tuple[OverviewProvider, ...] = ()


def install(app: Flask, feature: Feature) -> None:
    """Add one feature to the app; called by create_app for each of FEATURES."""
    for key, value in feature.settings.items():
        app.config.setdefault(key, value)
    if feature.init is not None:
        feature.init(app)
    for blueprint in feature.blueprints:
        app.register_blueprint(blueprint)
    for command in feature.commands:
        app.cli.add_command(command)
    for task in feature.tasks:
        if task.schedule is None:
            tasks.register_task(
                app, task.name, task.function, retries=task.retries, retry_delay=task.retry_delay
            )
        else:
            tasks.register_periodic_task(app, task.name, task.function, task.schedule)
    for entry in feature.attention:
        if isinstance(entry, tuple):
            register_attention(app, *entry)
        else:
            register_attention(app, entry)
    for overview in feature.overview:
        register_overview(app, overview)
    for section in feature.panel_sections(app):
        register_panel_section(app, section)
    for queue in feature.staff_queues:
        register_queue(app, queue)
    for statistic in feature.statistics:
        register_statistic(app, statistic)
    audit.register_labels(dict(feature.audit_labels))
