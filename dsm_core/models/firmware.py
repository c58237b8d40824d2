"""Local firmware repositories (air gap: never the internet) and what each server has installed."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import SHARE_TYPES, created_at, enum_field, fk, json_field, pk, timestamp, updated_at


class FirmwareRepository(SQLModel, table=True):
    """A Dell Repository Manager share (HTTP/HTTPS/NFS/CIFS) holding Catalog.xml and the DUPs."""

    __tablename__ = "firmware_repositories"
    id: uuid.UUID = pk()
    name: str = Field(max_length=100, unique=True, nullable=False)
    url: str | None = Field(default=None, max_length=2048)
    """Where the repository is: http(s)://host/path, or nfs://host/export and cifs://host/share (the iDRAC
    reads those; the worker reads the catalog from ``local_path``, where it has the share mounted)."""
    local_path: str | None = Field(default=None, max_length=1024)
    share_type: str = enum_field("share_type", SHARE_TYPES, "https")
    host: str = Field(max_length=255, nullable=False)
    share_path: str = Field(default="/", nullable=False)
    catalog_file: str = Field(default="Catalog.xml", max_length=255, nullable=False)
    share_username: str | None = Field(default=None, max_length=100)
    share_password_sealed: str | None = None
    verify_tls: bool = Field(default=True, nullable=False)
    enabled: bool = Field(default=True, nullable=False)
    catalog_version: str | None = Field(default=None, max_length=64)
    catalog_release_date: datetime | None = timestamp()
    last_checked_at: datetime | None = timestamp()
    last_status: str | None = Field(default=None, max_length=32)
    last_error: str | None = None
    package_count: int | None = None
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class FirmwarePackage(SQLModel, table=True):
    """One SoftwareComponent of a repository's catalog, replaced as a whole by each catalog sync."""

    __tablename__ = "firmware_packages"
    id: uuid.UUID = pk()
    repository_id: uuid.UUID = fk("firmware_repositories.id", nullable=False, ondelete="CASCADE")
    package_id: str = Field(max_length=64, nullable=False)
    name: str = Field(max_length=500, nullable=False)
    component_type: str = Field(max_length=16, nullable=False)
    criticality: str = Field(max_length=16, nullable=False)
    vendor_version: str = Field(max_length=64, nullable=False)
    dell_version: str | None = Field(default=None, max_length=32)
    release_date: date | None = None
    path: str = Field(max_length=1024, nullable=False)
    size: int | None = Field(default=None, sa_type=sa.BigInteger)
    hash_md5: str | None = Field(default=None, max_length=32)
    hash_sha256: str | None = Field(default=None, max_length=64)
    reboot_required: bool = Field(default=False, nullable=False)
    package_type: str | None = Field(default=None, max_length=16)
    systems: list[str] | None = json_field()
    """Model systemIDs, four hex digits ("090E")."""
    models: list[str] | None = json_field()
    devices: list[Any] | None = json_field()
    """[{"component_id": "159", "pci": [[vendor, device, subvendor, subdevice], ...]}, ...]"""
    created_at: datetime = created_at()


class FirmwareCompliance(SQLModel, table=True):
    """A server's components against one repository's catalog: counts for the fleet view, rows for drill-down.

    Recomputed after every refresh of the server and every sync of the catalog (one row per server and
    repository, so the ``:firmware`` view reads 10,000 small rows, not 250,000)."""

    __tablename__ = "firmware_compliance"
    __table_args__ = (sa.UniqueConstraint("server_id", "repository_id"),)
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE")
    repository_id: uuid.UUID = fk("firmware_repositories.id", nullable=False, ondelete="CASCADE")
    catalog_version: str | None = Field(default=None, max_length=64)
    upgrades: int = Field(default=0, nullable=False)
    downgrades: int = Field(default=0, nullable=False)
    not_in_catalog: int = Field(default=0, nullable=False)
    compliant: int = Field(default=0, nullable=False)
    top_criticality: str | None = Field(default=None, max_length=16)
    top_component: str | None = Field(default=None, max_length=255)
    components: list[Any] | None = json_field()
    computed_at: datetime = created_at()


class FirmwareInventory(SQLModel, table=True):
    """One installed (or staged) firmware component of a server, as the iDRAC's FirmwareInventory lists it."""

    __tablename__ = "firmware_inventory"
    __table_args__ = (sa.UniqueConstraint("server_id", "inventory_id"),)
    id: uuid.UUID = pk()
    server_id: uuid.UUID = fk("servers.id", nullable=False, ondelete="CASCADE")
    inventory_id: str = Field(max_length=255, nullable=False)
    """The Redfish member Id, e.g. "Installed-25227-6.00.30.00__iDRAC.Embedded.1-1"."""
    fqdd: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=255)
    version: str | None = Field(default=None, max_length=64)
    component_id: str | None = Field(default=None, max_length=32, index=True)
    component_type: str | None = Field(default=None, max_length=16)
    status: str | None = Field(default=None, max_length=32)
    """Installed, Previous or Available (from the Id prefix / Dell OEM status)."""
    updateable: bool | None = None
    pci_vendor_id: str | None = Field(default=None, max_length=8)
    pci_device_id: str | None = Field(default=None, max_length=8)
    pci_subvendor_id: str | None = Field(default=None, max_length=8)
    pci_subdevice_id: str | None = Field(default=None, max_length=8)
    raw: dict[str, Any] | None = json_field()
    collected_at: datetime = created_at()
    created_at: datetime = created_at()
