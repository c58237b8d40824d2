"""docs/deployment.md is the test: its SQLite and PostgreSQL walks run verbatim, as root on a private copy of the
host (tests/integration/docwalk.py), from the offline install to the viewer's console.

The OS users are real (root creates them as the page says): root, postgres, the service account dsm, the admin
alice, the operator bob and the viewer carol, each running the commands the page gives them through sudo. The
iDRAC is a `dsm sim` on a loopback block of this test's own. A page edit that breaks the sequence fails here.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docblocks import walk
from tests.integration.cli import dsm_executable
from tests.integration.wheelhouse import REPO, offline_env, wheelhouse

pytestmark = pytest.mark.timeout(900)


def _can_walk() -> str | None:
    if os.geteuid() != 0:
        return "the walks run as root (useradd, sudo, mounts)"
    for tool in ("unshare", "sudo", "runuser", "useradd", "pg_ctlcluster"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs it)"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"no private mount namespace here: {probe.stderr.decode().strip()}"
    return None


@pytest.fixture
def idrac(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """One simulated iDRAC on a loopback block of this test's own: (ADDRESS:PORT, CIDR)."""
    third = random.randint(10, 250)
    log = open(tmp_path / "sim.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([*dsm_executable(), "sim", "--count", "1", "--start", f"127.93.{third}.1", "--port",
                             "8443", "--time-scale", "600", "--shared-certificate"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    yield ready["endpoints"][0], f"127.93.{third}.0/24"
    proc.terminate()
    proc.wait(30)
    log.close()


def run_walk(name: str, tmp_path: Path, idrac: tuple[str, str]) -> dict[str, Any]:
    why = _can_walk()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"the documentation walk cannot run: {why}")
        pytest.skip(why)
    work = tmp_path / "work"
    wheelhouse(work / "wheelhouse")
    work.chmod(0o755)
    scratch = tmp_path / "host"
    scratch.mkdir()
    env = {**offline_env(tmp_path), "PYTHONPATH": str(REPO), "IDRAC": idrac[0], "IDRAC_RANGE": idrac[1],
           "IDRAC_PASSWORD": "calvin"}
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "--fork", sys.executable, "-m",
                           "tests.integration.docwalk", name, str(scratch), str(work)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for block in report["blocks"]:
        if not block.get("console"):
            assert block["rc"] == 0, (f"{block['where']} exited {block['rc']}:\n{block['stdout']}\n{block['stderr']}"
                                      f"\nworker log:\n{report.get('worker_log', '')}")
    ran = [b["where"] for b in report["blocks"]]
    assert ran == [b.where() for b in walk(name)], "every block of the walk ran, in order"
    return report


def _outputs(report: dict[str, Any]) -> str:
    return "\n".join(b.get("stdout", "") + b.get("stderr", "") for b in report["blocks"])


def _check_common(report: dict[str, Any], backup_suffix: str) -> None:
    out = _outputs(report)
    from dsm_core import __version__

    assert f"dsm {__version__}" in out, "the installed dsm --version"
    assert "completed" in out, "the worker refreshed the simulated iDRAC (servers refresh --wait)"
    assert "healthy:" in out and "NOT healthy" not in out, "dsm doctor, as the admin, exits 0 and says healthy"
    assert report["worker_key"] == {"owner": "dsm", "mode": "0600"}
    assert any(path.endswith(backup_suffix) for path in report["backups"]), report["backups"]
    console = next(b for b in report["blocks"] if b.get("console"))
    assert "carol (viewer)" in console["screen"], console["screen"]
    assert console["exit"] == 0, console["screen"]


def test_the_postgresql_deployment_runs_as_the_page_says(tmp_path: Path, idrac: tuple[str, str]) -> None:
    report = run_walk("postgresql", tmp_path, idrac)
    _check_common(report, ".pgdump")
    out = _outputs(report)
    assert "worker key /var/lib/dsm/worker.key (created" in out, "dsm init --worker made the key"
    console = next(b for b in report["blocks"] if b.get("console"))
    assert "postgresql+psycopg:///dsm?host=/run/postgresql" in console["screen"], "the header names the database"
    assert report["backups"][0].startswith("/var/backups/dsm/backups/"), report["backups"]
    facts = report["facts"]
    assert facts["key_registered"] == "t", "the public half is in the database"
    assert facts["worker_login"] == "dsm_worker", "the worker runs under its own login"
    refused = facts["admin_backup"]
    cause = refused["stderr"].lower()
    assert refused["rc"] == 1 and ("row-level security" in cause or "permission denied" in cause), refused
    assert "sudo -u postgres /opt/dsm/bin/dsm backup create" in refused["stderr"], "the error says who may"


def test_the_sqlite_jump_host_runs_as_the_page_says(tmp_path: Path, idrac: tuple[str, str]) -> None:
    report = run_walk("sqlite", tmp_path, idrac)
    _check_common(report, ".sqlite")
    assert report["facts"]["database_mode"] == "0660 dsm", "the database belongs to the DSM group"
