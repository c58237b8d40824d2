"""The job queue: jobs, one task per target, and the heartbeat each worker writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import (
    JOB_STATUSES,
    WORKER_STATUSES,
    created_at,
    enum_field,
    fk,
    json_field,
    pk,
    timestamp,
    updated_at,
)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_status_created_at", "status", "created_at"),
        sa.Index("ix_jobs_updated_at", "updated_at"),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
    )
    id: uuid.UUID = pk()
    job_type: str = Field(max_length=64, nullable=False)
    """A key of dsm_core.jobtypes.JOB_TYPE_SPECS: checked when the job is created, not by the database, so that
    a new type needs no migration."""
    status: str = enum_field("job_status", JOB_STATUSES, "pending")
    target_scope: dict[str, Any] | None = json_field()
    """{"servers": [ids], "groups": [ids], "clusters": [names]}: validated when the job is created."""
    details: dict[str, Any] | None = json_field()
    created_by: uuid.UUID | None = fk("users.id")
    """None for jobs the worker's scheduler created (it acts as the system)."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
    started_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    schedule_at: datetime | None = timestamp()
    parent_job_id: uuid.UUID | None = fk("jobs.id", ondelete="CASCADE")
    component_order: int | None = None
    credential_set_ids: list[str] | None = json_field()
    firmware_source: str | None = Field(default=None, max_length=32)
    dell_catalog_url: str | None = None
    """A catalog on a local repository; DSM never defaults to the internet."""
    auto_select_latest: bool = Field(default=True, nullable=False)
    progress: int = Field(default=0, nullable=False)
    error: str | None = None
    cancel_requested: bool = Field(default=False, nullable=False)
    claimed_by: uuid.UUID | None = None
    """The worker_heartbeats id of the worker that holds the lease."""
    lease_expires_at: datetime | None = timestamp()
    attempts: int = Field(default=0, nullable=False)


class JobTask(SQLModel, table=True):
    __tablename__ = "job_tasks"
    __table_args__ = (sa.Index("ix_job_tasks_job_id_status", "job_id", "status"),)
    id: uuid.UUID = pk()
    job_id: uuid.UUID = fk("jobs.id", nullable=False, ondelete="CASCADE", index=False)
    server_id: uuid.UUID | None = fk("servers.id")
    vcenter_host_id: uuid.UUID | None = fk("vcenter_hosts.id")
    target: str | None = Field(default=None, max_length=255)
    """What the task acts on when it is not a known server (an address being discovered)."""
    status: str = enum_field("job_status", JOB_STATUSES, "pending")
    progress: int = Field(default=0, nullable=False)
    attempts: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    """How many times a worker started this task (a task is resumed, never repeated, once completed)."""
    log: str | None = None
    error: str | None = None
    checkpoint: dict[str, Any] | None = json_field()
    """What the task already sent to the device (e.g. {"sent": "PowerCycle"}): a resumed or un-paused task
    checks the device's state instead of sending the change again."""
    started_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class WorkerHeartbeat(SQLModel, table=True):
    """Written by each worker every few seconds; the TUI shows "worker down" when the beat is stale."""

    __tablename__ = "worker_heartbeats"
    __table_args__ = (sa.Index("ix_worker_heartbeats_last_beat_at", "last_beat_at"),)
    id: uuid.UUID = pk()
    hostname: str = Field(max_length=255, nullable=False)
    pid: int = Field(nullable=False)
    version: str = Field(max_length=32, nullable=False)
    status: str = enum_field("worker_status", WORKER_STATUSES, "running")
    started_at: datetime = created_at()
    last_beat_at: datetime = created_at()
    running_jobs: list[str] = json_field(nullable=False, default_factory=list)
    max_concurrent_jobs: int = Field(default=1, nullable=False)
    handled_types: list[str] | None = json_field()
    """The job types this worker runs: a pending job no running worker handles says so."""
    activity_writer: dict[str, Any] | None = json_field()
    """The activity log writer's state (dsm_worker.activity.ActivityWriter.status): `dsm doctor` reads it."""
