"""Maintenance windows: planned work with approval, recurrence and a safety snapshot."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.db.types import UTCDateTime
from dsm_core.models.base import (
    MAINTENANCE_TYPES,
    OUTBOX_STATUSES,
    RECURRENCE_TYPES,
    SEVERITIES,
    WINDOW_STATUSES,
    created_at,
    enum_field,
    fk,
    json_field,
    pk,
    timestamp,
    updated_at,
)


class MaintenanceWindow(SQLModel, table=True):
    __tablename__ = "maintenance_windows"
    __table_args__ = (
        sa.CheckConstraint("planned_end > planned_start", name="end_after_start"),
        sa.Index("ix_maintenance_windows_status_planned_start", "status", "planned_start"),
    )
    id: uuid.UUID = pk()
    title: str = Field(max_length=200, nullable=False)
    description: str | None = None
    maintenance_type: str = enum_field("maintenance_type", MAINTENANCE_TYPES, None)
    planned_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    planned_end: datetime = Field(sa_type=UTCDateTime, nullable=False)
    timezone: str = Field(default="UTC", max_length=64, nullable=False)
    """IANA zone in which the recurrence pattern is read (02:00 local stays 02:00 across DST)."""
    status: str = enum_field("window_status", WINDOW_STATUSES, "planned")
    server_ids: list[str] = json_field(nullable=False, default_factory=list)
    cluster_ids: list[str] = json_field(nullable=False, default_factory=list)
    server_group_ids: list[str] = json_field(nullable=False, default_factory=list)
    job_ids: list[str] = json_field(nullable=False, default_factory=list)
    requires_approval: bool = Field(default=False, nullable=False)
    four_eyes: bool = Field(default=False, nullable=False)
    """When set, the approver may not be the creator."""
    approved_by: uuid.UUID | None = fk("users.id")
    approved_at: datetime | None = timestamp()
    auto_execute: bool = Field(default=True, nullable=False)
    details: dict[str, Any] = json_field(nullable=False, default_factory=dict)
    credential_set_ids: list[str] = json_field(nullable=False, default_factory=list)
    recurrence_enabled: bool = Field(default=False, nullable=False)
    recurrence_type: str | None = enum_field("recurrence_type", RECURRENCE_TYPES, None, nullable=True)
    recurrence_pattern: str | None = Field(default=None, max_length=100)
    last_executed_at: datetime | None = timestamp()
    notify_before_hours: int = Field(default=24, nullable=False)
    notification_sent: bool = Field(default=False, nullable=False)
    safety_check_snapshot: dict[str, Any] | None = json_field()
    started_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    phase: str | None = Field(default=None, max_length=16)
    """Where a running window is: ``safety`` (its checks run), ``jobs`` (its work runs), ``hold`` (a patch or
    hardware window: people work, DSM keeps the calendar), None when it is not running."""
    status_reason: str | None = None
    """Why the window is where it is, in words (not approved by its start, unsafe with the reasons, a job failed)."""
    series_id: uuid.UUID | None = Field(default=None, index=True)
    """The first window of a recurring series; every instance carries it, so the next is spawned exactly once."""
    approval: dict[str, Any] | None = json_field()
    """What the approver saw and accepted: the plan's hosts and digest, the latest safety verdicts."""
    rejected_by: uuid.UUID | None = fk("users.id")
    rejected_at: datetime | None = timestamp()
    rejection_reason: str | None = None
    created_by: uuid.UUID | None = fk("users.id")
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class MaintenanceSettings(SQLModel, table=True):
    """How windows are approved (one row, SINGLETON_ID)."""

    __tablename__ = "maintenance_settings"
    id: uuid.UUID = pk()
    four_eyes: bool = Field(default=True, nullable=False)
    """The creator of a window may not approve it."""
    operators_may_approve: bool = Field(default=True, nullable=False)
    """Operators approve windows (DESIGN.md §3 Roles: "approve if allowed by settings"); off: admins only."""
    production_clusters: str = Field(default="*", max_length=1000, nullable=False)
    """Comma-separated glob patterns of cluster names whose approval wants the name typed (default: all)."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class SchedulerState(SQLModel, table=True):
    """The scheduler's cursors and who holds it, by name: kept in the database, so a worker that takes the
    scheduler over carries on where the last one stopped (no event sent twice, none skipped)."""

    __tablename__ = "scheduler_state"
    name: str = Field(primary_key=True, max_length=64)
    value: dict[str, Any] = json_field(nullable=False, default_factory=dict)
    updated_at: datetime = updated_at()


class NotificationOutbox(SQLModel, table=True):
    """A notification waiting to be delivered. Written in the same transaction as the change it tells of; the
    worker's notifier delivers it with retries, each attempt a notification_logs row."""

    __tablename__ = "notification_outbox"
    __table_args__ = (sa.Index("ix_notification_outbox_status_next_attempt_at", "status", "next_attempt_at"),)
    id: uuid.UUID = pk()
    event: str = Field(max_length=64, nullable=False)
    subject: str = Field(max_length=300, nullable=False)
    body: str = Field(nullable=False)
    severity: str = enum_field("outbox_severity", SEVERITIES, "normal")
    mention: bool = Field(default=False, nullable=False)
    is_test: bool = Field(default=False, nullable=False)
    job_id: uuid.UUID | None = fk("jobs.id")
    window_id: uuid.UUID | None = fk("maintenance_windows.id", ondelete="CASCADE")
    dedupe_key: str | None = Field(default=None, max_length=255, unique=True)
    """Rate limit: one row per key (one alert per iDRAC, kind and hour), so a bad iDRAC sends one alert."""
    status: str = enum_field("outbox_status", OUTBOX_STATUSES, "pending")
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime = created_at()
    last_error: str | None = None
    delivered: dict[str, Any] | None = json_field()
    """Per channel: sent or the last error (a channel that delivered is not sent to again on a retry)."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
