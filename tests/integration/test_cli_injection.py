"""Escapes and markup from outside, through every CLI listing: shown as text; --json keeps them escaped.
Operator input with control characters is refused with exit 2, naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from dsm_core.db import make_engine
from tests.conftest import Templates, fresh_database
from tests.integration.cli import DsmHome

EVIL = "\x1b[2J\x1b]0;p\x07\x1b]8;;http://e/\x1b\\c\x9b31m\x7f\u202e[link=http://e]x[/link]"
CONTROL = {chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x202E)} - {"\n"}


@pytest.fixture
def home(templates: Templates, backend: str, tmp_path: Path) -> DsmHome:
    url = None if backend == "sqlite" else fresh_database(templates, backend, tmp_path, empty=True)
    h = DsmHome(tmp_path / "dsm-home", url, {})
    h.run("init", check=True)
    return h


def _url(home: DsmHome) -> str:
    return home.database_url or f"sqlite:///{home.home / 'dsm.db'}"


def test_outside_text_is_shown_as_text_in_every_listing(home: DsmHome) -> None:
    home.run("servers", "add", "127.0.10.1:8443", "--hostname", "esx-01", check=True)
    home.run("groups", "add", "web", check=True)
    home.run("groups", "add-member", "web", "esx-01", check=True)
    job = json.loads(home.run("jobs", "create", "health_check", "--server", "esx-01", "--json", check=True).stdout)
    engine = make_engine(_url(home))
    with engine.begin() as conn:  # what a hostile iDRAC makes the worker store
        conn.execute(sa.text("UPDATE servers SET model = :v, service_tag = :t, bios_version = :v, "
                             "connection_error = :v"), {"v": "R750" + EVIL, "t": "TAG" + EVIL[:20]})
        conn.execute(sa.text("UPDATE jobs SET error = :v, status = 'failed'"), {"v": "job" + EVIL})
        conn.execute(sa.text("UPDATE server_groups SET name = :v"), {"v": "web" + EVIL})
    engine.dispose()
    listings = [("servers", "list"), ("servers", "show", "esx-01"), ("jobs", "list"), ("jobs", "show", job["id"]),
                ("groups", "list"), ("jobs", "wait", job["id"], "--timeout", "1")]
    for args in listings:
        proc = home.run(*args)
        assert proc.returncode in (0, 1), (args, proc.stderr)
        for stream in (proc.stdout, proc.stderr):
            bad = sorted({hex(ord(c)) for c in stream if c in CONTROL})
            assert not bad, f"dsm {' '.join(args)} printed control characters {bad}"
        assert "␛" in proc.stdout + proc.stderr, args
    shown = json.loads(home.run("servers", "show", "esx-01", "--json", check=True).stdout)
    assert shown["model"] == "R750" + EVIL  # JSON carries the exact text, escaped
    raw = home.run("servers", "list", "--json", check=True).stdout
    assert "\\u001b" in raw and not (set(raw) & CONTROL - {"\n"})


@pytest.mark.parametrize("args,field", [
    (("servers", "add", "127.0.10.2", "--hostname", "esx\x1b[2J"), "hostname"),
    (("servers", "add", "127.0.10.2", "--notes", "a\x07b"), "notes"),
    (("groups", "add", "web\x9b1m"), "name"),
    (("users", "add", "bob\x1b", "--role", "viewer"), "username"),
    (("credentials", "add", "lab\u202e", "--username", "root", "--password-stdin"), "name"),
    (("jobs", "create", "power_action", "--server", "x", "--detail", "action=On\x1b"), "details.action"),
])
def test_operator_input_with_control_characters_is_refused_naming_the_field(
        home: DsmHome, args: tuple[str, ...], field: str) -> None:
    before = home.run("servers", "list", "--json", check=True).stdout
    proc = home.run(*args, stdin="pw\n")
    assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
    assert f"{field}:" in proc.stderr and "control characters" in proc.stderr, proc.stderr
    assert not (set(proc.stderr) & CONTROL)
    assert home.run("servers", "list", "--json", check=True).stdout == before


def test_csv_cells_with_control_characters_are_refused_by_line(home: DsmHome, tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("ip_address,hostname\n127.0.10.1,ok\n127.0.10.2,bad\x1b]0;x\x07\n")
    proc = home.run("servers", "import", str(csv))
    assert proc.returncode == 2 and "line 3" in proc.stderr and "hostname" in proc.stderr, proc.stderr
    assert json.loads(home.run("servers", "list", "--json", check=True).stdout) == []


@pytest.mark.parametrize("args,field", [
    (("groups", "add", "web", "--description", "d" * 5000), "description"),
    (("servers", "add", "127.0.10.3", "--model", "R" * 101), "model"),
    (("servers", "add", "127.0.10.3", "--notes", "n" * 9000), "notes"),
])
def test_operator_text_longer_than_its_column_is_refused_not_cut(
        home: DsmHome, args: tuple[str, ...], field: str) -> None:
    proc = home.run(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert f"{field}:" in proc.stderr and "at most" in proc.stderr, proc.stderr
    assert json.loads(home.run("servers", "list", "--json", check=True).stdout) == []
    assert json.loads(home.run("groups", "list", "--json", check=True).stdout) == []
