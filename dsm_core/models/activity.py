"""The activity log: every Redfish, vCenter and OME call the worker makes, one row each."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import OPERATION_TYPES, created_at, enum_field, fk, json_field, pk


class IdracCommand(SQLModel, table=True):
    __tablename__ = "idrac_commands"
    __table_args__ = (
        # Keyset pagination of the activity view walks (timestamp, id) backwards.
        sa.Index("ix_idrac_commands_timestamp_id", "timestamp", "id"),
        sa.Index("ix_idrac_commands_server_id_timestamp", "server_id", "timestamp"),
        sa.Index("ix_idrac_commands_job_id", "job_id"),
    )
    id: uuid.UUID = pk()
    timestamp: datetime = created_at()
    server_id: uuid.UUID | None = fk("servers.id", index=False)
    job_id: uuid.UUID | None = fk("jobs.id", index=False)
    task_id: uuid.UUID | None = fk("job_tasks.id", index=False)
    command_type: str = Field(max_length=10, nullable=False)
    """The HTTP method; ``SOAP`` for a vCenter call, whose method and object are in ``endpoint``."""
    operation_type: str = enum_field("operation_type", OPERATION_TYPES, "idrac_api")
    endpoint: str = Field(nullable=False)
    full_url: str = Field(nullable=False)
    request_headers: dict[str, Any] | None = json_field()
    """Rows written before 0009 only; newer rows keep headers and bodies compressed in ``bodies``."""
    request_body: Any | None = json_field()
    response_body: Any | None = json_field()
    bodies: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    """zlib of the redacted headers and bodies as JSON (dsm_core.redfish.redaction.pack): full (up to the
    max_*_body_kb caps) for changes and failures; for a successful read, the first ``max_read_body_kb`` (none by
    default: what a read said is stored in the inventory, and reads are most of the calls)."""
    status_code: int | None = None
    response_time_ms: int | None = None
    success: bool = Field(default=True, nullable=False)
    error_message: str | None = None
    source: str | None = Field(default=None, max_length=64)
    """Who made the call: "worker:<worker id>" for the worker."""
    initiated_by: uuid.UUID | None = fk("users.id", index=False)
    created_at: datetime = created_at()


class ActivityDailyStat(SQLModel, table=True):
    """Calls per server, API and day (UTC), kept ``statistics_retention_days`` after the calls themselves go."""

    __tablename__ = "activity_daily_stats"
    __table_args__ = (sa.UniqueConstraint("day", "server_key", "operation_type"),
                      sa.Index("ix_activity_daily_stats_server_id_day", "server_id", "day"))
    id: uuid.UUID = pk()
    day: date = Field(nullable=False, index=True)
    server_id: uuid.UUID | None = fk("servers.id", ondelete="CASCADE", index=False)
    server_key: str = Field(max_length=36, nullable=False)
    """The server id as text, or "-" for calls made for no server (vCenter, OME): unique keys ignore NULLs."""
    operation_type: str = Field(max_length=32, nullable=False)
    calls: int = Field(default=0, nullable=False)
    failures: int = Field(default=0, nullable=False)
    slow: int = Field(default=0, nullable=False)
    p50_ms: int | None = None
    p95_ms: int | None = None
    p99_ms: int | None = None
    max_ms: int | None = None
    updated_at: datetime = created_at()
