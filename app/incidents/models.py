"""Incident journal tables: incidents, the services they touch, and their append-only timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow

# "maintenance" is planned work with a window; the others say how bad an incident is.
IMPACTS = ("none", "minor", "major", "critical", "maintenance")
INCIDENT_IMPACTS = ("none", "minor", "major", "critical")
# Incidents go investigating → identified → monitoring → resolved (in any order until resolved);
# planned maintenance goes scheduled → in_progress → monitoring → resolved ("completed").
STATUSES = ("scheduled", "investigating", "identified", "in_progress", "monitoring", "resolved")
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
MAINTENANCE_STATUSES = ("scheduled", "in_progress", "monitoring", "resolved")
VISIBILITIES = ("public", "users")
SOURCES = ("staff", "cli")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint(_in("impact", IMPACTS), name="impact_known"),
        CheckConstraint(_in("status", STATUSES), name="status_known"),
        CheckConstraint(_in("visibility", VISIBILITIES), name="visibility_known"),
        CheckConstraint("length(trim(title)) > 0", name="title_not_empty"),
        CheckConstraint(
            "(impact = 'maintenance' AND scheduled_start IS NOT NULL"
            " AND scheduled_end IS NOT NULL AND scheduled_end > scheduled_start)"
            " OR (impact <> 'maintenance' AND scheduled_start IS NULL AND scheduled_end IS NULL)",
            name="maintenance_window",
        ),
        CheckConstraint(
            "status NOT IN ('scheduled', 'in_progress') OR impact = 'maintenance'",
            name="planned_statuses",
        ),
        CheckConstraint(
            "status NOT IN ('investigating', 'identified') OR impact <> 'maintenance'",
            name="incident_statuses",
        ),
        CheckConstraint(
            "(status = 'resolved' AND resolved_at IS NOT NULL)"
            " OR (status <> 'resolved' AND resolved_at IS NULL)",
            name="resolved_has_time",
        ),
        CheckConstraint("started_at IS NOT NULL OR status = 'scheduled'", name="started_known"),
        CheckConstraint(
            "resolved_at IS NULL OR resolved_at >= started_at", name="resolved_after_start"
        ),
        Index("ix_incident_status_started_at", "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    impact: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(8), default="public")
    # Null only while a maintenance is still waiting for its window.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    postmortem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped by every change (details or a new update): pages and feeds key their caches on it.
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))

    services: Mapped[list[IncidentService]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="IncidentService.service_slug",
        lazy="raise_on_sql",
    )
    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident",
        order_by="(IncidentUpdate.created_at, IncidentUpdate.id)",
        lazy="raise_on_sql",
    )

    @property
    def is_maintenance(self) -> bool:
        return self.impact == "maintenance"

    @property
    def service_slugs(self) -> list[str]:
        return [s.service_slug for s in self.services]

    @property
    def effective_start(self) -> datetime | None:
        """When it began, or for planned work not yet started, when it is planned to."""
        return self.started_at or self.scheduled_start

    def __repr__(self) -> str:
        return f"<Incident {self.id} {self.status}>"


class IncidentService(Base):
    """One affected service of an incident, by its slug in hoster.toml."""

    __tablename__ = "incident_service"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    service_slug: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)

    incident: Mapped[Incident] = relationship(back_populates="services")


class IncidentUpdate(Base):
    """One entry of the timeline. Never changed once written: a correction is a new entry."""

    __tablename__ = "incident_update"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status_known"),
        CheckConstraint(_in("source", SOURCES), name="source_known"),
        CheckConstraint("body IS NULL OR length(trim(body)) > 0", name="body_not_blank"),
        CheckConstraint("corrects_id IS NULL OR corrects_id <> id", name="not_self_correction"),
        Index("ix_incident_update_incident_id_created_at", "incident_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The incident's status once this entry was posted.
    status: Mapped[str] = mapped_column(String(16))
    # Markdown; null for a bare status change (the page then says what changed).
    body: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(8), default="staff")
    corrects_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_update.id", ondelete="SET NULL")
    )

    incident: Mapped[Incident] = relationship(back_populates="updates")

    def __repr__(self) -> str:
        return f"<IncidentUpdate {self.id} of {self.incident_id}>"


class TimelineIsAppendOnly(Exception):
    """Something tried to change or delete a posted update."""


@event.listens_for(IncidentUpdate, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: IncidentUpdate) -> None:
    raise TimelineIsAppendOnly(f"update {target.id} was posted; add a correction instead")


@event.listens_for(IncidentUpdate, "before_delete")
def _refuse_delete(_mapper: Any, _connection: Any, target: IncidentUpdate) -> None:
    raise TimelineIsAppendOnly(f"update {target.id} was posted; it stays in the timeline")
