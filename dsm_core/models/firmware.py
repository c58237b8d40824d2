"""Local firmware repositories (air gap: never the internet) and what each server has installed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import SHARE_TYPES, created_at, enum_field, fk, json_field, pk, timestamp, updated_at


class FirmwareRepository(SQLModel, table=True):
    """A Dell Repository Manager share (HTTP/HTTPS/NFS/CIFS) holding Catalog.xml and the DUPs."""

    __tablename__ = "firmware_repositories"
    id: uuid.UUID = pk()
    name: str = Field(max_length=100, unique=True, nullable=False)
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
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


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
    raw: dict[str, Any] | None = json_field()
    collected_at: datetime = created_at()
    created_at: datetime = created_at()
