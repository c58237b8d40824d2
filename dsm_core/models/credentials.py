"""Shared iDRAC credential sets and the IP ranges that select them. Passwords are sealed, never plain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from dsm_core.models.base import CREDENTIAL_TRUST, created_at, enum_field, fk, pk, updated_at


class CredentialSet(SQLModel, table=True):
    __tablename__ = "credential_sets"
    id: uuid.UUID = pk()
    name: str = Field(max_length=100, unique=True, nullable=False)
    username: str = Field(max_length=100, nullable=False)
    password_sealed: str | None = Field(default=None)
    """The password sealed to the worker's public key (see dsm_core.credentials.sealing)."""
    description: str | None = None
    is_default: bool = Field(default=False, nullable=False)
    priority: int = Field(default=100, nullable=False)
    trust: str = enum_field("credential_trust", CREDENTIAL_TRUST, "first-use")
    """Where the worker may send the password beyond its ranges' addresses: ``first-use`` to a server whose
    certificate was pinned when first seen (a lab's convenience), ``verified`` only to one whose certificate
    chains to a CA or whose fingerprint an admin pinned (dsm_core/credentials/resolution.release_problem)."""
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class CredentialIpRange(SQLModel, table=True):
    __tablename__ = "credential_ip_ranges"
    id: uuid.UUID = pk()
    credential_set_id: uuid.UUID = fk("credential_sets.id", nullable=False, ondelete="CASCADE")
    ip_range: str = Field(max_length=100, nullable=False)
    """A CIDR (IPv4 or IPv6), stored normalised (host bits cleared)."""
    description: str | None = None
    priority: int = Field(default=100, nullable=False)
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()
