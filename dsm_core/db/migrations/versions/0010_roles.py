"""PostgreSQL enforces the roles too: the audit row records its database login (a trigger fills it from
session_user), window approvals are checked by a trigger, and audit rows get their own retention setting. The
grants and policies themselves are set by `dsm db provision-roles` and kept in step after every upgrade
(dsm_core.db.roles.sync).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_logs") as batch:
        batch.add_column(sa.Column("db_user", sa.String(length=64), nullable=True))
    with op.batch_alter_table("activity_settings") as batch:
        batch.add_column(sa.Column("audit_retention_days", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from dsm_core.db import roles

        roles.install_functions(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from dsm_core.db import roles

        roles.run_script(bind,
            "DROP TRIGGER IF EXISTS dsm_audit_identity ON public.audit_logs; "
            "DROP TRIGGER IF EXISTS dsm_window_approval ON public.maintenance_windows; "
            "DROP TRIGGER IF EXISTS dsm_worker_key_once ON public.activity_settings; "
            "DROP FUNCTION IF EXISTS public.dsm_worker_key_once(); "
            "DROP FUNCTION IF EXISTS public.dsm_audit_identity(); DROP FUNCTION IF EXISTS public.dsm_window_approval()")
        # The views of which secrets are set depend on the sealed columns older downgrades may drop.
        for (view,) in bind.execute(sa.text("SELECT viewname FROM pg_views WHERE schemaname = 'public' "
                                            "AND viewname LIKE 'dsm\\_secrets\\_%'")).all():
            bind.exec_driver_sql(f'DROP VIEW public."{view}"')
    with op.batch_alter_table("activity_settings") as batch:
        batch.drop_column("audit_retention_days")
    with op.batch_alter_table("audit_logs") as batch:
        batch.drop_column("db_user")
