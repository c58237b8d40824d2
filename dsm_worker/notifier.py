"""Delivers the notification outbox: the site's SMTP relay, a Teams-compatible webhook, syslog.

Runs in the worker that holds the scheduler (so two workers never send the same row). Each channel of each row is
tried under its own deadline in a thread, so a dead relay costs at most that deadline and never blocks the worker's
jobs; each attempt is a ``notification_logs`` row; a row whose channels did not all deliver is retried with
backoff (30 s, 1 m, 2 m … capped at 30 min) until ``max_attempts``, then marked failed. A channel that delivered is
not sent to again. The webhook URL and the SMTP password are sealed: unsealed here, in memory, never logged (the log
row names the webhook's host only).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsm_core.credentials.sealing import SealingError, unseal
from dsm_core.db.engine import read_scope, session_scope
from dsm_core.models import NotificationLog, NotificationOutbox, NotificationSettings
from dsm_core.services.notifications import channels
from dsm_core.services.settings import read_singleton
from dsm_core.timeutil import utcnow

log = logging.getLogger("dsm.notify")
SEND_TIMEOUT = 10.0
MAX_RESPONSE = 64 * 1024
BATCH = 20


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(1800, 30 * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Message:
    id: uuid.UUID
    event: str
    subject: str
    body: str
    severity: str
    mention: bool
    attempts: int
    delivered: dict[str, Any]


class DeliveryError(Exception):
    """One channel's failure, in words fit for the log row (no secret in it)."""


def one_line(text: str) -> str:
    """A header or a syslog line is one line: a CR or LF from a device's name would end it (the email library
    refuses it with ValueError; syslog would start a forged record), so every control character becomes a space."""
    return " ".join("".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text).split())


def _smtp(settings: NotificationSettings, password: str | None, msg: Message, timeout: float) -> str:
    email = EmailMessage()
    email["Subject"] = f"[DSM] {one_line(msg.subject)}"
    email["From"] = settings.smtp_from_email or ""
    email["To"] = ", ".join(settings.smtp_recipients)
    email["X-DSM-Event"] = one_line(msg.event)
    email["X-DSM-Severity"] = one_line(msg.severity)
    email.set_content(msg.body)
    host = settings.smtp_host or ""
    try:
        with smtplib.SMTP(host, int(settings.smtp_port), timeout=timeout) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user and password:
                smtp.login(settings.smtp_user, password)
            refused = smtp.send_message(email)
    except (OSError, smtplib.SMTPException, ValueError) as exc:  # ValueError: a header the library refuses
        raise DeliveryError(f"SMTP {host}:{settings.smtp_port}: {type(exc).__name__}: {exc}"[:500]) from None
    if refused:
        raise DeliveryError(f"SMTP {host} refused recipients: {', '.join(sorted(refused))}"[:500])
    return f"SMTP {host}:{settings.smtp_port} to {len(settings.smtp_recipients)} recipient(s)"


def _webhook_payload(settings: NotificationSettings, msg: Message) -> dict[str, Any]:
    """A Teams MessageCard (an Office 365 connector and Teams workflows read it; most chat bridges read ``text``)."""
    colour = {"critical": "D13438", "warning": "FFB900"}.get(msg.severity, "2D7D9A")
    text = msg.body
    if msg.mention and settings.teams_mention_users:
        text += "\n\n" + " ".join(f"@{u.strip()}" for u in settings.teams_mention_users.split(",") if u.strip())
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": msg.subject,
            "themeColor": colour, "title": f"DSM: {msg.subject}", "text": text,
            "dsm": {"event": msg.event, "severity": msg.severity, "id": str(msg.id)}}


def _webhook(settings: NotificationSettings, url: str, msg: Message, timeout: float) -> str:
    where = urlsplit(url)
    label = f"webhook {where.hostname}:{where.port or (443 if where.scheme == 'https' else 80)}"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client, \
                client.stream("POST", url, json=_webhook_payload(settings, msg)) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE:
                    break
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{label}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"{label}: HTTP {response.status_code} (redirects are not followed)")
    return f"{label}: HTTP {response.status_code}"


_SYSLOG_SEVERITY = {"critical": 2, "warning": 4, "normal": 6}


def _syslog(settings: NotificationSettings, msg: Message, timeout: float) -> str:
    """RFC 5424 over UDP (facility local0)."""
    pri = 16 * 8 + _SYSLOG_SEVERITY.get(msg.severity, 6)
    text = (f"<{pri}>1 {utcnow().isoformat()} {socket.gethostname()} dsm - {one_line(msg.event)} - "
            f"{one_line(msg.subject)}: {one_line(msg.body)}")
    host = settings.syslog_host or ""
    try:
        infos = socket.getaddrinfo(host, int(settings.syslog_port), type=socket.SOCK_DGRAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            sock.sendto(text.encode("utf-8", "replace")[:8192], address)
    except OSError as exc:
        raise DeliveryError(f"syslog {host}:{settings.syslog_port}: {type(exc).__name__}: {exc}"[:500]) from None
    return f"syslog {host}:{settings.syslog_port}"


class Notifier:
    def __init__(self, engine: Engine, private_key: X25519PrivateKey,
                 clock: Callable[[], datetime] = utcnow, timeout: float = SEND_TIMEOUT) -> None:
        self.engine = engine
        self.private_key = private_key
        self.clock = clock
        self.timeout = timeout

    def _due(self, now: datetime) -> tuple[NotificationSettings, list[Message]]:
        with read_scope(self.engine) as s:
            settings = read_singleton(s, NotificationSettings)
            rows = s.exec(select(NotificationOutbox).where(
                NotificationOutbox.status == "pending", NotificationOutbox.next_attempt_at <= now).order_by(
                col(NotificationOutbox.next_attempt_at)).limit(BATCH)).all()
            return settings, [Message(r.id, r.event, r.subject, r.body, r.severity, r.mention, r.attempts,
                                      dict(r.delivered or {})) for r in rows]

    def _secret(self, sealed: str | None) -> str | None:
        if not sealed:
            return None
        try:
            return unseal(sealed, self.private_key).reveal()
        except SealingError as exc:
            raise DeliveryError(f"the stored secret cannot be unsealed: {exc}") from None

    def _send(self, settings: NotificationSettings, channel: str, msg: Message) -> str:
        if channel == "smtp":
            return _smtp(settings, self._secret(settings.smtp_password_sealed), msg, self.timeout)
        if channel == "webhook":
            url = self._secret(settings.teams_webhook_url_sealed) or ""
            return _webhook(settings, url, msg, self.timeout)
        return _syslog(settings, msg, self.timeout)

    async def deliver_due(self) -> int:
        """One pass over the due rows; returns how many were handled."""
        now = self.clock()
        settings, messages = await asyncio.to_thread(self._due, now)
        wanted = channels(settings)
        for msg in messages:
            results: dict[str, Any] = {}
            for channel in wanted:
                if msg.delivered.get(channel) == "sent":
                    continue
                try:
                    detail = await asyncio.wait_for(asyncio.to_thread(self._send, settings, channel, msg),
                                                    self.timeout + 5)
                    results[channel] = ("sent", detail)
                except (DeliveryError, TimeoutError) as exc:
                    results[channel] = ("failed", str(exc) or f"{channel}: no answer in {self.timeout:.0f} s")
                except Exception as exc:  # a channel's bug must not stop the others or the worker
                    log.exception("notification %s via %s", msg.id, channel)
                    results[channel] = ("failed", f"{channel}: {type(exc).__name__}")
            await asyncio.to_thread(self._record, msg, results, int(settings.max_attempts), now)
        return len(messages)

    def _record(self, msg: Message, results: dict[str, tuple[str, str]], max_attempts: int, now: datetime) -> None:
        with session_scope(self.engine) as s:
            row = s.get(NotificationOutbox, msg.id)
            if row is None:
                return
            delivered = dict(row.delivered or {})
            errors = []
            for channel, (status, detail) in results.items():
                delivered[channel] = status
                s.add(NotificationLog(notification_type=msg.event, job_id=row.job_id, status=status,
                                      severity=msg.severity, is_test=row.is_test,
                                      error_message=detail if status == "failed" else None,
                                      delivery_details={"channel": channel, "attempt": row.attempts + 1,
                                                        "outbox_id": str(row.id), "subject": msg.subject,
                                                        "detail": detail}))
                if status == "failed":
                    errors.append(detail)
            row.attempts += 1
            row.delivered = delivered
            if not results:
                row.status, row.last_error = "failed", "no notification channel is configured any more"
            elif not errors:
                row.status, row.last_error = "sent", None
            elif row.attempts >= max_attempts:
                row.status, row.last_error = "failed", "; ".join(errors)[:2000]
                log.warning("notification %s failed after %d attempts: %s", row.id, row.attempts, row.last_error)
            else:
                row.last_error = "; ".join(errors)[:2000]
                row.next_attempt_at = now + backoff(row.attempts)
            s.add(row)
