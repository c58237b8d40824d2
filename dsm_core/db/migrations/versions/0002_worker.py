"""Worker: network_diagnostics job type, server storage summary, task attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = (
    "firmware_update", "discovery_scan", "vcenter_sync", "full_server_update", "test_credentials",
    "power_action", "health_check", "fetch_event_logs", "boot_configuration", "virtual_media_mount",
    "virtual_media_unmount", "bios_config_read", "bios_config_write", "scp_export", "scp_import",
    "vcenter_connectivity_test", "openmanage_sync", "cluster_safety_check", "server_group_safety_check",
    "rolling_cluster_update", "prepare_host_for_update", "verify_host_after_update", "refresh_server_info",
)
NEW_TYPES = (*OLD_TYPES, "network_diagnostics")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _job_type_check(types: tuple[str, ...]) -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_job_type"), type_="check")
        batch.create_check_constraint("job_type", sa.column("job_type").in_(types))


def upgrade() -> None:
    _job_type_check(NEW_TYPES)
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("storage_summary", JSON, nullable=True))
    with op.batch_alter_table("job_tasks") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("idrac_commands") as batch:
        batch.alter_column("source", type_=sa.String(length=64), existing_type=sa.String(length=32))


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE job_type = 'network_diagnostics'")
    with op.batch_alter_table("idrac_commands") as batch:
        batch.alter_column("source", type_=sa.String(length=32), existing_type=sa.String(length=64))
    with op.batch_alter_table("job_tasks") as batch:
        batch.drop_column("attempts")
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("storage_summary")
    _job_type_check(OLD_TYPES)
