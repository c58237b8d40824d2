"""Notifications delivered for real: an SMTP server (aiosmtpd) and an HTTP receiver on loopback, syslog over UDP;
each attempt a notification_logs row; a dead or silent relay leads to retries with backoff and a failed row, and a
worker whose relay hangs keeps running jobs."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import col, select

from dsm_core.credentials.sealing import load_private_key
from dsm_core.credentials.secret import Secret
from dsm_core.db.engine import read_scope
from dsm_core.models import AuditLog, IdracCommand, Job, NotificationLog, NotificationOutbox
from dsm_core.services import jobs, notifications, settings
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import Conflict
from dsm_worker.notifier import Notifier
from tests.conftest import Templates
from tests.worker.conftest import make_install

TOKEN = "s3cr3t-webhook-token-0123456789"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]  # aiosmtpd's Controller cannot take port 0
    probe.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"1")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhookb2/{TOKEN}", got
    finally:
        server.shutdown()


@pytest.fixture
def syslog() -> Iterator[tuple[int, socket.socket]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock.getsockname()[1], sock
    sock.close()


def _logs(engine: Any) -> list[NotificationLog]:
    with read_scope(engine) as s:
        return list(s.exec(select(NotificationLog).order_by(col(NotificationLog.created_at))).all())


def _outbox(engine: Any, row_id: str) -> NotificationOutbox:
    with read_scope(engine) as s:
        row = s.get(NotificationOutbox, uuid.UUID(row_id))
        assert row is not None
        return row


def test_a_test_notification_reaches_smtp_the_webhook_and_syslog_with_a_log_row_each(
        admin: ServiceContext, worker_key_path: Path, smtp: tuple[int, _Inbox],
        receiver: tuple[str, list[dict[str, Any]]], syslog: tuple[int, socket.socket]) -> None:
    with pytest.raises(Conflict, match="no notification channel"):
        notifications.send_test(admin)
    port, inbox = smtp
    url, posts = receiver
    for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", str(port)), ("smtp_starttls", "false"),
                       ("smtp_from_email", "dsm@dc1.example"), ("smtp_recipients", "ops@dc1.example,noc@dc1.example"),
                       ("syslog_host", "127.0.0.1"), ("syslog_port", str(syslog[0]))):
        settings.set_setting(admin, f"notification.{key}", value)
    settings.set_setting(admin, "notification.teams_webhook_url", Secret(url))
    queued = notifications.send_test(admin)
    assert sorted(queued["channels"]) == ["smtp", "syslog", "webhook"]
    notifier = Notifier(admin.engine, load_private_key(worker_key_path), timeout=5)
    assert asyncio.run(notifier.deliver_due()) == 1

    (mail,) = inbox.messages
    assert sorted(mail.rcpt_tos) == ["noc@dc1.example", "ops@dc1.example"] and mail.mail_from == "dsm@dc1.example"
    assert b"Subject: [DSM] DSM test notification" in mail.content
    (post,) = posts
    assert post["path"] == f"/webhookb2/{TOKEN}" and post["json"]["@type"] == "MessageCard"
    assert post["json"]["summary"] == "DSM test notification"
    datagram = syslog[1].recv(9000).decode()
    assert datagram.startswith("<134>1 ") and " dsm - test - DSM test notification" in datagram
    logs = _logs(admin.engine)
    assert sorted((r.delivery_details or {})["channel"] for r in logs) == ["smtp", "syslog", "webhook"]
    assert all(r.status == "sent" and r.is_test for r in logs)
    assert _outbox(admin.engine, queued["id"]).status == "sent"
    # the webhook's token is a secret: not in a log row, not in the outbox, not in the audit log
    with read_scope(admin.engine) as s:
        stored = " ".join(str(r) for model in (NotificationLog, NotificationOutbox, AuditLog, IdracCommand)
                          for r in s.exec(select(model)).all())
    assert TOKEN not in stored and "webhook 127.0.0.1:" in stored
    assert asyncio.run(notifier.deliver_due()) == 0  # nothing is sent twice


def test_a_dead_relay_is_retried_with_backoff_then_failed_and_a_good_channel_is_not_resent(
        admin: ServiceContext, worker_key_path: Path, receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, posts = receiver
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there: connection refused
    for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", str(port)), ("smtp_from_email", "dsm@dc1.example"),
                       ("smtp_recipients", "ops@dc1.example"), ("max_attempts", "3")):
        settings.set_setting(admin, f"notification.{key}", value)
    settings.set_setting(admin, "notification.teams_webhook_url", Secret(url))
    queued = notifications.send_test(admin)
    clock = [datetime.now(UTC)]
    notifier = Notifier(admin.engine, load_private_key(worker_key_path), clock=lambda: clock[0], timeout=3)
    for attempt, wait in ((1, 30), (2, 60)):
        assert asyncio.run(notifier.deliver_due()) == 1
        row = _outbox(admin.engine, queued["id"])
        assert row.status == "pending" and row.attempts == attempt and "SMTP 127.0.0.1" in (row.last_error or "")
        assert asyncio.run(notifier.deliver_due()) == 0  # not before its backoff
        clock[0] += timedelta(seconds=wait)
    assert asyncio.run(notifier.deliver_due()) == 1
    row = _outbox(admin.engine, queued["id"])
    assert row.status == "failed" and row.attempts == 3 and "ConnectionRefusedError" in (row.last_error or "")
    logs = _logs(admin.engine)
    smtp_rows = [r for r in logs if (r.delivery_details or {})["channel"] == "smtp"]
    assert [r.status for r in smtp_rows] == ["failed"] * 3 and all(r.error_message for r in smtp_rows)
    assert len(posts) == 1  # the webhook delivered on the first attempt and was not sent to again
    clock[0] += timedelta(hours=2)
    assert asyncio.run(notifier.deliver_due()) == 0


def test_a_worker_whose_relay_hangs_keeps_running_jobs_and_records_the_failure(
        templates: Templates, tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers: the SMTP greeting never comes
    try:
        install = make_install(templates, "sqlite", tmp_path, ["127.0.61.0/30"])
        from dsm_cli.main import os_username
        from tests.conftest import ctx_for

        admin = ctx_for(install.engine, os_username())
        for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", str(silent.getsockname()[1])),
                           ("smtp_from_email", "dsm@dc1.example"), ("smtp_recipients", "ops@dc1.example")):
            settings.set_setting(admin, f"notification.{key}", value)
        queued = notifications.send_test(admin)
        worker = install.start_worker("--scheduler-poll", "0.5")
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _outbox(install.engine, queued["id"]).attempts == 0:
                # meanwhile, jobs run: one after another while the relay hangs
                job = jobs.create_job(admin, "discovery_scan", details={"ranges": ["127.0.61.0/30"]})
                while time.monotonic() < deadline:
                    with read_scope(install.engine) as s:
                        row = s.get(Job, uuid.UUID(job["id"]))
                        assert row is not None
                        if row.status in ("completed", "failed"):
                            break
                    time.sleep(0.2)
                assert row.status == "completed", row.error
            row = _outbox(install.engine, queued["id"])
            assert row.attempts >= 1 and row.status == "pending" and "SMTP" in (row.last_error or "")
            assert worker.poll() is None  # alive
            logs = _logs(install.engine)
            assert logs and logs[-1].status == "failed"
        finally:
            worker.terminate()
            worker.wait(60)
    finally:
        silent.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd's; loopback only
def test_smtp_auth_uses_the_sealed_password_and_a_webhook_redirect_is_not_followed(
        admin: ServiceContext, worker_key_path: Path) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    seen: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"relay-pass-42")

    inbox = _Inbox()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.2:9/elsewhere")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", str(port)), ("smtp_starttls", "false"),
                           ("smtp_user", "dsm"), ("smtp_from_email", "dsm@dc1.example"),
                           ("smtp_recipients", "ops@dc1.example")):
            settings.set_setting(admin, f"notification.{key}", value)
        settings.set_setting(admin, "notification.smtp_password", Secret("relay-pass-42"))
        settings.set_setting(admin, "notification.teams_webhook_url",
                             Secret(f"http://127.0.0.1:{hook.server_address[1]}/hook/{TOKEN}"))
        queued = notifications.send_test(admin)
        asyncio.run(Notifier(admin.engine, load_private_key(worker_key_path), timeout=5).deliver_due())
    finally:
        controller.stop()
        hook.shutdown()
    assert seen == [("dsm", "relay-pass-42")] and len(inbox.messages) == 1
    logs = {(r.delivery_details or {})["channel"]: r for r in _logs(admin.engine)}
    assert logs["smtp"].status == "sent"
    assert logs["webhook"].status == "failed" and "HTTP 307 (redirects are not followed)" in (
        logs["webhook"].error_message or "")
    assert _outbox(admin.engine, queued["id"]).status == "pending"  # the webhook is retried later, alone
    with read_scope(admin.engine) as s:
        stored = " ".join(str(r) for model in (NotificationLog, NotificationOutbox, AuditLog)
                          for r in s.exec(select(model)).all())
    assert "relay-pass-42" not in stored and TOKEN not in stored


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_refuses_an_untrusted_relay_before_the_password_and_trusts_the_site_ca(
        admin: ServiceContext, worker_key_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult

    from dsm_sim.tls import make_certificate

    cert, key = make_certificate("relay.dc1.example", ["127.0.0.1"])
    (tmp_path / "relay.pem").write_bytes(cert)
    (tmp_path / "relay.key").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "relay.pem", tmp_path / "relay.key")
    seen: list[bytes] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        seen.append(data.password)
        return AuthResult(success=True)

    inbox = _Inbox()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        for k, v in (("smtp_host", "127.0.0.1"), ("smtp_port", str(port)), ("smtp_starttls", "true"),
                     ("smtp_user", "dsm"), ("smtp_from_email", "dsm@dc1.example"), ("smtp_recipients", "ops@x.example"),
                     ("max_attempts", "2")):
            settings.set_setting(admin, f"notification.{k}", v)
        settings.set_setting(admin, "notification.smtp_password", Secret("relay-pass-42"))
        queued = notifications.send_test(admin)
        clock = [datetime.now(UTC)]
        notifier = Notifier(admin.engine, load_private_key(worker_key_path), clock=lambda: clock[0], timeout=5)
        asyncio.run(notifier.deliver_due())  # the relay's certificate is signed by no CA this host trusts
        row = _outbox(admin.engine, queued["id"])
        assert row.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")
        assert seen == [] and inbox.messages == []  # refused before the password was sent
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "relay.pem"))  # the site CA, as the OS trust store
        clock[0] += timedelta(seconds=30)
        asyncio.run(notifier.deliver_due())
    finally:
        controller.stop()
    assert _outbox(admin.engine, queued["id"]).status == "sent"
    assert seen == [b"relay-pass-42"] and len(inbox.messages) == 1


def test_a_device_name_with_a_line_break_reaches_smtp_on_one_subject_line(smtp: tuple[int, _Inbox]) -> None:
    """A CR/LF in a name (an iDRAC's host name in a job-failed subject) made the email library raise ValueError,
    which nothing caught: the mail was dropped. Now the subject is one line and the mail is delivered; no header
    can be forged through it."""
    import email
    import uuid as _uuid

    from dsm_core.models import NotificationSettings
    from dsm_worker.notifier import Message, _smtp

    port, inbox = smtp
    conf = NotificationSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                smtp_from_email="dsm@example.test", smtp_recipients=["ops@example.test"])
    msg = Message(_uuid.uuid4(), "job_failed", "job failed on esx-01\r\nBcc: attacker@example.test", "body",
                  "critical", False, 0, {})
    assert _smtp(conf, None, msg, 10.0).startswith("SMTP 127.0.0.1")
    assert len(inbox.messages) == 1 and inbox.messages[0].rcpt_tos == ["ops@example.test"]
    parsed = email.message_from_bytes(inbox.messages[0].content)
    assert parsed["Subject"] == "[DSM] job failed on esx-01 Bcc: attacker@example.test"
    assert parsed["Bcc"] is None
