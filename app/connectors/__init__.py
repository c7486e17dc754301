"""Per-service export/delete connectors (DESIGN.md section 7)."""

from app.connectors.base import (
    ArchiveEntry,
    Connector,
    ConnectorError,
    DataItem,
    ServiceUnreachable,
    Skipped,
    StepResult,
    core_connectors,
    export_connectors,
    register_connector,
    register_core_connector,
    safe_uid,
    service_connectors,
)

__all__ = [
    "ArchiveEntry",
    "Connector",
    "ConnectorError",
    "DataItem",
    "ServiceUnreachable",
    "Skipped",
    "StepResult",
    "core_connectors",
    "export_connectors",
    "register_connector",
    "register_core_connector",
    "safe_uid",
    "service_connectors",
]
