"""The disruption rule at creation (issue 26, part): every way of making a job that takes a server down — the CLI's own
commands, `dsm jobs create` with `--detail`, `--details-json` or `--cluster`, a window, a retry — passes the one check
in ``new_job``: an ESXi host of a known cluster goes down only through vCenter (in maintenance mode, or by the
full and rolling updates), and a group keeps its ``min_healthy_servers``. An admin may override with a reason,
recorded and audited; an operator may not."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from dsm_cli import main as cli
from dsm_core.db.engine import session_scope
from dsm_core.models import AuditLog, Job, Server
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.vcenter import list_vcenters, record_sync
from tests.conftest import ctx_for
from tests.integration import test_firmware_cli
from tests.integration.test_firmware_cli import ok
from tests.vcenter_seed import inventory, seed_vcenter

dsm = test_firmware_cli.dsm  # the in-process `dsm` fixture, shared
HOST = "127.0.20.1:8443"  # ESXi host esx-0-0 of cluster prod-0
IMAGE = "http://127.0.10.250/BIOS_X.EXE"
APP = [f"127.0.30.{i}:8443" for i in (1, 2, 3)]


def _jobs(engine: sa.Engine) -> list[Job]:
    with Session(engine) as s:
        return list(s.exec(select(Job)).all())


def _setup(run: object, engine: sa.Engine) -> None:
    seed_vcenter(ctx_for(engine, "alice"), inventory(hosts=3))
    ok(run, "groups", "add", "app", "--min-healthy", "2")
    for ref in APP:
        ok(run, "servers", "add", ref)
        ok(run, "groups", "add-member", "app", ref)
    with session_scope(engine) as s:
        for row in s.exec(select(Server).where(col(Server.ip_address).startswith("127.0.30."))).all():
            row.connection_status, row.power_state, row.overall_health = "connected", "On", "OK"
            s.add(row)


def test_an_esxi_host_in_service_is_not_taken_down_by_any_path_without_vcenter(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    run, engine = request.getfixturevalue("dsm")
    _setup(run, engine)
    refused = [
        ("power", "forcerestart", HOST, "--yes"),
        ("power", "gracefulshutdown", HOST, "--yes"),
        ("jobs", "create", "power_action", "--cluster", "prod-0", "--detail", "action=ForceRestart"),
        ("jobs", "create", "power_action", "--server", HOST, "--details-json", json.dumps({"action": "PowerCycle"})),
        ("firmware", "update", HOST, "--image-uri", IMAGE),
        ("jobs", "create", "firmware_update", "--server", HOST, "--detail", f"image_uri={IMAGE}"),
        ("boot", "once", HOST, "--target", "Pxe", "--reboot"),
        ("jobs", "create", "virtual_media_mount", "--server", HOST, "--details-json",
         json.dumps({"image_url": "http://127.0.10.250/esxi.iso", "reboot": True})),
        ("windows", "create", "--title", "fw", "--server", HOST, "--type", "firmware_update", "--start",
         "2030-01-06T02:00", "--end", "2030-01-06T03:00", "--detail", f"image_uri={IMAGE}"),
    ]
    for argv in refused:
        code, out, err = run(*argv)
        assert code == 4, (argv, code, out, err)
        assert "is ESXi host esx-0-0 of cluster prod-0 and is not in maintenance mode" in err, (argv, err)
        assert "--disruption-override" in err or "windows" in argv
    code, _, err = run("firmware", "update", HOST, "--image-uri", IMAGE)
    assert "full_server_update" in err
    assert _jobs(engine) == []
    # what takes nothing down is made as before: power on, an update staged for a later reboot
    ok(run, "power", "on", HOST)
    ok(run, "firmware", "update", HOST, "--image-uri", IMAGE, "--reboot", "none")
    # the safe ways: the full server update through vCenter, or the host in maintenance first
    ok(run, "jobs", "create", "full_server_update", "--server", HOST, "--detail", f"image_uri={IMAGE}")
    record_sync(ServiceContext(engine, SYSTEM), uuid.UUID(str(list_vcenters(ctx_for(engine, "alice"))[0]["id"])),
                inventory(hosts=3, maintenance=("esx-0-0",)))
    ok(run, "power", "forcerestart", HOST, "--yes")
    assert len(_jobs(engine)) == 4


def test_the_override_is_an_admins_with_a_reason_recorded_and_audited(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    run, engine = request.getfixturevalue("dsm")
    _setup(run, engine)
    monkeypatch.setattr(cli, "os_username", lambda: "oscar")  # an operator
    code, _, err = run("power", "powercycle", HOST, "--yes", "--disruption-override", "host hung")
    assert code == 3 and "admin" in err, err
    code, _, err = run("jobs", "create", "power_action", "--server", HOST, "--detail", "action=On",
                       "--detail", "disruption_override=x")
    assert code == 2 and "details.disruption_override: is not a detail of power_action" in err, err
    assert _jobs(engine) == []
    monkeypatch.setattr(cli, "os_username", lambda: "alice")
    code, _, err = run("power", "on", HOST, "--disruption-override", "why not")
    assert code == 2 and "takes nothing down" in err, err
    code, _, err = run("power", "powercycle", HOST, "--yes", "--disruption-override", " ")
    assert code == 2 and "disruption_override: needs the reason" in err, err
    made = json.loads(ok(run, "power", "powercycle", HOST, "--yes", "--disruption-override",
                         "esx-0-0 hung: PSOD, no VM alive", "--json"))
    shown = json.loads(ok(run, "jobs", "show", made["id"], "--json"))
    assert shown["details"]["disruption_override"] == "esx-0-0 hung: PSOD, no VM alive"
    with Session(engine) as s:
        row = s.exec(select(AuditLog).where(AuditLog.action == "jobs.create")).one()
    assert row.username == "alice" and row.details is not None
    assert row.details["details"]["disruption_override"] == "esx-0-0 hung: PSOD, no VM alive"
    # the worker reads its details as its type's (the override is DSM's own key, not the action's)
    from dsm_core.jobtypes import PowerDetails, parse_details

    assert parse_details("power_action", shown["details"]) == PowerDetails(action="PowerCycle")


def test_a_group_keeps_its_minimum_across_jobs_and_paths(request: pytest.FixtureRequest) -> None:
    run, engine = request.getfixturevalue("dsm")
    _setup(run, engine)  # app: 3 healthy members, minimum 2
    first = json.loads(ok(run, "power", "powercycle", APP[0], "--yes", "--json"))
    for argv in (("power", "powercycle", APP[1], "--yes"),
                 ("jobs", "create", "power_action", "--server", APP[2], "--detail", "action=ForceOff"),
                 ("jobs", "create", "power_action", "--group", "app", "--detail", "action=GracefulRestart")):
        code, _, err = run(*argv)
        assert code == 4, (argv, err)
        assert "group app: 3 of 3 member(s) healthy, minimum 2" in err and "below the minimum of 2" in err, err
        if argv[0] == "power":
            assert f"job(s) {first['id'][-8:]} 1 more" in err, err
    # a member already out of service takes nothing from the group: it may be power-cycled (the dead server case)
    with session_scope(engine) as s:
        row = s.exec(select(Server).where(Server.ip_address == "127.0.30.3")).one()
        row.overall_health = "Critical"
        s.add(row)
    ok(run, "power", "powercycle", APP[2], "--yes")
    # the first job ends: its member counts again, and the next one may go
    ok(run, "jobs", "cancel", first["id"])
    code, _, err = run("power", "powercycle", APP[1], "--yes")
    assert code == 4 and "2 of 3 member(s) healthy" in err, err  # 30.3 is Critical now: 2 healthy, minimum 2
    with session_scope(engine) as s:
        row = s.exec(select(Server).where(Server.ip_address == "127.0.30.3")).one()
        row.overall_health = "OK"
        s.add(row)
    code, _, err = run("power", "powercycle", APP[1], "--yes")
    assert code == 4 and "job(s)" in err, err  # the cycle of 30.3 is still pending: it will take that one down


def test_the_group_rule_counts_on_both_databases(admin: ServiceContext) -> None:
    """The same count through the service layer on SQLite and PostgreSQL (where the count runs under an advisory
    transaction lock, which needs no table privilege)."""
    from dsm_core.services import groups, jobs, servers
    from dsm_core.services.errors import Unsafe

    groups.add_group(admin, "pair", min_healthy_servers=1)
    for ref in ("127.0.31.1:8443", "127.0.31.2:8443"):
        servers.add_server(admin, ref)
        groups.add_member(admin, "pair", ref)
    with session_scope(admin.engine) as s:
        for row in s.exec(select(Server).where(col(Server.ip_address).startswith("127.0.31."))).all():
            row.connection_status, row.power_state, row.overall_health = "connected", "On", "OK"
            s.add(row)
    jobs.create_job(admin, "power_action", servers=["127.0.31.1:8443"], details={"action": "PowerCycle"})
    with pytest.raises(Unsafe, match="group pair: 2 of 2 member"):
        jobs.create_job(admin, "power_action", servers=["127.0.31.2:8443"], details={"action": "PowerCycle"})
    jobs.create_job(admin, "refresh_server_info", servers=["127.0.31.2:8443"])  # takes nothing down
