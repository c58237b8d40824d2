"""Stored safety verdicts for clusters and server groups, and the schedule that produces them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import created_at, fk, json_field, pk, timestamp, updated_at


class ScheduledSafetyCheck(SQLModel, table=True):
    __tablename__ = "scheduled_safety_checks"
    id: uuid.UUID = pk()
    enabled: bool = Field(default=False, nullable=False)
    schedule_cron: str = Field(default="0 */6 * * *", max_length=100, nullable=False)
    check_all_clusters: bool = Field(default=True, nullable=False)
    specific_clusters: list[str] = json_field(nullable=False, default_factory=list)
    check_all_groups: bool = Field(default=True, nullable=False)
    min_required_hosts: int = Field(default=2, nullable=False)
    notify_on_unsafe: bool = Field(default=True, nullable=False)
    notify_on_warnings: bool = Field(default=False, nullable=False)
    notify_on_safe_to_unsafe_change: bool = Field(default=True, nullable=False)
    last_status: str | None = Field(default=None, max_length=32)
    last_run_at: datetime | None = timestamp()
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class ClusterSafetyCheck(SQLModel, table=True):
    __tablename__ = "cluster_safety_checks"
    __table_args__ = (sa.Index("ix_cluster_safety_checks_cluster_id_check_timestamp",
                               "cluster_id", "check_timestamp"),
                      # the calendar reads a month of every cluster's checks
                      sa.Index("ix_cluster_safety_checks_check_timestamp", "check_timestamp"))
    id: uuid.UUID = pk()
    cluster_id: str = Field(max_length=255, nullable=False)
    """The cluster's name in its vCenter."""
    vcenter_id: uuid.UUID | None = fk("vcenters.id", ondelete="CASCADE")
    job_id: uuid.UUID | None = fk("jobs.id")
    check_timestamp: datetime = created_at()
    total_hosts: int = Field(nullable=False)
    healthy_hosts: int = Field(nullable=False)
    min_required_hosts: int = Field(nullable=False)
    safe_to_proceed: bool = Field(nullable=False)
    details: dict[str, Any] | None = json_field()
    is_scheduled: bool = Field(default=False, nullable=False)
    scheduled_check_id: uuid.UUID | None = fk("scheduled_safety_checks.id")
    status_changed: bool = Field(default=False, nullable=False)
    previous_status: str | None = Field(default=None, max_length=32)
    created_at: datetime = created_at()


class ServerGroupSafetyCheck(SQLModel, table=True):
    __tablename__ = "server_group_safety_checks"
    __table_args__ = (sa.Index("ix_server_group_safety_checks_group_timestamp",
                               "server_group_id", "check_timestamp"),
                      sa.Index("ix_server_group_safety_checks_check_timestamp", "check_timestamp"))
    id: uuid.UUID = pk()
    server_group_id: uuid.UUID | None = fk("server_groups.id", ondelete="CASCADE", index=False)
    job_id: uuid.UUID | None = fk("jobs.id")
    check_timestamp: datetime = created_at()
    total_servers: int = Field(nullable=False)
    healthy_servers: int = Field(nullable=False)
    min_required_servers: int = Field(nullable=False)
    safe_to_proceed: bool = Field(nullable=False)
    details: dict[str, Any] | None = json_field()
    warnings: list[str] = json_field(nullable=False, default_factory=list)
    is_scheduled: bool = Field(default=False, nullable=False)
    scheduled_check_id: uuid.UUID | None = fk("scheduled_safety_checks.id")
    status_changed: bool = Field(default=False, nullable=False)
    previous_status: str | None = Field(default=None, max_length=32)
    created_at: datetime = created_at()
