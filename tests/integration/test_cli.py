"""The `dsm` CLI as a subprocess, on SQLite and PostgreSQL: the commands the issue names, and their errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Templates, fresh_database
from tests.integration.cli import DsmHome


@pytest.fixture
def home(templates: Templates, backend: str, tmp_path: Path) -> DsmHome:
    url = None if backend == "sqlite" else fresh_database(templates, backend, tmp_path, empty=True)
    return DsmHome(tmp_path / "dsm-home", url, {})


def test_init_credentials_server_list(home: DsmHome) -> None:
    """The issue's first check, command for command."""
    init = home.run("init", check=True)
    assert "worker key" in init.stdout and "admin" in init.stdout
    home.run("credentials", "add", "lab", "--username", "root", "--password-stdin", "--range", "127.0.0.0/8",
             stdin="s3cret\n", check=True)
    home.run("servers", "add", "127.0.10.1:8443", check=True)
    listed = json.loads(home.run("servers", "list", "--json", check=True).stdout)
    assert [(s["ip_address"], s["port"]) for s in listed] == [("127.0.10.1", 8443)]
    shown = json.loads(home.run("servers", "show", "127.0.10.1:8443", "--json", check=True).stdout)
    assert shown["credential_source"] == "ip range: lab (root)"


def test_init_is_idempotent_and_keeps_the_key(home: DsmHome) -> None:
    home.run("init", check=True)
    key = (home.home / "worker.key").read_bytes()
    assert (os.stat(home.home / "worker.key").st_mode & 0o777) == 0o600
    again = home.run("init", check=True)
    assert "kept" in again.stdout and "already admin" in again.stdout
    assert (home.home / "worker.key").read_bytes() == key


def test_init_refuses_a_key_that_does_not_match_the_database(home: DsmHome) -> None:
    home.run("init", check=True)
    (home.home / "worker.key").unlink()
    from dsm_core.credentials.sealing import create_key_file

    create_key_file(home.home / "worker.key")
    proc = home.run("init")
    assert proc.returncode == 1 and "does not match" in proc.stderr


def test_db_downgrade_base_and_upgrade(home: DsmHome) -> None:
    home.run("init", check=True)
    refused = home.run("db", "downgrade", "base")
    assert refused.returncode == 2 and "--yes-destroy-data" in refused.stderr
    down = home.run("db", "downgrade", "base", "--yes-destroy-data", check=True)
    assert "base (empty)" in down.stdout
    refused = home.run("servers", "list")
    assert refused.returncode == 1 and "dsm db upgrade" in refused.stderr
    from dsm_core.db.migrate import head_revision

    head = head_revision()
    up = home.run("db", "upgrade", check=True)
    assert f": {head} (head {head})" in up.stdout
    assert f"{head} (head {head})" in home.run("db", "current", check=True).stdout


def test_bad_input_exits_2_naming_field_and_writes_nothing(home: DsmHome) -> None:
    home.run("init", check=True)
    cases = [
        (("servers", "add", "10.0.0.300"), "address", None),
        (("credentials", "add", "x", "--username", "root", "--password-stdin", "--range", "10.0.0.0/40"), "range", "pw\n"),
        (("jobs", "create", "power_action", "--server", "nosuch", "--detail", "action=On"), "no server matches", None),
        (("jobs", "create", "discovery_scan", "--detail", "ranges=[\"10.0.0.1-10.0.0\"]"), "details.ranges", None),
        (("jobs", "create", "power_action", "--details-json", "{not json"), "--details-json", None),
        (("settings", "set", "network.read_timeout_seconds", "forever"), "network.read_timeout_seconds", None),
        (("groups", "add", "g", "--color", "red"), "color", None),
    ]
    for args, needle, stdin in cases:
        proc = home.run(*args, stdin=stdin)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert json.loads(home.run("servers", "list", "--json").stdout) == []
    assert json.loads(home.run("credentials", "list", "--json").stdout) == []
    assert json.loads(home.run("jobs", "list", "--json").stdout) == []
    assert json.loads(home.run("groups", "list", "--json").stdout) == []


def test_csv_import_via_cli(home: DsmHome, tmp_path: Path) -> None:
    home.run("init", check=True)
    home.run("groups", "add", "web", check=True)
    bad = tmp_path / "servers.csv"
    bad.write_text("ip_address,hostname,groups\n127.0.10.1,a,web\n127.0.10.300,b,\n127.0.10.3:8443,c,web\n")
    proc = home.run("servers", "import", str(bad))
    assert proc.returncode == 2
    assert 'servers.csv line 3: ip_address: "127.0.10.300" is not an IPv4 or IPv6 address' in proc.stderr
    assert json.loads(home.run("servers", "list", "--json").stdout) == []
    ok = home.run("servers", "import", str(bad), "--skip-bad", check=True)
    assert "imported 2" in ok.stdout and "line 3" in ok.stderr
    group = json.loads(home.run("groups", "show", "web", "--json", check=True).stdout)
    assert len(group["members"]) == 2


def test_users_jobs_and_settings_round_trip(home: DsmHome) -> None:
    home.run("init", check=True)
    home.run("users", "add", "victor", "--role", "viewer", check=True)
    assert {u["username"]: u["role"] for u in json.loads(home.run("users", "list", "--json").stdout)}["victor"] == "viewer"
    home.run("servers", "add", "127.0.10.1:8443", "--hostname", "r750-01", check=True)
    created = json.loads(home.run("jobs", "create", "power_action", "--server", "r750-01", "--detail", "action=On",
                                  "--json", check=True).stdout)
    assert created["details"]["action"] == "On" and created["details"]["force_after_timeout"] is False
    shown = json.loads(home.run("jobs", "show", created["id"], "--json", check=True).stdout)
    assert shown["status"] == "pending" and shown["tasks"] == []
    assert "cancelled" in home.run("jobs", "cancel", created["id"], check=True).stdout
    home.run("settings", "set", "activity.idrac_max_concurrent", "3", check=True)
    settings = json.loads(home.run("settings", "show", "activity", "--json", check=True).stdout)
    assert settings["activity"]["idrac_max_concurrent"] == 3 and "sealing_public_key" not in settings["activity"]


def test_unknown_os_user_is_refused_with_the_fix(home: DsmHome) -> None:
    home.run("init", "--admin", "somebody-else", check=True)
    proc = home.run("servers", "list")
    assert proc.returncode == 3 and "dsm users add" in proc.stderr


def test_bad_config_key_stops_with_file_and_key(home: DsmHome) -> None:
    home.home.mkdir(parents=True, exist_ok=True)
    (home.home / "config.toml").write_text("[worker]\nmax_concurent_jobs = 4\n")
    proc = home.run("servers", "list")
    assert proc.returncode == 2 and str(home.home / "config.toml") in proc.stderr and "[worker]" in proc.stderr
