"""vCenter: clusters as synced (DRS, HA, admission control, their server group), hosts' cluster link, power,
build, VM count and how they were linked to a server; what a vCenter said it is and what its last sync changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dsm_core.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "vcenter_clusters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vcenter_id", sa.Uuid(), nullable=False),
        sa.Column("moref", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("datacenter", sa.String(length=255), nullable=True),
        sa.Column("drs_enabled", sa.Boolean(), nullable=False),
        sa.Column("drs_automation", sa.String(length=32), nullable=True),
        sa.Column("ha_enabled", sa.Boolean(), nullable=False),
        sa.Column("admission_control", sa.Boolean(), nullable=True),
        sa.Column("host_count", sa.Integer(), nullable=False),
        sa.Column("server_group_id", sa.Uuid(), nullable=True),
        sa.Column("last_sync", dsm_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["vcenter_id"], ["vcenters.id"], name=op.f("fk_vcenter_clusters_vcenter_id_vcenters"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["server_group_id"], ["server_groups.id"],
                                name=op.f("fk_vcenter_clusters_server_group_id_server_groups"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vcenter_clusters")),
        sa.UniqueConstraint("vcenter_id", "moref", name=op.f("uq_vcenter_clusters_vcenter_id_moref")),
    )
    op.create_index(op.f("ix_vcenter_clusters_vcenter_id"), "vcenter_clusters", ["vcenter_id"], unique=False)
    op.create_index(op.f("ix_vcenter_clusters_name"), "vcenter_clusters", ["name"], unique=False)
    op.create_index(op.f("ix_vcenter_clusters_server_group_id"), "vcenter_clusters", ["server_group_id"],
                    unique=False)
    with op.batch_alter_table("vcenter_hosts") as batch:
        batch.add_column(sa.Column("cluster_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("power_state", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("esxi_build", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("vm_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("link_source", sa.String(length=16), nullable=True))
        batch.create_index(batch.f("ix_vcenter_hosts_cluster_id"), ["cluster_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_vcenter_hosts_cluster_id_vcenter_clusters"), "vcenter_clusters",
                                 ["cluster_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("vcenters") as batch:
        batch.add_column(sa.Column("about", JSON, nullable=True))
        batch.add_column(sa.Column("last_sync_stats", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vcenters") as batch:
        batch.drop_column("last_sync_stats")
        batch.drop_column("about")
    with op.batch_alter_table("vcenter_hosts") as batch:
        batch.drop_constraint(batch.f("fk_vcenter_hosts_cluster_id_vcenter_clusters"), type_="foreignkey")
        batch.drop_index(batch.f("ix_vcenter_hosts_cluster_id"))
        batch.drop_column("link_source")
        batch.drop_column("vm_count")
        batch.drop_column("esxi_build")
        batch.drop_column("power_state")
        batch.drop_column("cluster_id")
    op.drop_index(op.f("ix_vcenter_clusters_server_group_id"), table_name="vcenter_clusters")
    op.drop_index(op.f("ix_vcenter_clusters_name"), table_name="vcenter_clusters")
    op.drop_index(op.f("ix_vcenter_clusters_vcenter_id"), table_name="vcenter_clusters")
    op.drop_table("vcenter_clusters")
