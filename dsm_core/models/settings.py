"""Singleton settings rows (activity, network, notification, virtual media, OpenManage) and notification log.

Each settings table holds exactly one row whose id is SINGLETON_ID, so two processes that create it at
once collide on the primary key instead of leaving two rows behind.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.db.types import JSONType
from dsm_core.models.base import (
    BACKOFF_TYPES,
    LOG_LEVELS,
    NOTIFICATION_STATUSES,
    SEVERITIES,
    SHARE_TYPES,
    TLS_VERIFY_MODES,
    created_at,
    enum_field,
    fk,
    json_field,
    pk,
    timestamp,
    updated_at,
)

SINGLETON_ID = uuid.UUID(int=1)


class ActivitySettings(SQLModel, table=True):
    __tablename__ = "activity_settings"
    id: uuid.UUID = pk()
    sealing_public_key: str | None = None
    """The worker's X25519 public key (base64). Replaces the specification's symmetric encryption_key:
    the TUI and CLI can seal with it but never unseal."""
    log_level: str = enum_field("activity_log_level", LOG_LEVELS, "all")
    log_retention_days: int = Field(default=30, nullable=False)
    audit_retention_days: int = Field(default=0, nullable=False)
    """Audit rows older than this many days are deleted (through dsm_retention on PostgreSQL); 0 keeps them."""
    job_retention_days: int = Field(default=90, nullable=False)
    auto_cleanup_enabled: bool = Field(default=True, nullable=False)
    last_cleanup_at: datetime | None = timestamp()
    job_auto_cleanup_enabled: bool = Field(default=True, nullable=False)
    job_last_cleanup_at: datetime | None = timestamp()
    auto_cancel_stale_jobs: bool = Field(default=True, nullable=False)
    stale_pending_hours: int = Field(default=24, nullable=False)
    stale_running_hours: int = Field(default=48, nullable=False)
    keep_statistics: bool = Field(default=True, nullable=False)
    statistics_retention_days: int = Field(default=365, nullable=False)
    alert_on_failures: bool = Field(default=True, nullable=False)
    alert_on_slow_commands: bool = Field(default=False, nullable=False)
    slow_command_threshold_ms: int = Field(default=5000, nullable=False)
    max_request_body_kb: int = Field(default=100, nullable=False)
    max_response_body_kb: int = Field(default=100, nullable=False)
    max_read_body_kb: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    """How much of a successful read's response the activity log keeps (0, the default: none). Reads are most of
    the calls and what they said is stored in the inventory; changes and failures keep their full bodies."""
    idrac_max_concurrent: int = Field(default=2, nullable=False)
    """Concurrent requests per iDRAC (DESIGN §4: default 2; iDRACs are small)."""
    global_max_concurrent: int = Field(default=64, nullable=False)
    """Concurrent iDRAC requests per worker, across all iDRACs."""
    idrac_request_delay_ms: int = Field(default=0, nullable=False)
    discovery_max_threads: int = Field(default=64, nullable=False)
    pause_idrac_operations: bool = Field(default=False, nullable=False)
    scp_backup_before_change: bool = Field(default=True, nullable=False, sa_column_kwargs={"server_default": sa.true()})
    """Take an SCP export before every BIOS write, persistent boot change and firmware update: the undo."""
    scp_job_timeout_minutes: int = Field(default=60, nullable=False, sa_column_kwargs={"server_default": "60"})
    """Budget of an SCP export/import job on the iDRAC (an import can sit at 99% for a long time)."""
    package_dirs: str | None = Field(default=None, max_length=4000)
    """Comma-separated directories on the worker's host that a job may name files in (DUPs to push, a mounted
    repository's catalog); none by default. An admin's setting: see dsm_core/package_files.py."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class NetworkSettings(SQLModel, table=True):
    __tablename__ = "network_settings"
    id: uuid.UUID = pk()
    connection_timeout_seconds: int = Field(default=30, nullable=False)
    read_timeout_seconds: int = Field(default=60, nullable=False)
    operation_timeout_seconds: int = Field(default=300, nullable=False)
    max_retry_attempts: int = Field(default=3, nullable=False)
    retry_delay_seconds: int = Field(default=2, nullable=False)
    retry_backoff_type: str = enum_field("retry_backoff_type", BACKOFF_TYPES, "exponential")
    max_concurrent_connections: int = Field(default=5, nullable=False)
    max_requests_per_minute: int = Field(default=60, nullable=False)
    require_prereq_validation: bool = Field(default=True, nullable=False)
    monitor_latency: bool = Field(default=True, nullable=False)
    latency_alert_threshold_ms: int = Field(default=1000, nullable=False)
    max_response_body_mb: int = Field(default=16, nullable=False, sa_column_kwargs={"server_default": "16"})
    """Cap on one iDRAC/vCenter/OME response body, after decompression: a hostile device cannot exhaust us."""
    allow_loopback_devices: bool = Field(default=False, nullable=False,
                                         sa_column_kwargs={"server_default": sa.false()})
    """Accept devices on loopback addresses from outside sources (OpenManage): only for a lab or a simulator on
    this host; a real appliance that lists 127.0.0.1 or ::1 is steering DSM at the worker's own host."""
    max_sync_devices: int = Field(default=10_000, nullable=False, sa_column_kwargs={"server_default": "10000"})
    """The most server devices one OpenManage sync may list: a sync that lists more fails, changing nothing."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class NotificationSettings(SQLModel, table=True):
    __tablename__ = "notification_settings"
    id: uuid.UUID = pk()
    smtp_host: str | None = Field(default=None, max_length=255)
    smtp_port: int = Field(default=587, nullable=False)
    smtp_user: str | None = Field(default=None, max_length=200)
    smtp_password_sealed: str | None = None
    smtp_from_email: str | None = Field(default=None, max_length=255)
    teams_webhook_url_sealed: str | None = None
    """The webhook URL carries its token: sealed for the worker, as passwords are."""
    teams_mention_users: str | None = None
    notify_on_job_started: bool = Field(default=False, nullable=False)
    notify_on_job_complete: bool = Field(default=True, nullable=False)
    notify_on_job_failed: bool = Field(default=True, nullable=False)
    critical_job_types: list[str] = json_field(
        nullable=False, default_factory=lambda: ["firmware_update", "full_server_update"])
    mention_on_critical_failures: bool = Field(default=True, nullable=False)
    notify_on_unsafe_cluster: bool = Field(default=True, nullable=False)
    notify_on_cluster_warning: bool = Field(default=False, nullable=False)
    notify_on_cluster_status_change: bool = Field(default=True, nullable=False)
    smtp_starttls: bool = Field(default=True, nullable=False, sa_column_kwargs={"server_default": sa.true()})
    smtp_recipients: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False,
                                       sa_column_kwargs={"server_default": "[]"})
    syslog_host: str | None = Field(default=None, max_length=255)
    syslog_port: int = Field(default=514, nullable=False, sa_column_kwargs={"server_default": "514"})
    notify_on_window_events: bool = Field(default=True, nullable=False, sa_column_kwargs={"server_default": sa.true()})
    max_attempts: int = Field(default=5, nullable=False, sa_column_kwargs={"server_default": "5"})
    """Delivery attempts per notification (backoff 30 s, 1 m, 2 m, … capped at 30 m) before it is failed."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class NotificationLog(SQLModel, table=True):
    __tablename__ = "notification_logs"
    id: uuid.UUID = pk()
    notification_type: str = Field(max_length=64, nullable=False)
    job_id: uuid.UUID | None = fk("jobs.id")
    status: str = enum_field("notification_status", NOTIFICATION_STATUSES, None)
    delivery_details: dict[str, Any] | None = json_field()
    error_message: str | None = None
    severity: str = enum_field("severity", SEVERITIES, "normal")
    is_test: bool = Field(default=False, nullable=False)
    created_at: datetime = created_at()


class VirtualMediaSettings(SQLModel, table=True):
    __tablename__ = "virtual_media_settings"
    id: uuid.UUID = pk()
    share_type: str = enum_field("share_type", SHARE_TYPES, "nfs")
    host: str | None = Field(default=None, max_length=255)
    """Share server; None until an admin sets it (the specification's NOT NULL needs a value at birth)."""
    export_path: str | None = None
    iso_path: str | None = None
    use_auth: bool = Field(default=False, nullable=False)
    username: str | None = Field(default=None, max_length=100)
    password_sealed: str | None = None
    notes: str | None = None
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class OpenmanageSettings(SQLModel, table=True):
    __tablename__ = "openmanage_settings"
    id: uuid.UUID = pk()
    host: str | None = Field(default=None, max_length=255)
    port: int = Field(default=443, nullable=False)
    username: str | None = Field(default=None, max_length=200)
    password_sealed: str | None = None
    tls_verify_mode: str = enum_field("tls_verify_mode", TLS_VERIFY_MODES, "pin")
    tls_fingerprint_sha256: str | None = Field(default=None, max_length=95)
    sync_enabled: bool = Field(default=False, nullable=False)
    last_sync: datetime | None = timestamp()
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
