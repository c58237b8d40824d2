"""The activity log: every Redfish, vCenter and OME call the worker makes, one row each."""

from __future__ import annotations

import uuid
from datetime import datetime
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
    request_body: Any | None = json_field()
    response_body: Any | None = json_field()
    status_code: int | None = None
    response_time_ms: int | None = None
    success: bool = Field(default=True, nullable=False)
    error_message: str | None = None
    source: str | None = Field(default=None, max_length=64)
    """Who made the call: "worker:<worker id>" for the worker."""
    initiated_by: uuid.UUID | None = fk("users.id", index=False)
    created_at: datetime = created_at()
