"""The air-gapped install the README gives, done for real: a fresh virtual environment, every package index
pointed at a closed loopback port, DSM and its dependencies installed from a wheelhouse pinned by hash
(deploy/wheelhouse.py), then the installed `dsm --version` and `dsm init`.

The dependencies' wheels are built by `make test` beforehand (.testbeds/wheels, where an index is reachable);
DSM's own wheel is built here from this checkout, offline, so the test installs the code under test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dsm_core import __version__

pytestmark = pytest.mark.timeout(600)
REPO = Path(__file__).resolve().parents[2]
WHEELS = REPO / ".testbeds" / "wheels"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_the_air_gapped_install_from_a_hashed_wheelhouse_with_every_index_unreachable(tmp_path: Path) -> None:
    if not any(WHEELS.glob("*.whl")):
        pytest.fail(f"no dependency wheels in {WHEELS}: `make test` builds them (make .testbeds/wheels/.stamp)")
    house = tmp_path / "wheelhouse"
    house.mkdir()
    for wheel in WHEELS.glob("*.whl"):
        if not wheel.name.startswith("dsm-"):
            shutil.copy(wheel, house)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", str(REPO), "-w", str(house)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    pinned = subprocess.run([sys.executable, str(REPO / "deploy" / "wheelhouse.py"), str(house)],
                            capture_output=True, text=True, timeout=60)
    assert pinned.returncode == 0, pinned.stderr
    lines = (house / "requirements.txt").read_text().splitlines()
    assert any(line.startswith(f"dsm=={__version__} --hash=sha256:") for line in lines)
    assert all("--hash=sha256:" in line for line in lines)

    closed = f"http://127.0.0.1:{_closed_port()}/simple"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PIP_INDEX_URL": closed,
           "PIP_EXTRA_INDEX_URL": closed, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_CONFIG_FILE": os.devnull, "LANG": "C.UTF-8"}
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
    assert '"schema"' in doctor.stdout  # the installed command runs against what it created
