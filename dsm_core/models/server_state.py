"""What DSM has read from or done to a server over time: health, logs, boot, BIOS, SCP, virtual media."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import (
    MEDIA_TYPES,
    SNAPSHOT_TYPES,
    created_at,
    enum_field,
    fk,
    json_field,
    pk,
    timestamp,
    updated_at,
)


class ServerHealth(SQLModel, table=True):
    __tablename__ = "server_health"
    __table_args__ = (sa.Index("ix_server_health_server_id_timestamp", "server_id", "timestamp"),)
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE", index=False)
    job_id: uuid.UUID | None = fk("jobs.id")
    timestamp: datetime = created_at()
    overall_health: str | None = Field(default=None, max_length=32)
    power_state: str | None = Field(default=None, max_length=32)
    cpu_health: str | None = Field(default=None, max_length=32)
    memory_health: str | None = Field(default=None, max_length=32)
    storage_health: str | None = Field(default=None, max_length=32)
    fan_health: str | None = Field(default=None, max_length=32)
    psu_health: str | None = Field(default=None, max_length=32)
    network_health: str | None = Field(default=None, max_length=32)
    temperature_celsius: float | None = None
    sensors: dict[str, Any] | None = json_field()
    created_at: datetime = created_at()


class ServerEventLog(SQLModel, table=True):
    __tablename__ = "server_event_logs"
    __table_args__ = (
        # An iDRAC restarts its entry ids after a SEL clear: the id alone does not tell two entries apart.
        sa.UniqueConstraint("server_id", "log_type", "event_id", "timestamp"),
        sa.Index("ix_server_event_logs_server_id_timestamp", "server_id", "timestamp"),
    )
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE", index=False)
    log_type: str = Field(default="sel", max_length=16, nullable=False)
    """Which iDRAC log the entry came from: "sel" or "lclog"."""
    timestamp: datetime = created_at()
    event_id: str | None = Field(default=None, max_length=64)
    message_id: str | None = Field(default=None, max_length=32)
    severity: str | None = Field(default=None, max_length=16)
    message: str | None = None
    category: str | None = Field(default=None, max_length=64)
    sensor_type: str | None = Field(default=None, max_length=64)
    sensor_number: str | None = Field(default=None, max_length=32)
    raw_data: dict[str, Any] | None = json_field()
    created_at: datetime = created_at()


class ServerBootConfigHistory(SQLModel, table=True):
    __tablename__ = "server_boot_config_history"
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE")
    timestamp: datetime = created_at()
    boot_mode: str | None = Field(default=None, max_length=32)
    boot_source_override_enabled: str | None = Field(default=None, max_length=32)
    boot_source_override_target: str | None = Field(default=None, max_length=64)
    boot_order: list[Any] | None = json_field()
    """The columns above are the state after the change, as read back from the iDRAC."""
    previous: dict[str, Any] | None = json_field()
    """The state before the change (mode, override target/enabled, order), as read before sending it."""
    changed_by: uuid.UUID | None = fk("users.id")
    job_id: uuid.UUID | None = fk("jobs.id")
    created_at: datetime = created_at()


class BiosConfiguration(SQLModel, table=True):
    __tablename__ = "bios_configurations"
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE")
    group_id: uuid.UUID | None = fk("server_groups.id", ondelete="CASCADE")
    """Set on a group's baseline (a copy of the snapshot it was made from): every member is held to it."""
    snapshot_type: str = enum_field("snapshot_type", SNAPSHOT_TYPES, "current")
    bios_version: str | None = Field(default=None, max_length=64)
    attributes: dict[str, Any] = json_field(nullable=False, default_factory=dict)
    pending_attributes: dict[str, Any] | None = json_field()
    job_id: uuid.UUID | None = fk("jobs.id")
    captured_at: datetime = created_at()
    notes: str | None = None
    created_by: uuid.UUID | None = fk("users.id")
    created_at: datetime = created_at()


class BiosRegistry(SQLModel, table=True):
    """The server's BIOS attribute registry, compacted (name, type, read-only, allowed values, bounds): what a
    ``bios_config_write`` is checked against when it is created, without asking the iDRAC."""

    __tablename__ = "bios_registries"
    __table_args__ = (sa.UniqueConstraint("server_id", name="uq_bios_registries_server_id"),)
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE", index=False)
    bios_version: str | None = Field(default=None, max_length=64)
    registry_version: str | None = Field(default=None, max_length=64)
    entries: dict[str, Any] = json_field(nullable=False, default_factory=dict)
    captured_at: datetime = created_at()


class ScpBackup(SQLModel, table=True):
    __tablename__ = "scp_backups"
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE")
    backup_name: str = Field(max_length=200, nullable=False)
    description: str | None = None
    scp_content: dict[str, Any] | None = json_field()
    scp_file_path: str | None = None
    scp_file_size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    profile_text: str | None = Field(default=None, sa_type=sa.Text)
    """The profile exactly as the iDRAC exported it (XML or JSON text); size and checksum are of these bytes."""
    checksum: str | None = Field(default=None, max_length=128)
    """SHA-256 of the exported profile (the specification's MD5, strengthened)."""
    export_format: str = Field(default="XML", max_length=8, nullable=False)
    include_bios: bool = Field(default=True, nullable=False)
    include_idrac: bool = Field(default=True, nullable=False)
    include_nic: bool = Field(default=True, nullable=False)
    include_raid: bool = Field(default=True, nullable=False)
    is_valid: bool = Field(default=True, nullable=False)
    validation_errors: str | None = None
    exported_at: datetime | None = timestamp()
    export_job_id: uuid.UUID | None = fk("jobs.id")
    last_imported_at: datetime | None = timestamp()
    import_job_id: uuid.UUID | None = fk("jobs.id")
    created_by: uuid.UUID | None = fk("users.id")
    created_at: datetime = created_at()


class VirtualMediaSession(SQLModel, table=True):
    __tablename__ = "virtual_media_sessions"
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE")
    media_type: str = enum_field("media_type", MEDIA_TYPES, "CD")
    image_name: str = Field(max_length=255, nullable=False)
    remote_image_url: str = Field(nullable=False)
    is_mounted: bool = Field(default=False, nullable=False)
    inserted: bool = Field(default=False, nullable=False)
    write_protected: bool = Field(default=True, nullable=False)
    share_username: str | None = Field(default=None, max_length=100)
    share_password_sealed: str | None = None
    mount_job_id: uuid.UUID | None = fk("jobs.id")
    unmount_job_id: uuid.UUID | None = fk("jobs.id")
    mounted_at: datetime | None = timestamp()
    unmounted_at: datetime | None = timestamp()
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
