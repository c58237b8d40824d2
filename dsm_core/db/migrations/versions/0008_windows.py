"""Maintenance windows run by the scheduler: health_check windows, skipped/rejected states, the running phase and
its reason, recurring series, what the approver accepted, rejection; approval settings; the scheduler's state;
the notification outbox; SMTP recipients/STARTTLS, syslog and window events in notification settings

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dsm_core.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OLD_TYPES = ("firmware_update", "rolling_cluster_update", "patch", "hardware", "bios_update")
NEW_TYPES = (*OLD_TYPES, "health_check")
OLD_STATUSES = ("planned", "in_progress", "completed", "cancelled", "failed")
NEW_STATUSES = (*OLD_STATUSES, "skipped", "rejected")
SEVERITIES = ("normal", "warning", "critical")


def _window_checks(types: Sequence[str], statuses: Sequence[str]) -> None:
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.drop_constraint(op.f("ck_maintenance_windows_maintenance_type"), type_="check")
        batch.drop_constraint(op.f("ck_maintenance_windows_window_status"), type_="check")
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.create_check_constraint("maintenance_type", sa.column("maintenance_type").in_(types))
        batch.create_check_constraint("window_status", sa.column("status").in_(statuses))


def upgrade() -> None:
    _window_checks(NEW_TYPES, NEW_STATUSES)
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.add_column(sa.Column("phase", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.String(), nullable=True))
        batch.add_column(sa.Column("series_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("approval", JSON, nullable=True))
        batch.add_column(sa.Column("rejected_by", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("rejected_at", dsm_core.db.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("rejection_reason", sa.String(), nullable=True))
        batch.create_index(batch.f("ix_maintenance_windows_series_id"), ["series_id"], unique=False)
        batch.create_index(batch.f("ix_maintenance_windows_rejected_by"), ["rejected_by"], unique=False)
        batch.create_foreign_key(batch.f("fk_maintenance_windows_rejected_by_users"), "users", ["rejected_by"],
                                 ["id"], ondelete="SET NULL")
    op.create_table(
        "maintenance_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("four_eyes", sa.Boolean(), nullable=False),
        sa.Column("operators_may_approve", sa.Boolean(), nullable=False),
        sa.Column("production_clusters", sa.String(length=1000), nullable=False),
        sa.Column("created_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_settings")),
    )
    op.create_table(
        "scheduler_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_state")),
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("severity", sa.Enum(*SEVERITIES, name="outbox_severity", native_enum=False, create_constraint=True,
                                      length=8), nullable=False),
        sa.Column("mention", sa.Boolean(), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("window_id", sa.Uuid(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.Enum("pending", "sent", "failed", name="outbox_status", native_enum=False,
                                    create_constraint=True, length=7), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("delivered", JSON, nullable=True),
        sa.Column("created_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dsm_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_notification_outbox_job_id_jobs"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["window_id"], ["maintenance_windows.id"],
                                name=op.f("fk_notification_outbox_window_id_maintenance_windows"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_outbox_dedupe_key")),
    )
    op.create_index(op.f("ix_notification_outbox_job_id"), "notification_outbox", ["job_id"], unique=False)
    op.create_index(op.f("ix_notification_outbox_window_id"), "notification_outbox", ["window_id"], unique=False)
    op.create_index("ix_notification_outbox_status_next_attempt_at", "notification_outbox",
                    ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_cluster_safety_checks_check_timestamp", "cluster_safety_checks", ["check_timestamp"])
    op.create_index("ix_server_group_safety_checks_check_timestamp", "server_group_safety_checks",
                    ["check_timestamp"])
    with op.batch_alter_table("notification_settings") as batch:
        batch.add_column(sa.Column("smtp_starttls", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("smtp_recipients", JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("syslog_host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("syslog_port", sa.Integer(), nullable=False, server_default="514"))
        batch.add_column(sa.Column("notify_on_window_events", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="5"))


def downgrade() -> None:
    with op.batch_alter_table("notification_settings") as batch:
        for name in ("max_attempts", "notify_on_window_events", "syslog_port", "syslog_host", "smtp_recipients",
                     "smtp_starttls"):
            batch.drop_column(name)
    op.drop_index("ix_server_group_safety_checks_check_timestamp", table_name="server_group_safety_checks")
    op.drop_index("ix_cluster_safety_checks_check_timestamp", table_name="cluster_safety_checks")
    op.drop_index("ix_notification_outbox_status_next_attempt_at", table_name="notification_outbox")
    op.drop_index(op.f("ix_notification_outbox_window_id"), table_name="notification_outbox")
    op.drop_index(op.f("ix_notification_outbox_job_id"), table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_table("scheduler_state")
    op.drop_table("maintenance_settings")
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.drop_constraint(batch.f("fk_maintenance_windows_rejected_by_users"), type_="foreignkey")
        batch.drop_index(batch.f("ix_maintenance_windows_rejected_by"))
        batch.drop_index(batch.f("ix_maintenance_windows_series_id"))
        for name in ("rejection_reason", "rejected_at", "rejected_by", "approval", "series_id", "status_reason",
                     "phase"):
            batch.drop_column(name)
    # States and types this version added have no place in the older schema.
    op.execute(sa.text("UPDATE maintenance_windows SET status = 'cancelled' WHERE status IN ('skipped', 'rejected')"))
    op.execute(sa.text("DELETE FROM maintenance_windows WHERE maintenance_type = 'health_check'"))
    _window_checks(OLD_TYPES, OLD_STATUSES)
