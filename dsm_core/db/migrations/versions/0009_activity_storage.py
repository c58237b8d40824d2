"""The activity log made cheap to keep: headers and bodies compressed in one column (a successful read keeps no body
unless activity.max_read_body_kb asks for its head), and calls per server, API and day kept as statistics

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dsm_core.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idrac_commands") as batch:
        batch.add_column(sa.Column("bodies", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("activity_settings") as batch:
        batch.add_column(sa.Column("max_read_body_kb", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "activity_daily_stats",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("server_id", sa.Uuid(), nullable=True),
        sa.Column("server_key", sa.String(length=36), nullable=False),
        sa.Column("operation_type", sa.String(length=32), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("slow", sa.Integer(), nullable=False),
        sa.Column("p50_ms", sa.Integer(), nullable=True),
        sa.Column("p95_ms", sa.Integer(), nullable=True),
        sa.Column("p99_ms", sa.Integer(), nullable=True),
        sa.Column("max_ms", sa.Integer(), nullable=True),
        sa.Column("updated_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["server_id"], ["servers.id"], name=op.f("fk_activity_daily_stats_server_id_servers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_daily_stats")),
        sa.UniqueConstraint("day", "server_key", "operation_type",
                            name=op.f("uq_activity_daily_stats_day_server_key_operation_type")),
    )
    op.create_index(op.f("ix_activity_daily_stats_day"), "activity_daily_stats", ["day"], unique=False)
    op.create_index("ix_activity_daily_stats_server_id_day", "activity_daily_stats", ["server_id", "day"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_activity_daily_stats_server_id_day", table_name="activity_daily_stats")
    op.drop_index(op.f("ix_activity_daily_stats_day"), table_name="activity_daily_stats")
    op.drop_table("activity_daily_stats")
    with op.batch_alter_table("activity_settings") as batch:
        batch.drop_column("max_read_body_kb")
    # The older schema has no compressed column: its rows keep their metadata and lose their bodies.
    with op.batch_alter_table("idrac_commands") as batch:
        batch.drop_column("bodies")
