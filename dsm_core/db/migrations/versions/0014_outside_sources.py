"""What outside sources (OpenManage) may tell DSM: whether devices on loopback are accepted (a lab or a simulator
on this host; off by default) and how many devices one sync may list.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("network_settings") as batch:
        batch.add_column(sa.Column("allow_loopback_devices", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("max_sync_devices", sa.Integer(), nullable=False, server_default="10000"))


def downgrade() -> None:
    with op.batch_alter_table("network_settings") as batch:
        batch.drop_column("max_sync_devices")
        batch.drop_column("allow_loopback_devices")
