"""The CLI as scripts and operators use it, run as a real `dsm` process: pipes that close early, JSON on every
job-creating command, the console's filter language, numeric address order, short ids and ages, power actions
in any case, help on every subcommand, and destructive commands that ask (or need --yes)."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pytest

import dsm_cli.main as cli
from dsm_core.db import make_engine
from dsm_core.services import jobs
from tests.conftest import Templates, ctx_for, fresh_database
from tests.integration.cli import DsmHome, dsm_executable, run_on_pty


@pytest.fixture
def home(templates: Templates, tmp_path: Path) -> DsmHome:
    h = DsmHome(tmp_path / "home", fresh_database(templates, "sqlite", tmp_path, empty=True), {})
    h.run("init", check=True)
    for address in ("10.0.0.10", "10.0.0.9", "10.0.0.100", "10.0.1.2"):
        h.run("servers", "add", address, check=True)
    return h


def test_a_closed_pipe_is_not_a_traceback(home: DsmHome) -> None:
    engine = make_engine(home.database_url or "")
    me = ctx_for(engine, cli.os_username())
    for _ in range(300):  # ~200 KiB of JSON: more than a pipe holds, so `head` leaves while dsm still writes
        jobs.create_job(me, "health_check", servers=["10.0.0.9"])
    engine.dispose()
    proc = subprocess.run(f"'{dsm_executable()[0]}' jobs list --json --limit 300 | head -1", shell=True,
                          capture_output=True, text=True, env=home.env(), timeout=60)
    assert proc.stdout == "[\n"
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.stderr == ""


def test_job_commands_print_json_and_tables_read_like_k9s(home: DsmHome) -> None:
    created = json.loads(home.run("servers", "health", "10.0.0.9", "--json", check=True).stdout)
    assert created["job_type"] == "health_check" and created["status"] == "pending"
    power = json.loads(home.run("power", "ON", "10.0.0.9", "--json", check=True).stdout)  # any case
    assert power["details"]["action"] == "On"
    shutdown = json.loads(home.run("power", "graceful-shutdown", "10.0.0.9", "--json", check=True).stdout)
    assert shutdown["details"]["action"] == "GracefulShutdown"
    bad = home.run("power", "reboot-now", "10.0.0.9")
    assert bad.returncode == 2 and "is not a power action" in bad.stderr
    table = home.run("jobs", "list", check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "TYPE", "STATUS"]
    first = table[1].split()
    assert first[0] == shutdown["id"].replace("-", "")[-8:]  # the newest, by the short id the console shows
    assert "ago" in table[1] and "waiting: no worker is running" in table[1]
    shown = json.loads(home.run("jobs", "show", first[0], "--json", check=True).stdout)  # the short id works
    assert shown["id"] == shutdown["id"]
    listing = home.run("servers", "list", check=True).stdout.splitlines()
    assert [line.split()[0] for line in listing[1:]] == ["10.0.0.9", "10.0.0.10", "10.0.0.100", "10.0.1.2"]
    only = home.run("servers", "list", "--filter", "ip:10.0.0.0/24 !ip:10.0.0.100", "--json", check=True).stdout
    assert [s["ip_address"] for s in json.loads(only)] == ["10.0.0.9", "10.0.0.10"]
    wrong = home.run("servers", "list", "--filter", "helth:ok")
    assert wrong.returncode == 2 and "'helth' is not a field" in wrong.stderr and "health" in wrong.stderr


def test_destructive_commands_ask_and_refuse_without_a_terminal(home: DsmHome) -> None:
    refused = home.run("servers", "remove", "10.0.0.100")  # stdin is a pipe here
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    for command in (["power", "forceoff", "10.0.0.9"], ["power", "PowerCycle", "10.0.0.9"],
                    ["groups", "remove", "nonexistent"]):
        out = home.run(*command)
        assert out.returncode == 2 and "--yes" in out.stderr, command
    assert "10.0.0.100" in home.run("servers", "list", check=True).stdout
    assert not json.loads(home.run("jobs", "list", "--json", check=True).stdout)

    def on_a_terminal(answer: bytes, *args: str) -> tuple[int, str]:
        code, seen = run_on_pty(list(args), home.env(), answer, timeout=30)
        return code, seen.decode(errors="replace")

    code, text = on_a_terminal(b"n", "servers", "remove", "10.0.0.100")
    assert code == 1 and "remove server 10.0.0.100" in text and "nothing was done" in text
    assert "10.0.0.100" in home.run("servers", "list", check=True).stdout
    code, text = on_a_terminal(b"y", "servers", "remove", "10.0.0.100")
    assert code == 0 and "removed server" in text
    assert "10.0.0.100" not in home.run("servers", "list", check=True).stdout
    assert home.run("servers", "remove", "10.0.0.9", "--yes").returncode == 0


def test_every_subcommand_has_help_text() -> None:
    missing = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, child in action.choices.items():
                    if not helps.get(name):
                        missing.append(f"{prefix} {name}".strip())
                    walk(child, f"{prefix} {name}")

    walk(cli.build_parser(), "")
    assert missing == []
