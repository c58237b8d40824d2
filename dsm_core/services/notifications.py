"""Notifications from the operator's side and the one way anything asks for one: ``enqueue``.

A notification is a row in ``notification_outbox``, written in the same transaction as the change it tells of (a
window that started, a job that failed, a cluster that became unsafe), so nothing is told that did not happen and
nothing that happened goes untold when the worker dies between the two. The worker's notifier delivers the rows
over the site's SMTP relay, a Teams-compatible webhook and syslog, with retries; each attempt is a
``notification_logs`` row. Without a channel configured nothing is queued (there is no one to tell).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.db.hidden import secret_set
from dsm_core.models import NotificationLog, NotificationOutbox, NotificationSettings
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import Conflict
from dsm_core.services.settings import singleton
from dsm_core.services.views import row_view
from dsm_core.timeutil import utcnow


def channels(settings: NotificationSettings) -> list[str]:
    """The channels an admin configured: ``smtp`` (a relay, a sender and recipients), ``webhook``, ``syslog``."""
    found = []
    if settings.smtp_host and settings.smtp_from_email and settings.smtp_recipients:
        found.append("smtp")
    if secret_set(settings, "teams_webhook_url_sealed"):
        found.append("webhook")
    if settings.syslog_host:
        found.append("syslog")
    return found


def enqueue(session: Session, /, event: str, subject: str, body: str, *, severity: str = "normal",
            job_id: uuid.UUID | None = None, window_id: uuid.UUID | None = None, dedupe_key: str | None = None,
            mention: bool = False, is_test: bool = False, now: datetime | None = None) -> NotificationOutbox | None:
    """Queue one notification in the caller's transaction. ``dedupe_key``: at most one notification per key,
    ever (the rate limit of alerts: the key holds the hour). Returns None when nothing was queued."""
    settings = singleton(session, NotificationSettings)
    if not channels(settings):
        return None
    if dedupe_key is not None and session.exec(select(NotificationOutbox.id).where(
            NotificationOutbox.dedupe_key == dedupe_key)).first() is not None:
        return None
    at = now or utcnow()
    row = NotificationOutbox(event=event, subject=subject[:300], body=body, severity=severity, job_id=job_id,
                             window_id=window_id, dedupe_key=dedupe_key, mention=mention, is_test=is_test,
                             next_attempt_at=at, created_at=at)
    session.add(row)
    return row


@mutation("notifications.test", "admin")
def send_test(tx: Tx, /) -> dict[str, Any]:
    """Queues a test notification to every configured channel; the worker delivers it within a few seconds."""
    settings = singleton(tx.session, NotificationSettings)
    configured = channels(settings)
    if not configured:
        raise Conflict("no notification channel is configured; set notification.smtp_host, smtp_from_email and "
                       "smtp_recipients, notification.teams_webhook_url or notification.syslog_host first")
    row = enqueue(tx.session, "test", "DSM test notification",
                  "This is a test notification from DSM. If you read it, the channel works.", is_test=True)
    assert row is not None
    tx.session.flush()
    tx.audit("notification", row.id, channels=configured)
    return {"id": str(row.id), "channels": configured}


@query("viewer")
def list_notifications(session: Session, /, limit: int = 50) -> list[dict[str, Any]]:
    """The latest delivery attempts (notification_logs), newest first, and what still waits in the outbox."""
    logs = session.exec(select(NotificationLog).order_by(col(NotificationLog.created_at).desc(),
                                                         col(NotificationLog.id).desc()).limit(limit)).all()
    return [row_view(r) for r in logs]
