"""Specification depth: event log entries survive a SEL clear, the webhook URL is sealed, workers say which
job types they run

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NOTIFY = sa.table("notification_settings", sa.column("id", sa.Uuid()), sa.column("teams_webhook_url", sa.String()),
                  sa.column("teams_webhook_url_sealed", sa.String()))


def _seal_webhooks() -> None:
    """A webhook URL carries its token: seal any stored one with the worker's public key, as passwords are.
    Without a key (never initialised) there is nothing a webhook could have been stored by."""
    from dsm_core.credentials.sealing import decode_public_key, seal

    bind = op.get_bind()
    key_text = bind.execute(sa.text("SELECT sealing_public_key FROM activity_settings")).scalar()
    rows = bind.execute(sa.select(NOTIFY.c.id, NOTIFY.c.teams_webhook_url)
                        .where(NOTIFY.c.teams_webhook_url.is_not(None))).all()
    for row_id, url in rows:
        if not url:
            continue
        if not key_text:
            raise RuntimeError("notification_settings holds a webhook URL but no worker public key is stored to "
                               "seal it with; run `dsm init` against this database first")
        bind.execute(sa.update(NOTIFY).where(NOTIFY.c.id == row_id)
                     .values(teams_webhook_url_sealed=seal(url, decode_public_key(key_text))))


def upgrade() -> None:
    with op.batch_alter_table("server_event_logs") as batch:
        batch.drop_constraint("uq_server_event_logs_server_id_log_type_event_id", type_="unique")
        batch.create_unique_constraint("uq_server_event_logs_server_id_log_type_event_id_timestamp",
                                       ["server_id", "log_type", "event_id", "timestamp"])
    with op.batch_alter_table("notification_settings") as batch:
        batch.add_column(sa.Column("teams_webhook_url_sealed", sa.String(), nullable=True))
    _seal_webhooks()
    with op.batch_alter_table("notification_settings") as batch:
        batch.drop_column("teams_webhook_url")
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.add_column(sa.Column("handled_types", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.drop_column("handled_types")
    # The sealed URL cannot be unsealed without the worker's private key: a downgrade forgets it.
    with op.batch_alter_table("notification_settings") as batch:
        batch.add_column(sa.Column("teams_webhook_url", sa.String(), nullable=True))
        batch.drop_column("teams_webhook_url_sealed")
    # Entries kept after a SEL clear share ids with older ones: keep the newest of each id.
    op.execute(
        "DELETE FROM server_event_logs WHERE id IN (SELECT e.id FROM server_event_logs e JOIN server_event_logs n "
        "ON n.server_id = e.server_id AND n.log_type = e.log_type AND n.event_id = e.event_id "
        "AND n.timestamp > e.timestamp)"
    )
    with op.batch_alter_table("server_event_logs") as batch:
        batch.drop_constraint("uq_server_event_logs_server_id_log_type_event_id_timestamp", type_="unique")
        batch.create_unique_constraint("uq_server_event_logs_server_id_log_type_event_id",
                                       ["server_id", "log_type", "event_id"])
