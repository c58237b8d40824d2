"""The specification's depth in the service layer, on SQLite and PostgreSQL: credential sets edited and
guarded, the webhook URL sealed, an audit log that says what was done, roles as the specification states
them, stored logs/health/activity read back with filters, settings that say whether they act, and a pending
job that says why no worker will run it."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsm_core.credentials.sealing import is_sealed
from dsm_core.credentials.secret import Secret
from dsm_core.models import (
    AuditLog,
    IdracCommand,
    NotificationSettings,
    Server,
    ServerEventLog,
    ServerHealth,
    WorkerHeartbeat,
)
from dsm_core.services import audit, credentials, groups, history, jobs, servers, settings
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import Conflict, PermissionDenied, ValidationError
from dsm_core.timeutil import utcnow

SERVER = "127.0.10.1:8443"


def _server_id(engine: Engine, ref: str = SERVER) -> uuid.UUID:
    with Session(engine) as s:
        ip, port = ref.split(":")
        return s.exec(select(Server).where(Server.ip_address == ip, Server.port == int(port))).one().id


def test_credential_sets_are_edited_and_a_used_set_is_not_removed_silently(
        admin: ServiceContext, engine: Engine) -> None:
    credentials.add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=["10.0.0.0/8"], is_default=True)
    credentials.add_credential_set(admin, "dc2", "root", Secret("calvin"))
    view = credentials.update_credential_set(admin, "dc2", username="svc-dsm", priority=5, is_default=True)
    assert (view["username"], view["priority"], view["is_default"]) == ("svc-dsm", 5, True)
    sets = {s["name"]: s for s in credentials.list_credential_sets(admin)}
    assert sets["lab"]["is_default"] is False  # one default at a time
    with pytest.raises(ValidationError) as bad:
        credentials.update_credential_set(admin, "dc2", priority=-1)
    assert bad.value.field == "priority"
    with pytest.raises(ValidationError):
        credentials.update_credential_set(admin, "dc2")  # nothing to change: said, not a silent no-op

    for n in range(3):
        servers.add_server(admin, f"127.0.10.{n + 1}:8443", credential_set="dc2")
    with pytest.raises(Conflict, match="linked to 3 server"):
        credentials.remove_credential_set(admin, "dc2")
    with Session(engine) as s:
        assert all(x.credential_set_id is not None for x in s.exec(select(Server)).all())
    credentials.remove_credential_set(admin, "dc2", force=True)
    with Session(engine) as s:
        assert all(x.credential_set_id is None for x in s.exec(select(Server)).all())
        entry = s.exec(select(AuditLog).where(AuditLog.action == "credentials.remove")).one()
    assert entry.details == {"name": "dc2", "unlinked_servers": 3}


def test_the_webhook_url_is_a_secret(admin: ServiceContext, viewer: ServiceContext, engine: Engine) -> None:
    url = "https://teams.lab.local/webhookb2/abc@def/IncomingWebhook/TOKEN-canary-4711/xyz"
    with pytest.raises(ValidationError, match="standard input"):
        settings.set_setting(admin, "notification.teams_webhook_url", url)  # plain text: refused
    with pytest.raises(ValidationError) as bad:
        settings.set_setting(admin, "notification.teams_webhook_url", Secret("ftp://TOKEN-canary-4711"))
    assert "canary" not in str(bad.value)  # a refused secret is not echoed either
    with pytest.raises(PermissionDenied):
        settings.set_setting(viewer, "notification.teams_webhook_url", Secret(url))
    settings.set_setting(admin, "notification.teams_webhook_url", Secret(url))
    shown = settings.show_settings(viewer, "notification")["notification"]
    assert shown["teams_webhook_url_set"] is True and "teams_webhook_url" not in shown
    with Session(engine) as s:
        row = s.exec(select(NotificationSettings)).one()
        assert is_sealed(row.teams_webhook_url_sealed)
    with engine.connect() as conn:
        everything = json.dumps([[str(v) for v in r] for t in ("notification_settings", "audit_logs")
                                 for r in conn.execute(sa.text(f"SELECT * FROM {t}")).all()])
    assert "canary" not in everything


def test_the_audit_log_says_what_was_done_and_only_admins_read_it(
        admin: ServiceContext, operator: ServiceContext, viewer: ServiceContext) -> None:
    servers.add_server(admin, SERVER, hostname="r750-01")
    servers.update_server(operator, SERVER, hostname="r750-01.lab", notes="rack 4")
    jobs.create_job(operator, "power_action", servers=[SERVER], details={"action": "ForceOff"})
    with pytest.raises(ValidationError, match="image_url: holds a user name or password"):
        jobs.create_job(operator, "virtual_media_mount", servers=[SERVER],
                        details={"image_url": "cifs://media:s3cret-canary@10.0.0.5/isos/esxi.iso"})
    jobs.create_job(operator, "virtual_media_mount", servers=[SERVER],
                    details={"image_url": "cifs://10.0.0.5/isos/esxi.iso"})
    settings.set_setting(admin, "activity.log_level", "errors_only")

    rows = audit.list_audit(admin)
    by_action = {r["action"]: r for r in reversed(rows)}
    assert by_action["jobs.create"]["username"] == "oscar"
    power = next(r for r in rows if r["action"] == "jobs.create" and r["details"]["job_type"] == "power_action")
    assert power["details"]["details"]["action"] == "ForceOff"
    media = next(r for r in rows if r["action"] == "jobs.create" and r["details"]["job_type"] != "power_action")
    assert "s3cret" not in json.dumps(audit.list_audit(admin)) and media["details"]["details"]["image_url"] == \
        "cifs://10.0.0.5/isos/esxi.iso"
    update = by_action["servers.update"]["details"]["changes"]
    assert update["hostname"] == {"old": "r750-01", "new": "r750-01.lab"}
    assert by_action["settings.set"]["details"] == {"key": "log_level", "value": "errors_only", "previous": "all"}

    assert {r["username"] for r in audit.list_audit(admin, user="oscar")} == {"oscar"}
    assert {r["action"] for r in audit.list_audit(admin, action="servers.")} == {"servers.add", "servers.update"}
    assert audit.list_audit(admin, since="1h") and not audit.list_audit(admin, since="2999-01-01T00:00Z")
    with pytest.raises(ValidationError) as bad:
        audit.list_audit(admin, since="yesterday-ish")
    assert bad.value.field == "since"
    with pytest.raises(ValidationError) as bad:
        audit.list_audit(admin, action="nonsense")
    assert bad.value.field == "action"
    for who in (operator, viewer):
        with pytest.raises(PermissionDenied):
            audit.list_audit(who)


def test_operators_create_and_update_but_removing_is_admin(
        admin: ServiceContext, operator: ServiceContext, engine: Engine) -> None:
    servers.add_server(operator, SERVER)
    groups.add_group(operator, "web")
    groups.update_group(operator, "web", color="#ff0000")
    with pytest.raises(PermissionDenied, match="admin"):
        servers.remove_server(operator, SERVER)
    with pytest.raises(PermissionDenied, match="admin"):
        groups.remove_group(operator, "web")
    groups.remove_group(admin, "web")
    servers.remove_server(admin, SERVER)


def test_stored_logs_health_and_activity_read_back_with_filters(
        admin: ServiceContext, viewer: ServiceContext, engine: Engine) -> None:
    servers.add_server(admin, SERVER)
    sid = _server_id(engine)
    now = utcnow()
    with Session(engine) as s:
        for n, (sev, cat, age) in enumerate([("Critical", "Storage", 1), ("OK", "Audit", 2), ("Warning", "Audit", 50)]):
            s.add(ServerEventLog(server_id=sid, log_type="sel", event_id=str(n + 1), severity=sev, category=cat,
                                 message=f"event {n}", timestamp=now - timedelta(hours=age)))
        for age in range(30):  # more than the console's old 10-check trend
            s.add(ServerHealth(server_id=sid, overall_health="Critical" if age < 2 else "OK",
                               timestamp=now - timedelta(hours=age)))
        s.add(IdracCommand(server_id=sid, command_type="GET", endpoint="/redfish/v1/Systems", full_url="https://x/",
                           status_code=200, response_time_ms=7000, success=True, timestamp=now))
        s.add(IdracCommand(server_id=sid, command_type="GET", endpoint="/redfish/v1/Chassis", full_url="https://x/",
                           status_code=500, response_time_ms=20, success=False, error_message="boom", timestamp=now))
        s.commit()
    assert [e["severity"] for e in history.event_logs(viewer, SERVER, severity="critical")] == ["Critical"]
    assert len(history.event_logs(viewer, SERVER, since="1d")) == 2
    assert {e["category"] for e in history.event_logs(viewer, SERVER, category="audit")} == {"Audit"}
    with pytest.raises(ValidationError) as bad:
        history.event_logs(viewer, SERVER, severity="loud")
    assert bad.value.field == "severity"
    trend = history.health_history(viewer, SERVER)
    assert len(trend) == 30 and trend[0]["overall_health"] == "Critical"
    assert len(history.health_history(viewer, SERVER, since="330m")) == 6  # ages 0..5 h
    assert [c["endpoint"] for c in history.activity(viewer, server=SERVER, errors=True)] == ["/redfish/v1/Chassis"]
    # "slow" is activity.slow_command_threshold_ms (5000 by default), not a constant
    assert [c["endpoint"] for c in history.activity(viewer, slow=True)] == ["/redfish/v1/Systems"]
    settings.set_setting(admin, "activity.slow_command_threshold_ms", "10")
    assert len(history.activity(viewer, slow=True)) == 2


def test_settings_say_which_keys_act_and_unused_ones_are_not_listed(viewer: ServiceContext) -> None:
    shown = settings.show_settings(viewer)
    assert "max_concurrent_connections" not in shown["network"]
    notes = settings.pending_notes()
    assert notes == {"network.require_prereq_validation": "takes effect with firmware updates"}
    assert "activity.log_retention_days" not in notes  # the scheduler's retention acts on it now
    assert "notification.smtp_host" not in notes  # the notifier delivers
    assert "network.max_requests_per_minute" not in notes  # it throttles now
    assert "activity.slow_command_threshold_ms" not in notes
    listed = {f"{sec}.{k.removesuffix('_set')}" for sec, values in shown.items() for k in values}
    assert listed == {f"{sec}.{k}" for sec, (_, keys) in settings.SECTIONS.items() for k in keys}


def test_a_pending_job_says_when_no_worker_runs_its_type(admin: ServiceContext, engine: Engine) -> None:
    servers.add_server(admin, SERVER)
    health = jobs.create_job(admin, "health_check", servers=[SERVER])
    bios = jobs.create_job(admin, "bios_config_read", servers=[SERVER])
    assert "no worker is running" in jobs.show_job(admin, health["id"])["waiting"]
    with Session(engine) as s:
        s.add(WorkerHeartbeat(hostname="w1", pid=1, version="t", handled_types=["health_check"],
                              last_beat_at=utcnow()))
        s.commit()
    assert jobs.show_job(admin, health["id"])["waiting"] is None
    listed = {j["id"]: j for j in jobs.list_jobs(admin)}
    assert "no running worker handles bios_config_read" in listed[bios["id"]]["waiting"]


def test_a_job_shows_its_children(admin: ServiceContext) -> None:
    servers.add_server(admin, SERVER)
    parent = jobs.create_job(admin, "health_check", servers=[SERVER])
    child = jobs.create_job(admin, "refresh_server_info", servers=[SERVER], parent_job_id=uuid.UUID(parent["id"]))
    assert [c["id"] for c in jobs.show_job(admin, parent["id"])["children"]] == [child["id"]]
