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
    RECURRENCE_TYPES,
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
    created_by: uuid.UUID | None = fk("users.id")
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
