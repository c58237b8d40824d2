"""Where a secret may go: a credential set's trust level (first-use, today's lab behaviour, or verified: only to
a server whose certificate chains to a CA or whose fingerprint an admin pinned) and, on servers, whether the
pinned fingerprint is an admin's (servers add/update --fingerprint) or a first-use pin the worker learned.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credential_sets") as batch:
        batch.add_column(sa.Column("trust", sa.Enum("first-use", "verified", name="credential_trust",
                                                    native_enum=False, create_constraint=True, length=9),
                                   nullable=False, server_default="first-use"))
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("tls_pin_vetted", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("tls_pin_vetted")
    with op.batch_alter_table("credential_sets") as batch:
        batch.drop_constraint("credential_trust", type_="check")
        batch.drop_column("trust")
