"""deploy/dsm-worker.service works as shipped: the install steps of its header (`dsm init` with the unit's
DSM_HOME and DSM_CONFIG), then its ExecStart line under its environment, in a file-system view that maps the
unit's paths into a scratch root; the worker writes only where the unit lets it (StateDirectory, PrivateTmp),
never under /etc or a home directory. `systemd-analyze verify` passes, and the Documentation= file is in the
wheel. The packaging: one version, the sim extra, httpx capped."""

from __future__ import annotations

import glob
import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from dsm_core import __version__
from tests.integration.cli import dsm_executable

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "deploy" / "dsm-worker.service"


def parse_unit(text: str) -> dict[str, list[str]]:
    """Key → values in order (Environment= may repeat), across sections."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_the_worker_unit_starts_and_writes_only_where_it_may(tmp_path: Path) -> None:
    unit = parse_unit(UNIT.read_text())
    env_lines = dict(e.split("=", 1) for e in unit["Environment"])
    state = "/var/lib/" + unit["StateDirectory"][0]
    assert env_lines["DSM_HOME"] == state, "DSM_HOME is the StateDirectory (writable under ProtectSystem=strict)"
    assert unit["ProtectSystem"] == ["strict"] and unit["ProtectHome"] == ["true"]
    exec_start = unit["ExecStart"][0].split()
    assert exec_start[0] == "/opt/dsm/bin/dsm" and exec_start[1:] == ["worker"]
    assert unit["Documentation"][0] == "file:///opt/dsm/share/doc/dsm/README.md"

    root = tmp_path / "root"  # the unit's file system, seen from the test
    for d in (state, "/etc/dsm", "/root", "/home/dsm", "/tmp"):
        (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)

    def inside(path: str) -> str:
        return str(root / path.lstrip("/"))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSM_", "IDRAC_", "XDG_"))}
    env.update({k: inside(v) if v.startswith("/") else v for k, v in env_lines.items()})
    env["HOME"] = inside("/root")  # ProtectHome: nothing may be written there

    # The header's install step: `dsm init` with the unit's variables writes the config where DSM_CONFIG says.
    init = subprocess.run([*dsm_executable(), "init"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert Path(env["DSM_CONFIG"]).is_file(), "dsm init honours DSM_CONFIG"
    assert f"config     {env['DSM_CONFIG']} (created)" in init.stdout
    assert (Path(inside(state)) / "worker.key").is_file()
    before = _tree(root)

    # ExecStart, under the unit's environment (and umask), as the service would run it.
    worker = subprocess.Popen([*dsm_executable(), *exec_start[1:]], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: os.umask(int(unit["UMask"][0], 8)))
    try:
        deadline = time.monotonic() + 60
        import sqlite3

        while time.monotonic() < deadline:
            with sqlite3.connect(Path(inside(state)) / "dsm.db") as conn:
                beats = conn.execute("SELECT count(*) FROM worker_heartbeats WHERE status = 'running'").fetchone()
            if beats and beats[0]:
                break
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.3)
        else:
            raise AssertionError("the worker never beat")
    finally:
        worker.send_signal(signal.SIGTERM)
        stderr = worker.communicate(timeout=60)[1]
    assert worker.returncode == 0, stderr
    written = _tree(root) - before
    allowed = (state.lstrip("/") + "/", "tmp/")  # StateDirectory, and PrivateTmp's own /tmp
    assert all(path.startswith(allowed) for path in written), f"written outside the unit's paths: {written}"
    assert not any(path.startswith(("etc/", "root/", "home/")) for path in _tree(root) - before)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not on this machine")
def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    # The unit names the installed path; here the dsm of this checkout stands in for it.
    local = tmp_path / "dsm-worker.service"
    local.write_text(UNIT.read_text().replace("/opt/dsm/bin/dsm", dsm_executable()[0]))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(local)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


def test_packaging_one_version_urls_extras_and_the_documentation_file(tmp_path: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("dsm") == __version__
    assert project["urls"] and project["classifiers"]
    assert not any(d.startswith("h11") for d in project["dependencies"]), "h11 is the simulator's: the sim extra"
    assert any(d.startswith("h11") for d in project["optional-dependencies"]["sim"])
    httpx = next(d for d in project["dependencies"] if d.startswith("httpx"))
    assert re.search(r"<0\.\d+", httpx), "httpx capped below the next minor while tls.py replaces its pool"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           str(REPO), "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = zipfile.ZipFile(glob.glob(str(tmp_path / "dsm-*.whl"))[0])
    names = wheel.namelist()
    # Installed into /opt/dsm, this is the unit's Documentation= file.
    assert f"dsm-{__version__}.data/data/share/doc/dsm/README.md" in names
