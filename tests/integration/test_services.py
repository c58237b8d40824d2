"""Service behaviour on both databases: validation names the field, failures leave nothing behind."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsm_core.credentials.sealing import load_private_key, unseal
from dsm_core.credentials.secret import Secret
from dsm_core.models import AuditLog, CredentialSet, Job, Server, ServerGroupMember
from dsm_core.services import credentials, groups, jobs, servers, settings, users
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import Conflict, NotFound, ValidationError
from dsm_core.services.servers import CsvImportError
from tests.configuration_seed import seed_bios


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return len(s.exec(select(model)).all())


# --- servers -----------------------------------------------------------------------------------------

def test_add_server_parses_port_and_refuses_duplicates(admin: ServiceContext) -> None:
    view = servers.add_server(admin, "127.0.10.1:8443", hostname="r750-01.lab")
    assert (view["ip_address"], view["port"]) == ("127.0.10.1", 8443)
    assert servers.add_server(admin, "127.0.10.1")["port"] == 443  # same IP, other port: another iDRAC
    with pytest.raises(Conflict, match="already exists"):
        servers.add_server(admin, "127.0.10.1:8443")
    v6 = servers.add_server(admin, "[fd00::10]:8443")
    assert (v6["ip_address"], v6["port"]) == ("fd00::10", 8443)


@pytest.mark.parametrize(("address", "field"), [
    ("10.0.0.300", "address"), ("127.0.0.1:70000", "address"), ("", "address"),
])
def test_add_server_bad_address_names_field(admin: ServiceContext, engine: Engine, address: str, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        servers.add_server(admin, address)
    assert err.value.field == field
    assert _count(engine, Server) == 0


def test_server_refs(admin: ServiceContext) -> None:
    a = servers.add_server(admin, "127.0.10.1:8443", hostname="r750-01", service_tag="F54P1G3")
    servers.add_server(admin, "127.0.10.1:8444")
    for ref in (a["id"], "127.0.10.1:8443", "R750-01", "f54p1g3"):
        assert servers.show_server(admin, ref)["id"] == a["id"]
    with pytest.raises(ValidationError, match="matches 2 servers"):
        servers.show_server(admin, "127.0.10.1")
    with pytest.raises(NotFound, match="no server matches"):
        servers.show_server(admin, "nosuch")


def test_server_own_credentials_are_sealed_for_the_worker(admin: ServiceContext, engine: Engine,
                                                           worker_key_path) -> None:
    servers.add_server(admin, "127.0.10.1:8443", username="root", password=Secret("calvin-own"))
    with Session(engine) as s:
        row = s.exec(select(Server)).one()
    assert row.idrac_password_sealed and "calvin-own" not in row.idrac_password_sealed
    assert unseal(row.idrac_password_sealed, load_private_key(worker_key_path)).reveal() == "calvin-own"
    assert servers.show_server(admin, "127.0.10.1")["credential_source"] == "server's own (root)"
    with pytest.raises(ValidationError, match="both a user name and a password"):
        servers.add_server(admin, "127.0.10.2", username="root")


def test_credential_source_follows_resolution(admin: ServiceContext) -> None:
    servers.add_server(admin, "127.0.10.1:8443")
    assert "no credential set" in servers.show_server(admin, "127.0.10.1")["credential_source"]
    credentials.add_credential_set(admin, "fallback", "admin", Secret("a"), is_default=True)
    assert servers.show_server(admin, "127.0.10.1")["credential_source"] == "default set: fallback (admin)"
    credentials.add_credential_set(admin, "lab", "root", Secret("b"), ranges=["127.0.0.0/8"], priority=10)
    assert servers.show_server(admin, "127.0.10.1")["credential_source"] == "ip range: lab (root)"
    credentials.add_credential_set(admin, "special", "ops", Secret("c"))
    servers.update_server(admin, "127.0.10.1", credential_set="special")
    assert servers.show_server(admin, "127.0.10.1")["credential_source"] == "linked set: special (ops)"


CSV_GOOD = "ip_address,port,hostname,service_tag,model,credential_set,groups,notes\n" \
           "127.0.10.1,8443,r750-01,F54P1G3,PowerEdge R750,lab,web;db,first\n" \
           "127.0.10.2:8443,,r750-02,,,,web,\n"


def test_csv_import_creates_servers_and_memberships(admin: ServiceContext, engine: Engine) -> None:
    credentials.add_credential_set(admin, "lab", "root", Secret("x"))
    groups.add_group(admin, "web")
    groups.add_group(admin, "db")
    result = servers.import_servers_csv(admin, CSV_GOOD)
    assert result == {"imported": 2, "skipped": []}
    assert _count(engine, Server) == 2 and _count(engine, ServerGroupMember) == 3
    shown = servers.show_server(admin, "r750-01")
    assert shown["groups"] == ["db", "web"] and shown["service_tag"] == "F54P1G3"


def test_csv_import_reports_every_bad_row_and_imports_none(admin: ServiceContext, engine: Engine) -> None:
    groups.add_group(admin, "web")
    servers.add_server(admin, "127.0.10.9:443")
    text = ("ip_address,hostname,groups,credential_set\n"
            "127.0.10.1,ok-1,web,\n"
            "10.0.0.300,bad-ip,,\n"
            "127.0.10.3,bad host!,,\n"
            "127.0.10.4,ok-4,nosuchgroup,\n"
            "127.0.10.5,ok-5,,nosuchset\n"
            "127.0.10.9,dupe-of-existing,,\n"
            "127.0.10.1,dupe-in-file,,\n")
    audit_before = _count(engine, AuditLog)
    with pytest.raises(CsvImportError) as err:
        servers.import_servers_csv(admin, text, source="/tmp/servers.csv")
    lines = err.value.errors
    assert len(lines) == 6
    assert lines[0] == 'servers.csv line 3: ip_address: "10.0.0.300" is not an IPv4 or IPv6 address; ' \
                       "write IP, IP:PORT or [IPv6]:PORT"
    assert "line 4: hostname" in lines[1] and "line 5: groups" in lines[2]
    assert "line 6: credential_set" in lines[3] and "line 7: ip_address" in lines[4]
    assert "line 8: ip_address" in lines[5] and "repeats line 2" in lines[5]
    assert _count(engine, Server) == 1 and _count(engine, AuditLog) == audit_before  # nothing written
    result = servers.import_servers_csv(admin, text, skip_bad=True)
    assert result["imported"] == 1 and len(result["skipped"]) == 6
    assert _count(engine, Server) == 2


@pytest.mark.parametrize(("text", "hint"), [
    ("hostname\nx\n", "no ip_address column"),
    ("ip_address,rack\n1.2.3.4,7\n", "unknown column(s) rack"),
    ("ip_address\n", "no server rows"),
])
def test_csv_header_problems(admin: ServiceContext, text: str, hint: str) -> None:
    with pytest.raises(ValidationError, match=hint.replace("(", r"\(").replace(")", r"\)")):
        servers.import_servers_csv(admin, text)


def test_remove_server_cascades_memberships(admin: ServiceContext, engine: Engine) -> None:
    servers.add_server(admin, "127.0.10.1:8443")
    groups.add_group(admin, "web")
    groups.add_member(admin, "web", "127.0.10.1")
    servers.remove_server(admin, "127.0.10.1")
    assert _count(engine, ServerGroupMember) == 0 and groups.show_group(admin, "web")["members"] == []


# --- groups ------------------------------------------------------------------------------------------

def test_group_members_ordered_by_priority(admin: ServiceContext) -> None:
    groups.add_group(admin, "esx", group_type="rack", min_healthy_servers=2, color="#00aa00")
    for i, prio in ((1, 30), (2, 10), (3, 20)):
        servers.add_server(admin, f"127.0.10.{i}:8443")
        groups.add_member(admin, "esx", f"127.0.10.{i}", priority=prio)
    shown = groups.show_group(admin, "esx")
    assert [m["address"] for m in shown["members"]] == ["127.0.10.2:8443", "127.0.10.3:8443", "127.0.10.1:8443"]
    with pytest.raises(Conflict):
        groups.add_member(admin, "esx", "127.0.10.1")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"group_type": "vcenter_cluster"}, "type"), ({"color": "blue"}, "color"),
    ({"min_healthy_servers": -1}, "min_healthy_servers"),
])
def test_group_validation(admin: ServiceContext, kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        groups.add_group(admin, "g", **kwargs)
    assert err.value.field == field


# --- credentials -------------------------------------------------------------------------------------

def test_only_one_default_set(admin: ServiceContext, engine: Engine) -> None:
    credentials.add_credential_set(admin, "a", "root", Secret("x"), is_default=True)
    credentials.add_credential_set(admin, "b", "root", Secret("y"), is_default=True)
    with Session(engine) as s:
        assert [c.name for c in s.exec(select(CredentialSet).where(CredentialSet.is_default == True)).all()] == ["b"]  # noqa: E712


def test_credential_set_validation(admin: ServiceContext, engine: Engine) -> None:
    with pytest.raises(ValidationError) as err:
        credentials.add_credential_set(admin, "x", "root", Secret("p"), ranges=["10.0.0.0/8", "10.0.0.0/33"])
    assert err.value.field == "range" and "10.0.0.0/33" in str(err.value)
    with pytest.raises(ValidationError, match="password"):
        credentials.add_credential_set(admin, "x", "root", Secret(""))
    assert _count(engine, CredentialSet) == 0


def test_ranges_are_normalised(admin: ServiceContext) -> None:
    credentials.add_credential_set(admin, "x", "root", Secret("p"), ranges=["10.1.2.3/16", "fd00::1/64"])
    sets = credentials.list_credential_sets(admin)
    assert sorted(r["ip_range"] for r in sets[0]["ranges"]) == ["10.1.0.0/16", "fd00::/64"]
    assert "password_set" in sets[0] and all("sealed" not in k for k in sets[0])


# --- users -------------------------------------------------------------------------------------------

def test_last_admin_is_protected(admin: ServiceContext) -> None:
    with pytest.raises(Conflict, match="last admin"):
        users.set_role(admin, "alice", "viewer")
    with pytest.raises(Conflict, match="last admin"):
        users.remove_user(admin, "alice")
    users.set_role(admin, "oscar", "admin")
    users.set_role(admin, "alice", "operator")
    with pytest.raises(ValidationError, match="role"):
        users.add_user(admin, "bob", "root")


# --- settings ----------------------------------------------------------------------------------------

def test_settings_validate_and_seal(admin: ServiceContext, engine: Engine, worker_key_path) -> None:
    assert settings.set_setting(admin, "network.max_retry_attempts", "5")["max_retry_attempts"] == 5
    with pytest.raises(ValidationError) as err:
        settings.set_setting(admin, "network.max_retry_attempts", "500")
    assert err.value.field == "network.max_retry_attempts" and "0 to 20" in str(err.value)
    with pytest.raises(ValidationError, match="keys of activity"):
        settings.set_setting(admin, "activity.nonsense", "1")
    with pytest.raises(ValidationError, match="command line"):
        settings.set_setting(admin, "notification.smtp_password", "plain")
    view = settings.set_setting(admin, "notification.smtp_password", Secret("smtp-pass"))
    assert view["smtp_password_set"] is True and "smtp-pass" not in str(view)
    shown = settings.show_settings(admin)
    assert set(shown) == {"activity", "network", "notification", "maintenance", "virtual_media"}
    assert shown["activity"]["idrac_max_concurrent"] == 2
    settings.set_setting(admin, "activity.pause_idrac_operations", "true")
    assert settings.show_settings(admin, "activity")["activity"]["pause_idrac_operations"] is True


# --- jobs --------------------------------------------------------------------------------------------

VALID_JOBS: list[tuple[str, dict[str, list[str]], dict]] = [
    ("discovery_scan", {}, {"ranges": ["127.0.8.0/22", "127.0.20.1-127.0.20.9"], "exclude": ["127.0.8.1"]}),
    ("test_credentials", {"servers": ["S"]}, {}),
    ("refresh_server_info", {"servers": ["S"]}, {}),
    ("health_check", {"groups": ["G"]}, {}),
    ("power_action", {"servers": ["S"]}, {"action": "GracefulRestart", "force_after_timeout": True}),
    ("fetch_event_logs", {"servers": ["S"]}, {"logs": ["sel"]}),
    ("boot_configuration", {"servers": ["S"]}, {"target": "Pxe", "enabled": "Once"}),
    ("virtual_media_mount", {"servers": ["S"]}, {"image_url": "http://127.0.0.1:8080/esxi.iso"}),
    ("virtual_media_unmount", {"servers": ["S"]}, {}),
    ("bios_config_read", {"servers": ["S"]}, {}),
    ("bios_config_write", {"servers": ["S"]}, {"attributes": {"BootMode": "Uefi"}}),
    ("scp_export", {"servers": ["S"]}, {"backup_name": "before-update"}),
    ("firmware_update", {"servers": ["S"]}, {"image_uri": "http://127.0.0.1:8080/BIOS.EXE"}),
    ("full_server_update", {"servers": ["S"]}, {"image_uri": "http://127.0.0.1:8080/BIOS.EXE"}),
    ("vcenter_sync", {}, {}),
    ("openmanage_sync", {}, {}),
    ("server_group_safety_check", {"groups": ["G"]}, {}),
    ("prepare_host_for_update", {"servers": ["S"]}, {}),
    ("verify_host_after_update", {"servers": ["S"]}, {}),
    ("rolling_cluster_update", {"groups": ["G"]}, {"image_uri": "http://127.0.0.1:8080/BIOS.EXE"}),
]


def _targets(scope: dict[str, list[str]]) -> dict[str, list[str]]:
    return {"servers": ["127.0.10.1:8443"] if "servers" in scope else [],
            "groups": ["esx"] if "groups" in scope else []}


@pytest.mark.parametrize(("job_type", "scope", "details"), VALID_JOBS, ids=[j[0] for j in VALID_JOBS])
def test_valid_jobs_are_queued_with_defaults(operator: ServiceContext, admin: ServiceContext, job_type: str,
                                             scope: dict, details: dict) -> None:
    added = servers.add_server(admin, "127.0.10.1:8443")
    seed_bios(admin.engine, added["id"])  # what a bios_config_write is checked against (its registry)
    groups.add_group(admin, "esx")
    job = jobs.create_job(operator, job_type, details=details, **_targets(scope))
    assert job["status"] == "pending" and job["job_type"] == job_type
    assert set(job["target_scope"]) == {k for k in ("servers", "groups") if k in scope}
    shown = jobs.show_job(operator, job["id"])
    assert shown["details"] == job["details"]


@pytest.mark.parametrize(("job_type", "targets", "details", "field", "hint"), [
    ("power_action", {"servers": ["127.0.10.1:8443"]}, {}, "details.action", "required"),
    ("power_action", {"servers": ["127.0.10.1:8443"]}, {"action": "Explode"}, "details.action", "'On'"),
    ("power_action", {}, {"action": "On"}, "target_scope", "needs targets"),
    ("power_action", {"servers": ["127.0.10.1:8443"]}, {"action": "On", "speed": 3}, "details.speed", "takes"),
    ("discovery_scan", {}, {"ranges": ["10.0.0.0/33"]}, "details.ranges", "CIDR"),
    ("discovery_scan", {}, {"ranges": ["10.0.0.0/8"]}, "details", "split the scan"),
    ("discovery_scan", {"servers": ["127.0.10.1:8443"]}, {"ranges": ["10.0.0.0/24"]}, "target_scope", "no targets"),
    ("scp_import", {"servers": ["127.0.10.1:8443"]}, {"backup_id": "nope"}, "details.backup_id", "SCP backup"),
    ("firmware_update", {"servers": ["127.0.10.1:8443"]}, {}, "details", "exactly one of repository"),
    ("firmware_update", {"servers": ["127.0.10.1:8443"]}, {"repository": "missing"}, "details.repository", "does not exist"),
    ("virtual_media_mount", {"servers": ["127.0.10.1:8443"]}, {"image_url": "ftp://x/y.iso"}, "details.image_url", "http"),
    ("bios_config_write", {"servers": ["127.0.10.1:8443"]}, {"attributes": {}}, "details.attributes", "at least 1"),
    ("server_group_safety_check", {"servers": ["127.0.10.1:8443"]}, {}, "target_scope", "--group"),
    ("nonsense", {}, {}, "job_type", "discovery_scan"),
])
def test_bad_jobs_are_refused_not_queued(operator: ServiceContext, admin: ServiceContext, engine: Engine,
                                         job_type: str, targets: dict, details: dict, field: str, hint: str) -> None:
    servers.add_server(admin, "127.0.10.1:8443")
    with pytest.raises(ValidationError) as err:
        jobs.create_job(operator, job_type, details=details, **targets)
    assert err.value.field == field, str(err.value)
    assert hint in str(err.value)
    assert _count(engine, Job) == 0


def test_unknown_cluster_is_refused(operator: ServiceContext, engine: Engine) -> None:
    with pytest.raises(NotFound, match="vcenter_sync"):
        jobs.create_job(operator, "cluster_safety_check", clusters=["DC0_C0"])
    assert _count(engine, Job) == 0


def test_cancel_pending_and_running(operator: ServiceContext, admin: ServiceContext, engine: Engine) -> None:
    servers.add_server(admin, "127.0.10.1:8443")
    job = jobs.create_job(operator, "health_check", servers=["127.0.10.1"])
    assert jobs.cancel_job(operator, job["id"][:13])["status"] == "cancelled"  # a unique prefix is enough
    with pytest.raises(Conflict, match="already cancelled"):
        jobs.cancel_job(operator, job["id"])
    running = jobs.create_job(operator, "health_check", servers=["127.0.10.1"])
    with engine.begin() as conn:
        conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == uuid.UUID(running["id"])).values(status="running"))
    after = jobs.cancel_job(operator, running["id"])
    assert after["status"] == "running" and after["cancel_requested"] is True
    assert [j["id"] for j in jobs.list_jobs(operator, status="running")] == [running["id"]]
    with pytest.raises(ValidationError, match="status"):
        jobs.list_jobs(operator, status="stuck")


def test_a_job_is_found_by_the_short_id_the_console_shows(operator: ServiceContext) -> None:
    """The console shows the last 8 hex digits of a job id (the random part of a UUIDv7)."""
    servers.add_server(operator, "10.7.0.1")
    job = jobs.create_job(operator, "health_check", servers=["10.7.0.1"])
    jobs.create_job(operator, "health_check", servers=["10.7.0.1"])
    assert jobs.show_job(operator, uuid.UUID(job["id"]).hex[-8:])["id"] == job["id"]
    with pytest.raises(NotFound):
        jobs.show_job(operator, "ffffffffff")


def test_retry_makes_a_new_job_with_the_same_targets_only_once_ended(operator: ServiceContext) -> None:
    servers.add_server(operator, "10.7.0.2")
    job = jobs.create_job(operator, "power_action", servers=["10.7.0.2"], details={"action": "On"})
    with pytest.raises(Conflict, match="once it has ended"):
        jobs.retry_job(operator, job["id"])
    jobs.cancel_job(operator, job["id"])
    again = jobs.retry_job(operator, job["id"])
    assert again["id"] != job["id"] and again["status"] == "pending"
    assert again["target_scope"] == job["target_scope"] and again["details"] == job["details"]
