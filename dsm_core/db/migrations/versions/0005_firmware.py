"""Firmware: catalog packages, stored compliance, repository URLs, PCI ids, SystemID; job and workflow types
are no longer CHECK-constrained (a new type is declared in dsm_core.jobtypes, with no migration)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dsm_core.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OLD_JOB_TYPES = (
    "firmware_update", "discovery_scan", "vcenter_sync", "full_server_update", "test_credentials",
    "power_action", "health_check", "fetch_event_logs", "boot_configuration", "virtual_media_mount",
    "virtual_media_unmount", "bios_config_read", "bios_config_write", "scp_export", "scp_import",
    "vcenter_connectivity_test", "openmanage_sync", "cluster_safety_check", "server_group_safety_check",
    "rolling_cluster_update", "prepare_host_for_update", "verify_host_after_update", "refresh_server_info",
    "network_diagnostics",
)
OLD_WORKFLOW_TYPES = ("rolling_cluster_update", "prepare_host_for_update", "verify_host_after_update")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_job_type"), type_="check")
        batch.alter_column("job_type", type_=sa.String(length=64), existing_nullable=False)
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_constraint(op.f("ck_workflow_executions_workflow_type"), type_="check")
        batch.alter_column("workflow_type", type_=sa.String(length=64), existing_nullable=False)
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("system_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("firmware_inventory") as batch:
        for name in ("pci_vendor_id", "pci_device_id", "pci_subvendor_id", "pci_subdevice_id"):
            batch.add_column(sa.Column(name, sa.String(length=8), nullable=True))
    with op.batch_alter_table("firmware_repositories") as batch:
        batch.add_column(sa.Column("url", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("local_path", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("package_count", sa.Integer(), nullable=True))
    op.create_table(
        "firmware_packages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("repository_id", sa.Uuid(), nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("component_type", sa.String(length=16), nullable=False),
        sa.Column("criticality", sa.String(length=16), nullable=False),
        sa.Column("vendor_version", sa.String(length=64), nullable=False),
        sa.Column("dell_version", sa.String(length=32), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("hash_md5", sa.String(length=32), nullable=True),
        sa.Column("hash_sha256", sa.String(length=64), nullable=True),
        sa.Column("reboot_required", sa.Boolean(), nullable=False),
        sa.Column("package_type", sa.String(length=16), nullable=True),
        sa.Column("systems", JSON, nullable=True),
        sa.Column("models", JSON, nullable=True),
        sa.Column("devices", JSON, nullable=True),
        sa.Column("created_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["firmware_repositories.id"],
                                name=op.f("fk_firmware_packages_repository_id_firmware_repositories"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_packages")),
    )
    with op.batch_alter_table("firmware_packages") as batch:
        batch.create_index(batch.f("ix_firmware_packages_repository_id"), ["repository_id"], unique=False)
    op.create_table(
        "firmware_compliance",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("server_id", sa.Uuid(), nullable=False),
        sa.Column("repository_id", sa.Uuid(), nullable=False),
        sa.Column("catalog_version", sa.String(length=64), nullable=True),
        sa.Column("upgrades", sa.Integer(), nullable=False),
        sa.Column("downgrades", sa.Integer(), nullable=False),
        sa.Column("not_in_catalog", sa.Integer(), nullable=False),
        sa.Column("compliant", sa.Integer(), nullable=False),
        sa.Column("top_criticality", sa.String(length=16), nullable=True),
        sa.Column("top_component", sa.String(length=255), nullable=True),
        sa.Column("components", JSON, nullable=True),
        sa.Column("computed_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["firmware_repositories.id"],
                                name=op.f("fk_firmware_compliance_repository_id_firmware_repositories"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["server_id"], ["servers.id"],
                                name=op.f("fk_firmware_compliance_server_id_servers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_compliance")),
        sa.UniqueConstraint("server_id", "repository_id",
                            name=op.f("uq_firmware_compliance_server_id_repository_id")),
    )
    with op.batch_alter_table("firmware_compliance") as batch:
        batch.create_index(batch.f("ix_firmware_compliance_server_id"), ["server_id"], unique=False)
        batch.create_index(batch.f("ix_firmware_compliance_repository_id"), ["repository_id"], unique=False)


def downgrade() -> None:
    op.drop_table("firmware_compliance")
    op.drop_table("firmware_packages")
    with op.batch_alter_table("firmware_repositories") as batch:
        batch.drop_column("package_count")
        batch.drop_column("local_path")
        batch.drop_column("url")
    with op.batch_alter_table("firmware_inventory") as batch:
        for name in ("pci_vendor_id", "pci_device_id", "pci_subvendor_id", "pci_subdevice_id"):
            batch.drop_column(name)
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("system_id")
    # Types this version added have no place in the older schema: their jobs and steps go with it.
    op.execute(sa.text("DELETE FROM workflow_executions WHERE workflow_type NOT IN :t")
               .bindparams(sa.bindparam("t", OLD_WORKFLOW_TYPES, expanding=True)))
    op.execute(sa.text("DELETE FROM jobs WHERE job_type NOT IN :t")
               .bindparams(sa.bindparam("t", OLD_JOB_TYPES, expanding=True)))
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("attempt")
        batch.alter_column("workflow_type", type_=sa.String(length=23), existing_nullable=False)
        batch.create_check_constraint("workflow_type", sa.column("workflow_type").in_(OLD_WORKFLOW_TYPES))
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("job_type", type_=sa.String(length=25), existing_nullable=False)
        batch.create_check_constraint("job_type", sa.column("job_type").in_(OLD_JOB_TYPES))
