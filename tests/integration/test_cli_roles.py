"""Every `dsm` command, run as a viewer: refused with exit 3 and nothing changed, or a read.

The commands are enumerated from the real argument parser, so a command added later without a line here
fails ``test_the_walk_covers_every_command``. The identity is the OS user (``os_username``), the one seam
replaced: switching the test's real uid would need a second OS account that can read the checkout.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import dsm_cli.main as cli
from dsm_core.credentials.secret import Secret
from dsm_core.db import make_engine
from dsm_core.models import AuditLog
from dsm_core.services import credentials, firmware, groups, jobs, servers, windows
from tests.configuration_seed import seed_backup, seed_bios
from tests.conftest import ctx_for
from tests.vcenter_seed import seed_vcenter

SERVER = "127.0.10.1:8443"
# Commands that never open the DSM database: the simulator and the throwaway demo (its own home).
NO_DATABASE = {("sim",), ("demo",), ("completion",)}
# Reads whose exit code is the installation's health (1 when any check is an error), whoever runs them.
HEALTH = {("doctor",): ["doctor", "--json"]}
# A read: exit 0 and nothing changed. Everything else: exit 3 and nothing changed.
READS: dict[tuple[str, ...], list[str]] = {
    ("db", "current"): ["db", "current"],
    ("users", "list"): ["users", "list", "--json"],
    ("credentials", "list"): ["credentials", "list"],
    ("servers", "list"): ["servers", "list"],
    ("servers", "show"): ["servers", "show", SERVER, "--json"],
    ("groups", "list"): ["groups", "list"],
    ("groups", "show"): ["groups", "show", "web"],
    ("settings", "show"): ["settings", "show"],
    ("jobs", "list"): ["jobs", "list"],
    ("jobs", "show"): ["jobs", "show", "{job}"],
    ("jobs", "wait"): ["jobs", "wait", "{done_job}", "--timeout", "1"],
    ("servers", "logs"): ["servers", "logs", SERVER, "--json"],
    ("activity", "list"): ["activity", "list", "--json", "--errors"],
    ("firmware", "repo", "list"): ["firmware", "repo", "list", "--json"],
    ("firmware", "compliance"): ["firmware", "compliance", "--json", "--state", "upgrade"],
    ("boot", "show"): ["boot", "show", SERVER, "--json"],
    ("bios", "show"): ["bios", "show", SERVER, "--json"],
    ("bios", "drift"): ["bios", "drift", "--group", "web", "--json"],
    ("media", "list"): ["media", "list", "--json"],
    ("scp", "list"): ["scp", "list", "--json"],
    ("scp", "show"): ["scp", "show", "{backup}"],
    ("vcenter", "list"): ["vcenter", "list", "--json"],
    ("clusters", "list"): ["clusters", "list", "--json"],
    ("clusters", "show"): ["clusters", "show", "prod-0", "--json"],
    ("windows", "list"): ["windows", "list", "--json"],
    ("activity", "stats"): ["activity", "stats", "--json"],
    ("windows", "show"): ["windows", "show", "{window}", "--json"],
    ("windows", "suggest"): ["windows", "suggest", "--json"],
    ("windows", "report"): ["windows", "report", "{window}", "--format", "md"],
    ("notifications", "list"): ["notifications", "list", "--json"],
    ("openmanage", "show"): ["openmanage", "show", "--json"],
}
WRITES: dict[tuple[str, ...], list[list[str]]] = {
    ("init",): [["init"], ["init", "--admin", "victor"]],
    ("db", "upgrade"): [["db", "upgrade"]],
    ("db", "provision-roles"): [["db", "provision-roles"]],
    ("db", "downgrade"): [["db", "downgrade", "base", "--yes-destroy-data"]],
    ("users", "add"): [["users", "add", "mallory", "--role", "admin"]],
    ("openmanage", "configure"): [["openmanage", "configure", "--host", "127.0.60.1", "--username", "admin",
                                   "--password-stdin"]],
    ("openmanage", "sync"): [["openmanage", "sync"]],
    ("backup", "create"): [["backup", "create", "--to", "/nonexistent/dsm.sqlite"]],
    ("backup", "restore"): [["backup", "restore", "/nonexistent/dsm.sqlite", "--force"]],
    ("users", "set-role"): [["users", "set-role", "victor", "admin"]],
    ("users", "remove"): [["users", "remove", "alice"]],
    ("credentials", "add"): [["credentials", "add", "mine", "--username", "root", "--password-stdin"]],
    ("credentials", "set-password"): [["credentials", "set-password", "lab", "--password-stdin"]],
    ("credentials", "remove"): [["credentials", "remove", "lab"], ["credentials", "remove", "lab", "--yes"]],
    ("credentials", "update"): [["credentials", "update", "lab", "--priority", "1"]],
    ("audit", "list"): [["audit", "list", "--json"]],
    ("credentials", "add-range"): [["credentials", "add-range", "lab", "10.9.0.0/16"]],
    ("credentials", "remove-range"): [["credentials", "remove-range", "lab", "10.0.0.0/8"]],
    ("servers", "add"): [["servers", "add", "127.0.10.9"]],
    ("servers", "update"): [["servers", "update", SERVER, "--notes", "mine now"]],
    ("servers", "import"): [["servers", "import", "{csv}"]],
    ("servers", "remove"): [["servers", "remove", SERVER], ["servers", "remove", SERVER, "--yes"]],
    ("servers", "refresh"): [["servers", "refresh", SERVER]],
    ("servers", "health"): [["servers", "health", SERVER]],
    ("servers", "fetch-logs"): [["servers", "fetch-logs", SERVER]],
    ("servers", "test-credentials"): [["servers", "test-credentials", SERVER]],
    ("servers", "diagnose"): [["servers", "diagnose", SERVER]],
    ("groups", "add"): [["groups", "add", "mine"]],
    ("groups", "add-member"): [["groups", "add-member", "web", SERVER]],
    ("groups", "remove-member"): [["groups", "remove-member", "web", SERVER]],
    ("groups", "remove"): [["groups", "remove", "web", "--yes"]],
    ("settings", "set"): [["settings", "set", "activity.log_level", "none"]],
    ("jobs", "create"): [["jobs", "create", "health_check", "--server", SERVER]],
    ("jobs", "cancel"): [["jobs", "cancel", "{job}"]],
    ("jobs", "retry"): [["jobs", "retry", "{done_job}"]],
    ("firmware", "repo", "add"): [["firmware", "repo", "add", "mine", "--url", "http://127.0.10.251/repo"]],
    ("firmware", "repo", "sync"): [["firmware", "repo", "sync", "drm"]],
    ("firmware", "repo", "remove"): [["firmware", "repo", "remove", "drm"],
                                     ["firmware", "repo", "remove", "drm", "--yes"]],
    ("firmware", "update"): [["firmware", "update", SERVER, "--repository", "drm"],
                             ["firmware", "update", SERVER, "--image-uri", "http://127.0.10.250/BIOS.EXE"]],
    ("worker",): [["worker", "--exit-when-idle"]],
    ("discover",): [["discover", "127.0.10.0/30"]],
    ("power",): [["power", "ForceOff", SERVER], ["power", "forceoff", SERVER, "--yes"], ["power", "on", SERVER]],
    ("boot", "once"): [["boot", "once", SERVER, "--target", "Pxe"]],
    ("boot", "order"): [["boot", "order", SERVER, "--set", "Boot0001,Boot0002"]],
    ("boot", "mode"): [["boot", "mode", SERVER, "Bios"]],
    ("bios", "read"): [["bios", "read", SERVER]],
    ("bios", "set"): [["bios", "set", SERVER, "NumLock=Off"], ["bios", "set", SERVER, "NoSuch=1"]],
    ("bios", "baseline", "set"): [["bios", "baseline", "set", SERVER, "--group", "web"]],
    ("bios", "baseline", "apply"): [["bios", "baseline", "apply", "--group", "web"]],
    ("media", "mount"): [["media", "mount", SERVER, "--image", "http://127.0.10.250/esxi.iso"]],
    ("media", "eject"): [["media", "eject", SERVER]],
    ("scp", "export"): [["scp", "export", SERVER]],
    ("scp", "import"): [["scp", "import", SERVER, "--backup", "{backup}"],
                        ["scp", "import", SERVER, "--backup", "{backup}", "--set", "NumLock=Off"]],
    ("vcenter", "add"): [["vcenter", "add", "vc2", "--url", "https://127.0.0.1:9", "--username", "u",
                          "--password-stdin"]],
    ("vcenter", "remove"): [["vcenter", "remove", "vc1"], ["vcenter", "remove", "vc1", "--yes"]],
    ("vcenter", "sync"): [["vcenter", "sync"], ["vcenter", "sync", "vc1", "--wait", "--timeout", "1"]],
    ("vcenter", "test"): [["vcenter", "test", "vc1"]],
    ("vcenter", "link"): [["vcenter", "link", "esx-0-0", SERVER]],
    ("safety", "check"): [["safety", "check", "--cluster", "prod-0"], ["safety", "check", "--group", "web", "--wait"]],
    ("rolling-update",): [["rolling-update", "prod-0", "--image-uri", "http://127.0.10.250/BIOS.EXE", "--plan"],
                          ["rolling-update", "prod-0", "--repository", "drm", "--yes"]],
    ("windows", "create"): [["windows", "create", "--title", "hc", "--server", SERVER, "--type", "health_check",
                             "--start", "2030-01-06T02:00", "--end", "2030-01-06T03:00"]],
    ("windows", "approve"): [["windows", "approve", "{window}"]],
    ("windows", "reject"): [["windows", "reject", "{window}", "--reason", "freeze"]],
    ("windows", "cancel"): [["windows", "cancel", "{window}"]],
    ("notifications", "test"): [["notifications", "test"]],
    ("safety", "schedule"): [["safety", "schedule", "--enable", "--cron", "*/10 * * * *"]],
}
# The console (no command) is a read for a viewer; what it offers a viewer is tested with Pilot in
# tests/tui/test_console.py::test_no_mutating_action_for_a_viewer_or_in_readonly.


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix
        return
    for action in subs:
        for name, child in action.choices.items():
            yield from leaf_commands(child, (*prefix, name))


def test_the_walk_covers_every_command() -> None:
    assert set(leaf_commands(cli.build_parser())) == set(READS) | set(WRITES) | NO_DATABASE | set(HEALTH)


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    out: dict[str, list[tuple[object, ...]]] = {}
    names = set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in names:
                out[table.name] = sorted(tuple(map(str, r)) for r in conn.execute(sa.select(table)).all())
        if "alembic_version" in names:
            out["alembic_version"] = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM alembic_version"))]
    return out


@pytest.fixture
def seeded(db_url: str, tmp_path: Path, worker_key_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        tuple[Engine, dict[str, str]]]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "worker.key").write_bytes(worker_key_path.read_bytes())
    (home / "worker.key").chmod(0o600)
    for var in [v for v in os.environ if v.startswith(("DSM_", "IDRAC_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("DSM_HOME", str(home))
    monkeypatch.setenv("DSM_DATABASE_URL", db_url)
    engine = make_engine(db_url)
    admin = ctx_for(engine, "alice")
    servers.add_server(admin, SERVER, hostname="r750-01")
    credentials.add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=["10.0.0.0/8"])
    groups.add_group(admin, "web")
    groups.add_member(admin, "web", SERVER)
    firmware.add_repository(admin, "drm", "http://127.0.10.250/repo")
    seed_vcenter(admin)  # vCenter vc1, cluster prod-0 of three hosts linked to three more servers
    server_id = servers.show_server(admin, SERVER)["id"]
    seed_bios(engine, server_id)
    backup = seed_backup(engine, server_id)
    job = jobs.create_job(admin, "health_check", servers=[SERVER])
    done = jobs.create_job(admin, "health_check", servers=[SERVER])
    with engine.begin() as conn:  # a finished job for `jobs wait` (no worker runs in this test)
        conn.execute(sa.text("UPDATE jobs SET status = 'completed', progress = 100 WHERE id = :id"),
                     {"id": done["id"].replace("-", "") if db_url.startswith("sqlite") else done["id"]})
    window = windows.create_window(ctx_for(engine, "oscar"), "fw", maintenance_type="firmware_update",
                                   start=datetime(2030, 1, 6, 2, tzinfo=UTC), end=datetime(2030, 1, 6, 4, tzinfo=UTC),
                                   servers=[SERVER], details={"image_uri": "http://127.0.10.250/BIOS.EXE"},
                                   requires_approval=True)
    csv = tmp_path / "more.csv"
    csv.write_text("ip_address,hostname\n127.0.10.7,x\n")
    yield engine, {"job": job["id"], "done_job": done["id"], "csv": str(csv), "backup": backup,
                  "window": window["id"]}
    engine.dispose()


def _run_as(monkeypatch: pytest.MonkeyPatch, user: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> \
        tuple[int, str]:
    monkeypatch.setattr(cli, "os_username", lambda: user)
    monkeypatch.setattr(sys, "stdin", io.StringIO("pw-of-the-viewer\n"))
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_viewer_is_refused_every_change_and_may_read(
    seeded: tuple[Engine, dict[str, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, values = seeded
    before = _snapshot(engine)
    assert before["jobs"] and before["alembic_version"]
    for command, argvs in WRITES.items():
        for argv in argvs:
            argv = [a.format(**values) for a in argv]
            code, output = _run_as(monkeypatch, "victor", argv, capsys)
            assert code == 3, (command, code, output)
            assert "Traceback" not in output
            assert _snapshot(engine) == before, f"{argv} changed the database"
    for command, argv in READS.items():
        argv = [a.format(**values) for a in argv]
        code, output = _run_as(monkeypatch, "victor", argv, capsys)
        assert code == 0, (command, code, output)
        assert _snapshot(engine) == before, f"{argv} changed the database"
    for command, argv in HEALTH.items():
        code, output = _run_as(monkeypatch, "victor", argv, capsys)
        assert code in (0, 1) and json.loads(output)["checks"], (command, code, output)
        assert _snapshot(engine) == before, f"{argv} changed the database"


def test_init_creates_the_first_admin_only_on_an_empty_database(
    seeded: tuple[Engine, dict[str, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _ = seeded
    # An admin re-running init is fine, but may not make someone else admin through it.
    code, output = _run_as(monkeypatch, "alice", ["init", "--admin", "victor"], capsys)
    assert code == 2 and "--admin" in output and "dsm users" in output
    code, output = _run_as(monkeypatch, "alice", ["init"], capsys)
    assert code == 0, output
    # An OS user unknown to DSM is refused too.
    code, output = _run_as(monkeypatch, "stranger", ["init", "--admin", "stranger"], capsys)
    assert code == 3
    with engine.connect() as conn:
        roles = dict(conn.execute(sa.text("SELECT username, role FROM users")).all())
    assert roles == {"alice": "admin", "oscar": "operator", "victor": "viewer"}


def test_downgrade_needs_the_flag_an_admin_and_is_audited_first(
    seeded: tuple[Engine, dict[str, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _ = seeded
    code, output = _run_as(monkeypatch, "alice", ["db", "downgrade", "base"], capsys)
    assert code == 2 and "--yes-destroy-data" in output
    assert sa.inspect(engine).has_table("audit_logs")
    # Record what the audit log holds just before: the "requested" row must be written before the drop.
    # Downgrading to base drops the table, so the evidence is the order of operations, observed through
    # a listener on the engine the CLI builds.
    seen: list[str] = []
    real = cli.migrate.downgrade

    def watched(eng: Engine, revision: str) -> None:
        with eng.connect() as conn:
            rows = conn.execute(sa.select(AuditLog.action, AuditLog.username, AuditLog.details)).all()
        seen.extend(f"{a}:{u}:{d}" for a, u, d in rows if a == "db.downgrade")
        real(eng, revision)

    monkeypatch.setattr(cli.migrate, "downgrade", watched)
    code, output = _run_as(monkeypatch, "alice", ["db", "downgrade", "base", "--yes-destroy-data"], capsys)
    assert code == 0, output
    assert len(seen) == 1 and seen[0].startswith("db.downgrade:alice:") and "requested" in seen[0]
    assert not sa.inspect(engine).has_table("audit_logs")
    # Empty now: nobody to ask, so the schema can be recreated (as `dsm init` would).
    code, output = _run_as(monkeypatch, "victor", ["db", "upgrade"], capsys)
    assert code == 0, output
