"""Configuration jobs: BIOS registries (validation at job creation), group baselines, drift on servers, the
profile text of SCP backups, the state before a boot change, and the settings for a backup before every
change and for the SCP job budget

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dsm_core.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "bios_registries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("server_id", sa.Uuid(), nullable=False),
        sa.Column("bios_version", sa.String(length=64), nullable=True),
        sa.Column("registry_version", sa.String(length=64), nullable=True),
        sa.Column("entries", JSON, nullable=False),
        sa.Column("captured_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["server_id"], ["servers.id"], name=op.f("fk_bios_registries_server_id_servers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bios_registries")),
        sa.UniqueConstraint("server_id", name="uq_bios_registries_server_id"),
    )
    with op.batch_alter_table("bios_configurations") as batch:
        batch.add_column(sa.Column("group_id", sa.Uuid(), nullable=True))
        batch.create_index(batch.f("ix_bios_configurations_group_id"), ["group_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_bios_configurations_group_id_server_groups"), "server_groups",
                                 ["group_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("bios_drift_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("bios_drift", JSON, nullable=True))
    with op.batch_alter_table("scp_backups") as batch:
        batch.add_column(sa.Column("profile_text", sa.Text(), nullable=True))
    with op.batch_alter_table("server_boot_config_history") as batch:
        batch.add_column(sa.Column("previous", JSON, nullable=True))
    with op.batch_alter_table("activity_settings") as batch:
        batch.add_column(sa.Column("scp_backup_before_change", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("scp_job_timeout_minutes", sa.Integer(), nullable=False, server_default="60"))


def downgrade() -> None:
    with op.batch_alter_table("activity_settings") as batch:
        batch.drop_column("scp_job_timeout_minutes")
        batch.drop_column("scp_backup_before_change")
    with op.batch_alter_table("server_boot_config_history") as batch:
        batch.drop_column("previous")
    with op.batch_alter_table("scp_backups") as batch:
        batch.drop_column("profile_text")
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("bios_drift")
        batch.drop_column("bios_drift_count")
    with op.batch_alter_table("bios_configurations") as batch:
        batch.drop_constraint(batch.f("fk_bios_configurations_group_id_server_groups"), type_="foreignkey")
        batch.drop_index(batch.f("ix_bios_configurations_group_id"))
        batch.drop_column("group_id")
    op.drop_table("bios_registries")
