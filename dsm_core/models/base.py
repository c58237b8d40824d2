"""Shared column helpers and the enumerations stored as checked strings.

Every table: UUID (v7) key, timezone-aware UTC timestamps, JSON columns that are JSONB on PostgreSQL.
Constraint names follow one convention so that Alembic can drop them by name on both databases.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlmodel import Field, SQLModel

from dsm_core.db.types import JSONType, UTCDateTime, checked_enum
from dsm_core.ids import uuid7
from dsm_core.timeutil import utcnow

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "operator", "viewer")
JOB_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
CONNECTION_STATUSES = ("connected", "failed", "unknown")
TLS_VERIFY_MODES = ("pin", "ca", "off")
CREDENTIAL_TRUST = ("first-use", "verified")
GROUP_TYPES = ("manual", "vcenter_cluster", "application", "rack")
STEP_STATUSES = ("pending", "running", "completed", "failed", "skipped")
MAINTENANCE_TYPES = ("firmware_update", "rolling_cluster_update", "patch", "hardware", "bios_update", "health_check")
WINDOW_STATUSES = ("planned", "in_progress", "completed", "cancelled", "failed", "skipped", "rejected")
OUTBOX_STATUSES = ("pending", "sent", "failed")
RECURRENCE_TYPES = ("one_time", "recurring")
OPERATION_TYPES = ("idrac_api", "vcenter_api", "openmanage_api")
LOG_LEVELS = ("all", "errors_only", "none")
BACKOFF_TYPES = ("linear", "exponential")
NOTIFICATION_STATUSES = ("sent", "failed")
SEVERITIES = ("normal", "warning", "critical")
SNAPSHOT_TYPES = ("current", "pending", "baseline")
MEDIA_TYPES = ("CD", "DVD", "Floppy", "USBStick")
SHARE_TYPES = ("nfs", "cifs", "http", "https")
WORKER_STATUSES = ("running", "draining", "stopped")


def pk() -> Any:
    return Field(default_factory=uuid7, primary_key=True)


def created_at() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False,
                 sa_column_kwargs={"onupdate": utcnow})


def timestamp(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


OnDelete = Literal["CASCADE", "SET NULL", "RESTRICT"]


def fk(target: str, *, nullable: bool = True, ondelete: OnDelete = "SET NULL", index: bool = True) -> Any:
    if nullable:
        return Field(default=None, foreign_key=target, nullable=True, ondelete=ondelete, index=index)
    return Field(foreign_key=target, nullable=False, ondelete=ondelete, index=index)


def json_field(*, nullable: bool = True, default_factory: Any = None) -> Any:
    if default_factory is not None:
        return Field(default_factory=default_factory, sa_type=JSONType, nullable=nullable)
    return Field(default=None, sa_type=JSONType, nullable=nullable)


def enum_field(name: str, values: tuple[str, ...], default: str | None, *, nullable: bool = False,
               index: bool = False) -> Any:
    return Field(default=default, sa_type=checked_enum(name, values), nullable=nullable, index=index)


__all__ = ["SQLModel", "uuid"]
