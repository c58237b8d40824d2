"""activity_settings.package_dirs: the directories an admin lets jobs name files in (firmware packages pushed
from the worker's host, a mounted repository's catalog). Empty: none; a job naming a file is refused.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activity_settings") as batch:
        batch.add_column(sa.Column("package_dirs", sa.String(length=4000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activity_settings") as batch:
        batch.drop_column("package_dirs")
