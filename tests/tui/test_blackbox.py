"""Black-box: the installed `dsm` on a terminal, as an operator uses it, with a real worker and `dsm sim`.

No Pilot, no imports of the app: processes, a pty, keys typed and the screen read back.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Templates
from tests.integration.cli import dsm_executable
from tests.tui.terminal import Terminal
from tests.worker.conftest import Install, make_install

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def sim_fleet(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """`dsm sim` as a process: two iDRACs on a loopback block of this test's own."""
    third = random.randint(10, 250)
    start = f"127.91.{third}.1"
    log = open(tmp_path / "sim.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([*dsm_executable(), "sim", "--count", "2", "--start", start, "--port", "8443",
                             "--time-scale", "600", "--shared-certificate"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    yield f"127.91.{third}.0/24", ready["endpoints"]
    proc.terminate()
    proc.wait(30)
    log.close()


@pytest.fixture
def blackbox(templates: Templates, tmp_path: Path, sim_fleet: tuple[str, list[str]]) -> Iterator[Install]:
    block, endpoints = sim_fleet
    install = make_install(templates, "sqlite", tmp_path, [block])
    for endpoint in endpoints:
        install.home.run("servers", "add", endpoint, check=True)
    worker = install.start_worker()
    yield install
    worker.terminate()
    assert worker.wait(40) == 0
    install.engine.dispose()


def test_keys_alone_refresh_a_server_and_the_screen_shows_it_completed(
    blackbox: Install, sim_fleet: tuple[str, list[str]]
) -> None:
    _, endpoints = sim_fleet
    term = Terminal([*dsm_executable(), "--view", "servers"], blackbox.home.env())
    try:
        term.wait_for("worker up", timeout=30)
        term.wait_for(endpoints[0])
        # The servers are sorted by address: the first row is endpoints[0]. r = refresh.
        term.send("r")
        term.wait_for("refresh server info")  # the row's job column: queued, then running
        screen = term.wait_for("✓ refresh", timeout=90)
        first_row = next(line for line in screen.splitlines() if endpoints[0] in line)
        assert "✓ refresh" in first_row, first_row
        # The refresh filled in what the iDRAC reports: its model and iDRAC firmware.
        assert re.search(r"R\d{3}|M\d{3}", first_row), first_row
        # y: the server's name goes to the terminal's clipboard as an OSC 52 escape (works over SSH and tmux).
        before = len(term.raw)
        term.send("y")
        term.wait_for("copied the name")
        copied = [base64.b64decode(m).decode() for m in
                  re.findall(rb"\x1b\]52;c;([A-Za-z0-9+/=]+)(?:\x07|\x1b\\)", bytes(term.raw[before:]))]
        assert copied and copied[-1] and copied[-1] in first_row, (copied, first_row)
        # v: the stored data, as JSON, with what the refresh read.
        term.send("v")
        raw = term.wait_for('"connection_status": "connected"')
        assert re.search(r'"bios_version": "\d', raw), raw
        term.send("\x1b")  # Esc closes it
        term.wait_for(endpoints[0])
        # The Jobs view says the same.
        term.send(":")
        term.send("jobs\r")
        screen = term.wait_for("refresh_server_info")
        job_line = next(line for line in screen.splitlines() if "refresh_server_info" in line)
        assert "completed" in job_line, job_line
        term.send("q")
        assert term.wait_exit(30) == 0
    finally:
        term.close()


def _alive_with_home(home: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"DSM_HOME={home}".encode() in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def test_demo_starts_everything_and_quitting_stops_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSM_")}
    term = Terminal([*dsm_executable(), "demo", "--count", "6"], env)
    try:
        term.wait_for("worker up", timeout=90)
        home = re.search(rb"temporary DSM_HOME (\S+)", bytes(term.raw))
        assert home, bytes(term.raw)[:2000]
        home_dir = home.group(1).decode()
        assert Path(home_dir, "dsm.db").exists()
        children = _alive_with_home(home_dir)
        assert len(children) >= 3, "the console, a worker and the fleet run under the demo's home"
        # Discovery finds the fleet; its health check follows.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            term.pump(0.2)
            found = re.search(r"(\d+)\s+servers", term.text())
            if found and int(found.group(1)) >= 5:
                break
        else:
            raise AssertionError(f"discovery did not show the fleet:\n{term.text()}")
        term.send("q")
        assert term.wait_exit(90) == 0
        assert not Path(home_dir).exists(), "the temporary home is removed"
        assert not _alive_with_home(home_dir), "nothing the demo started is left running"
    finally:
        term.close()


def test_escapes_from_an_idrac_reach_the_real_terminal_as_text(tmp_path: Path) -> None:
    """The installed console on a pty: what a hostile iDRAC stored is drawn as visible characters; the bytes
    the program wrote hold none of its sequences (no window title, no OSC 8 hyperlink)."""
    import sqlalchemy as sa

    from dsm_core.db import make_engine
    from tests.integration.cli import DsmHome

    home = DsmHome(tmp_path / "home", None, {})
    home.run("init", check=True)
    home.run("servers", "add", "127.0.70.1:8443", "--hostname", "esx-evil", check=True)
    engine = make_engine(f"sqlite:///{home.home / 'dsm.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE servers SET hostname = :h, model = :m"),
                     {"h": "esx-evil\x1b]0;pwned\x07\x1b[2J", "m": "R750\x1b]8;;http://evil/\x1b\\x[link=http://e]y"})
    engine.dispose()
    term = Terminal([*dsm_executable(), "--view", "servers"], home.env())
    try:
        screen = term.wait_for("esx-evil␛", timeout=30)
        assert "R750␛" in screen
        term.send("q")
        assert term.wait_exit(30) == 0
    finally:
        term.close()
    assert b"\x1b]0;pwned" not in term.raw and b"\x1b]8;;http://evil" not in term.raw
    assert "␛]0;pwned".encode() in term.raw  # drawn as text instead
    assert term.screen.title != "pwned"
