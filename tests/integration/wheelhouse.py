"""The wheels a user installs: DSM's own, built from this checkout, beside every dependency's (.testbeds/wheels,
built by `make test` where a package index is reachable), pinned as `make wheelhouse` pins them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WHEELS = REPO / ".testbeds" / "wheels"


def source_copy(dest: Path) -> Path:
    """The checkout's files as git sees them (tracked, and new ones it does not ignore), in a directory of the
    test's own: a build writes build/ and *.egg-info beside the sources, and two tests must not share them."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def dsm_wheel(dest: Path, *, tree: Path | None = None) -> Path:
    """DSM's wheel from this checkout (or ``tree``), built offline into ``dest``."""
    tree = tree or source_copy(dest.parent / f"{dest.name}-src")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", str(tree), "-w", str(dest)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    return next(dest.glob("dsm-*.whl"))


def wheelhouse(house: Path) -> Path:
    """What `make wheelhouse` makes: every wheel, and requirements.txt pinning each by version and SHA-256."""
    if not any(WHEELS.glob("*.whl")):
        pytest.fail(f"no dependency wheels in {WHEELS}: `make test` builds them (make .testbeds/wheels/.stamp)")
    house.mkdir(parents=True, exist_ok=True)
    for wheel in WHEELS.glob("*.whl"):
        # setuptools and wheel are there for the tests' `pip install .` (its build backend), not in a wheelhouse
        if not wheel.name.startswith(("dsm-", "setuptools-", "wheel-")):
            shutil.copy(wheel, house)
    dsm_wheel(house)
    pinned = subprocess.run([sys.executable, str(REPO / "deploy" / "wheelhouse.py"), str(house)],
                            capture_output=True, text=True, timeout=60)
    assert pinned.returncode == 0, pinned.stderr
    return house


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def offline_env(home: Path) -> dict[str, str]:
    """pip with every index pointed at a closed loopback port: an install must come from the wheelhouse alone."""
    closed = f"http://127.0.0.1:{closed_port()}/simple"
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PIP_INDEX_URL": closed,
            "PIP_EXTRA_INDEX_URL": closed, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_CONFIG_FILE": os.devnull, "LANG": "C.UTF-8"}
