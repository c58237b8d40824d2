"""Servers (iDRAC endpoints), server groups and the vCenters and ESXi hosts they map to."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import (
    CONNECTION_STATUSES,
    GROUP_TYPES,
    TLS_VERIFY_MODES,
    created_at,
    enum_field,
    fk,
    json_field,
    pk,
    timestamp,
    updated_at,
)


class Server(SQLModel, table=True):
    """A Dell server as seen through its iDRAC. The link to an ESXi host is held on VcenterHost.server_id."""

    __tablename__ = "servers"
    __table_args__ = (
        sa.UniqueConstraint("ip_address", "port"),
        sa.CheckConstraint("port > 0 AND port < 65536", name="port_range"),
    )
    id: uuid.UUID = pk()
    ip_address: str = Field(max_length=45, nullable=False, index=True)
    port: int = Field(default=443, nullable=False)
    hostname: str | None = Field(default=None, max_length=255, index=True)
    service_tag: str | None = Field(default=None, max_length=32, index=True)
    model: str | None = Field(default=None, max_length=100)
    manufacturer: str = Field(default="Dell", max_length=100, nullable=False)
    product_name: str | None = Field(default=None, max_length=200)
    idrac_username: str | None = Field(default=None, max_length=100)
    idrac_password_sealed: str | None = None
    credential_set_id: uuid.UUID | None = fk("credential_sets.id")
    discovered_by_credential_set_id: uuid.UUID | None = fk("credential_sets.id")
    tls_verify_mode: str = enum_field("tls_verify_mode", TLS_VERIFY_MODES, "pin")
    tls_fingerprint_sha256: str | None = Field(default=None, max_length=95)
    """Pinned certificate fingerprint, learned on first contact (trust on first use), or given by an admin."""
    tls_pin_vetted: bool = Field(default=False, nullable=False, sa_column_kwargs={"server_default": sa.false()})
    """The pin is an admin's (servers add/update --fingerprint), not one learned on first use: what a
    ``verified`` credential set asks of a server it is sent to."""
    tls_ca_bundle: str | None = None
    """Path of a CA bundle to verify against when tls_verify_mode is "ca"."""
    bios_version: str | None = Field(default=None, max_length=64)
    idrac_firmware: str | None = Field(default=None, max_length=64)
    idrac_generation: int | None = None
    system_id: int | None = None
    """Dell SystemID (Oem.Dell.DellSystem.SystemID, decimal): the platform a firmware catalog names in hex."""
    redfish_version: str | None = Field(default=None, max_length=32)
    power_state: str | None = Field(default=None, max_length=32)
    overall_health: str | None = Field(default=None, max_length=32)
    cpu_count: int | None = None
    memory_gb: float | None = None
    manager_mac_address: str | None = Field(default=None, max_length=32)
    connection_status: str = enum_field("connection_status", CONNECTION_STATUSES, "unknown")
    connection_error: str | None = None
    credential_test_status: str | None = Field(default=None, max_length=32)
    last_seen: datetime | None = timestamp()
    last_connection_test: datetime | None = timestamp()
    last_health_check: datetime | None = timestamp()
    last_boot_config_check: datetime | None = timestamp()
    credential_last_tested: datetime | None = timestamp()
    boot_mode: str | None = Field(default=None, max_length=32)
    boot_source_override_enabled: str | None = Field(default=None, max_length=32)
    boot_source_override_target: str | None = Field(default=None, max_length=64)
    boot_order: list[Any] | None = json_field()
    bios_drift_count: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    """Attributes whose current value differs from the server's BIOS baseline (its own, else its group's)."""
    bios_drift: list[Any] | None = json_field()
    """[{attribute, baseline, current}] behind bios_drift_count, recomputed after every BIOS read."""
    supported_endpoints: dict[str, Any] | None = json_field()
    storage_summary: dict[str, Any] | None = json_field()
    """Controllers and drives with their health, from the last refresh."""
    """Capabilities detected once per refresh: sessions path, virtual media path, SCP actions, log paths."""
    discovery_job_id: uuid.UUID | None = fk("jobs.id")
    openmanage_device_id: str | None = Field(default=None, max_length=64)
    last_openmanage_sync: datetime | None = timestamp()
    notes: str | None = None
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class ServerGroup(SQLModel, table=True):
    __tablename__ = "server_groups"
    __table_args__ = (sa.CheckConstraint("min_healthy_servers >= 0", name="min_healthy_nonnegative"),)
    id: uuid.UUID = pk()
    name: str = Field(max_length=100, unique=True, nullable=False)
    description: str | None = None
    group_type: str = enum_field("group_type", GROUP_TYPES, "application")
    color: str = Field(default="#3b82f6", max_length=7, nullable=False)
    icon: str = Field(default="Server", max_length=50, nullable=False)
    min_healthy_servers: int = Field(default=1, nullable=False)
    created_by: uuid.UUID | None = fk("users.id")
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class ServerGroupMember(SQLModel, table=True):
    __tablename__ = "server_group_members"
    __table_args__ = (sa.UniqueConstraint("server_group_id", "server_id"),)
    id: uuid.UUID = pk()
    server_group_id: uuid.UUID = fk("server_groups.id", nullable=False, ondelete="CASCADE")
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE")
    role: str | None = Field(default=None, max_length=50)
    priority: int = Field(default=100, nullable=False)
    """Update order inside the group: lower goes first."""
    added_at: datetime = created_at()


class Vcenter(SQLModel, table=True):
    """A vCenter DSM syncs from. (The specification's single vcenter_settings row, made plural.)"""

    __tablename__ = "vcenters"
    id: uuid.UUID = pk()
    name: str = Field(max_length=100, unique=True, nullable=False)
    host: str = Field(max_length=255, nullable=False)
    port: int = Field(default=443, nullable=False)
    username: str = Field(max_length=200, nullable=False)
    password_sealed: str | None = None
    tls_verify_mode: str = enum_field("tls_verify_mode", TLS_VERIFY_MODES, "pin")
    tls_fingerprint_sha256: str | None = Field(default=None, max_length=95)
    sync_enabled: bool = Field(default=False, nullable=False)
    sync_interval_minutes: int = Field(default=60, nullable=False)
    last_sync: datetime | None = timestamp()
    last_sync_status: str | None = Field(default=None, max_length=32)
    last_sync_error: str | None = None
    about: dict[str, Any] | None = json_field()
    """What the vCenter said it is at the last sync (product, version, build, instance UUID)."""
    last_sync_stats: dict[str, Any] | None = json_field()
    """What the last sync changed (added/updated/removed clusters and hosts, links) and what it cost."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class VcenterCluster(SQLModel, table=True):
    """A cluster as the last sync saw it; kept in step with a server group of type ``vcenter_cluster``."""

    __tablename__ = "vcenter_clusters"
    __table_args__ = (sa.UniqueConstraint("vcenter_id", "moref"),)
    id: uuid.UUID = pk()
    vcenter_id: uuid.UUID = fk("vcenters.id", nullable=False, ondelete="CASCADE")
    moref: str = Field(max_length=64, nullable=False)
    name: str = Field(max_length=255, nullable=False, index=True)
    datacenter: str | None = Field(default=None, max_length=255)
    drs_enabled: bool = Field(default=False, nullable=False)
    drs_automation: str | None = Field(default=None, max_length=32)
    ha_enabled: bool = Field(default=False, nullable=False)
    admission_control: bool | None = None
    host_count: int = Field(default=0, nullable=False)
    server_group_id: uuid.UUID | None = fk("server_groups.id", ondelete="SET NULL")
    last_sync: datetime | None = timestamp()
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class VcenterHost(SQLModel, table=True):
    __tablename__ = "vcenter_hosts"
    __table_args__ = (sa.UniqueConstraint("vcenter_id", "moref"),)
    id: uuid.UUID = pk()
    vcenter_id: uuid.UUID | None = fk("vcenters.id", ondelete="CASCADE")
    moref: str | None = Field(default=None, max_length=64)
    """The host's managed object id in its vCenter (the specification's text vcenter_id)."""
    name: str = Field(max_length=255, nullable=False)
    datacenter: str | None = Field(default=None, max_length=255)
    cluster: str | None = Field(default=None, max_length=255, index=True)
    serial_number: str | None = Field(default=None, max_length=64, index=True)
    server_id: uuid.UUID | None = Field(default=None, foreign_key="servers.id", ondelete="SET NULL",
                                        unique=True, nullable=True)
    esxi_version: str | None = Field(default=None, max_length=64)
    status: str = Field(default="unknown", max_length=32, nullable=False)
    connection_state: str | None = Field(default=None, max_length=32)
    maintenance_mode: bool = Field(default=False, nullable=False)
    cluster_id: uuid.UUID | None = fk("vcenter_clusters.id", ondelete="SET NULL")
    power_state: str | None = Field(default=None, max_length=32)
    esxi_build: str | None = Field(default=None, max_length=64)
    vm_count: int = Field(default=0, nullable=False)
    link_source: str | None = Field(default=None, max_length=16)
    """How ``server_id`` was set: ``service_tag`` (by a sync) or ``manual`` (``dsm vcenter link``; a sync keeps it)."""
    last_sync: datetime | None = timestamp()
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
