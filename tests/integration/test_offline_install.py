"""The air-gapped install the README gives, done for real: a fresh virtual environment, every package index
pointed at a closed loopback port, DSM and its dependencies installed from a wheelhouse pinned by hash
(deploy/wheelhouse.py), then the installed `dsm --version`, `dsm init`, `dsm doctor` and the console on a terminal.

The dependencies' wheels are built by `make test` beforehand (.testbeds/wheels, where an index is reachable);
DSM's own wheel is built here from this checkout, offline, so the test installs the code under test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dsm_core import __version__
from tests.integration.test_installed import open_console
from tests.integration.wheelhouse import offline_env, wheelhouse

pytestmark = pytest.mark.timeout(600)


def test_the_air_gapped_install_from_a_hashed_wheelhouse_with_every_index_unreachable(tmp_path: Path) -> None:
    house = wheelhouse(tmp_path / "wheelhouse")
    lines = (house / "requirements.txt").read_text().splitlines()
    assert any(line.startswith(f"dsm=={__version__} --hash=sha256:") for line in lines)
    assert all("--hash=sha256:" in line for line in lines)

    env = offline_env(tmp_path)
    venv = tmp_path / "opt-dsm"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    # Without --no-index, pip must fail: proof that no index is reachable from here.
    online = subprocess.run([*pip, "install", "--retries", "0", "--timeout", "3", "h11"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert online.returncode != 0
    installed = subprocess.run([*pip, "install", "--no-index", "--find-links", str(house), "--require-hashes",
                                "-r", str(house / "requirements.txt")], capture_output=True, text=True, env=env,
                               timeout=600)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]

    dsm = str(venv / "bin" / "dsm")
    version = subprocess.run([dsm, "--version"], capture_output=True, text=True, env=env, timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"dsm {__version__}", version.stderr
    home = tmp_path / "home"
    init = subprocess.run([dsm, "init"], capture_output=True, text=True, env={**env, "DSM_HOME": str(home)},
                          timeout=300)
    assert init.returncode == 0, init.stderr[-2000:]
    assert (home / "dsm.db").is_file() and (home / "worker.key").is_file()
    doctor = subprocess.run([dsm, "doctor", "--json"], capture_output=True, text=True,
                            env={**env, "DSM_HOME": str(home)}, timeout=120)
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["schema"]["level"] == "ok"  # the installed command runs against what it created
    assert checks["console"]["level"] == "ok", checks["console"]

    # The installed console, on a terminal: its first paint (the header: user, role, database), `q`, exit 0.
    code, screen = open_console([dsm], {**env, "DSM_HOME": str(home), "NO_COLOR": "1"})
    assert code == 0, screen
