"""Bad surroundings get one clear line, never a traceback, and nothing is created by accident."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.integration.cli import DsmHome


def _home(tmp_path: Path, **env: str) -> DsmHome:
    return DsmHome(tmp_path / "dsm-home", None, dict(env))


def _one_clear_line(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr
    assert "Traceback" not in err and needle in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_an_uninitialised_home_says_run_dsm_init_and_creates_nothing(tmp_path: Path) -> None:
    home = _home(tmp_path)
    for args in (("servers", "list"), ("jobs", "list"), ("db", "current"), ("worker", "--exit-when-idle")):
        proc = home.run(*args)
        _one_clear_line(proc, 1, "dsm init")
    assert not home.home.exists(), list(home.home.rglob("*"))


def test_init_gives_other_no_access_whatever_the_umask(tmp_path: Path) -> None:
    home = _home(tmp_path)
    old = os.umask(0o022)
    try:
        home.run("init", check=True)
        home.run("servers", "list", check=True)
    finally:
        os.umask(old)
    made = [home.home, *home.home.iterdir()]
    assert {p.name for p in made} >= {"dsm-home", "config.toml", "dsm.db", "worker.key"}
    for path in made:
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, f"{path} is {oct(path.stat().st_mode)}"


def test_binary_config_unreachable_postgres_and_a_home_that_is_a_file(tmp_path: Path) -> None:
    home = _home(tmp_path)
    home.home.mkdir()
    (home.home / "config.toml").write_bytes(b"\x00\xff\xfe binary \x89PNG")
    _one_clear_line(home.run("servers", "list"), 2, "config.toml")
    pg = _home(tmp_path / "pg", DSM_DATABASE_URL="postgresql+psycopg://dsm@127.0.0.1:9/dsm?connect_timeout=2")
    _one_clear_line(pg.run("servers", "list"), 1, "cannot be reached")
    file_home = tmp_path / "a-file"
    file_home.write_text("not a directory")
    proc = DsmHome(file_home, None, {}).run("init")
    _one_clear_line(proc, 1, "cannot use")


def test_binary_csv_and_a_row_with_too_many_fields(tmp_path: Path) -> None:
    home = _home(tmp_path)
    home.run("init", check=True)
    binary = tmp_path / "servers.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    _one_clear_line(home.run("servers", "import", str(binary)), 2, "not UTF-8 text")
    nul = tmp_path / "nul.csv"
    nul.write_text("ip_address\n127.0.0.1\x00\n")
    _one_clear_line(home.run("servers", "import", str(nul)), 2, "NUL")
    wide = tmp_path / "wide.csv"
    wide.write_text("ip_address,hostname\n127.0.10.1,a\n127.0.10.2,b,extra,more\n")
    proc = home.run("servers", "import", str(wide))
    assert proc.returncode == 2 and "line 3" in proc.stderr and "fields" in proc.stderr, proc.stderr
    assert json.loads(home.run("servers", "list", "--json", check=True).stdout) == []


def test_the_worker_refuses_a_key_that_does_not_match_the_database(tmp_path: Path) -> None:
    from dsm_core.credentials.sealing import create_key_file

    home = _home(tmp_path)
    home.run("init", check=True)
    (home.home / "worker.key").unlink()
    create_key_file(home.home / "worker.key")  # another key: every sealed password would be unreadable
    proc = home.run("worker", "--exit-when-idle")
    _one_clear_line(proc, 1, "does not match")


def test_a_read_only_database_is_one_clear_line(tmp_path: Path) -> None:
    home = _home(tmp_path)
    home.run("init", check=True)
    db = home.home / "dsm.db"
    read_only = DsmHome(home.home, None, {"DSM_DATABASE_URL": f"sqlite:///file:{db}?mode=ro&uri=true"})
    assert read_only.run("servers", "list", check=True).stdout.strip() == "(none)"  # reads work
    _one_clear_line(read_only.run("groups", "add", "web"), 1, "read-only")
    assert json.loads(home.run("groups", "list", "--json", check=True).stdout) == []
