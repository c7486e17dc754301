"""Per-service export/delete connectors (DESIGN.md section 7)."""

from app.connectors.base import (
    ArchiveEntry,
    Connector,
    ConnectorError,
    DataItem,
    PanelSection,
    StepResult,
    panel_sections,
    register_connector,
    register_panel_section,
    service_connectors,
)

__all__ = [
    "ArchiveEntry",
    "Connector",
    "ConnectorError",
    "DataItem",
    "PanelSection",
    "StepResult",
    "panel_sections",
    "register_connector",
    "register_panel_section",
    "service_connectors",
]
