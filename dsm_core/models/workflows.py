"""Workflow steps: one row per step per host, so a replacement worker can resume from the records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import (
    STEP_STATUSES,
    created_at,
    enum_field,
    fk,
    json_field,
    pk,
    timestamp,
    updated_at,
)


class WorkflowExecution(SQLModel, table=True):
    __tablename__ = "workflow_executions"
    __table_args__ = (sa.Index("ix_workflow_executions_job_id_step_number", "job_id", "step_number"),)
    id: uuid.UUID = pk()
    job_id: uuid.UUID = fk("jobs.id", nullable=False, ondelete="CASCADE", index=False)
    workflow_type: str = Field(max_length=64, nullable=False)
    """The workflow's name (firmware_update, rolling_cluster_update, ...), as its job type declares it."""
    step_number: int = Field(nullable=False)
    """The step's place in its workflow; ``attempt`` counts the runs of the same step (a retry runs it again)."""
    attempt: int = Field(default=1, nullable=False)
    step_name: str = Field(max_length=64, nullable=False)
    step_status: str = enum_field("step_status", STEP_STATUSES, "pending")
    step_details: dict[str, Any] | None = json_field()
    step_error: str | None = None
    server_id: uuid.UUID | None = fk("servers.id")
    host_id: uuid.UUID | None = fk("vcenter_hosts.id")
    cluster_id: str | None = Field(default=None, max_length=255)
    step_started_at: datetime | None = timestamp()
    step_completed_at: datetime | None = timestamp()
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
