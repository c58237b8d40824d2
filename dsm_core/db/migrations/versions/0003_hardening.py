"""Hardening: response body cap (network setting) and task checkpoints (a change is never sent twice)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("network_settings") as batch:
        batch.add_column(sa.Column("max_response_body_mb", sa.Integer(), nullable=False, server_default="16"))
    with op.batch_alter_table("job_tasks") as batch:
        batch.add_column(sa.Column("checkpoint", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_tasks") as batch:
        batch.drop_column("checkpoint")
    with op.batch_alter_table("network_settings") as batch:
        batch.drop_column("max_response_body_mb")
