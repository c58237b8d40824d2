"""Operators (mapped from OS user names) and the append-only audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dsm_core.models.base import ROLES, created_at, enum_field, fk, json_field, pk, updated_at


class User(SQLModel, table=True):
    """An operator. Identity is the OS user running the TUI/CLI; DSM keeps no passwords of its own."""

    __tablename__ = "users"
    id: uuid.UUID = pk()
    username: str = Field(max_length=64, unique=True, nullable=False)
    full_name: str | None = Field(default=None, max_length=200)
    role: str = enum_field("role", ROLES, "viewer")
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class AuditLog(SQLModel, table=True):
    """One row per mutation made through the service layer; the user name is kept even if the user goes."""

    __tablename__ = "audit_logs"
    __table_args__ = (sa.Index("ix_audit_logs_timestamp", "timestamp"),)
    id: uuid.UUID = pk()
    user_id: uuid.UUID | None = fk("users.id")
    username: str = Field(max_length=64, nullable=False)
    action: str = Field(max_length=100, nullable=False)
    target_type: str | None = Field(default=None, max_length=50)
    target_id: str | None = Field(default=None, max_length=100)
    details: dict[str, Any] | None = json_field()
    ip_address: str | None = Field(default=None, max_length=64)
    """Where the operator came from (the SSH client address on a jump host), when known."""
    db_user: str | None = Field(default=None, max_length=64)
    """The database login that wrote the row: set by a PostgreSQL trigger from ``session_user``, which the
    application cannot choose (dsm_core.db.roles); empty on SQLite, which trusts its file's owners."""
    timestamp: datetime = created_at()
    created_at: datetime = created_at()
