"""govmomi's vCenter simulator (../shared/testbeds/vcsim/), built from Debian's packages, started per test.

`.ci/run` builds it; a test run on a machine without it builds it on first use (apt, then `go build`). When it
cannot be built the tests that need it fail under DSM_REQUIRE_VCSIM (CI) and are skipped, visibly, elsewhere.
Each instance listens on 127.0.0.1 on a port the kernel picks. Hosts sorted by name get service tags VCS0000,
VCS0001, … — the same tags `dsm_sim` gives its iDRACs with ``tag_scheme="vcsim"``.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT.parent / "shared" / "testbeds" / "vcsim" / "build.sh"
BINARY = ROOT / ".testbeds" / "vcsim"
_build_lock = threading.Lock()


@dataclass
class Vcsim:
    host: str
    port: int
    username: str
    password: str
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"


def binary() -> Path:
    with _build_lock:
        if BINARY.exists() and BINARY.stat().st_mtime >= (BUILD.parent / "main.go").stat().st_mtime:
            return BINARY
        try:
            subprocess.run(["bash", str(BUILD), str(BINARY)], check=True, capture_output=True, text=True, timeout=900)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            message = f"vcsim could not be built ({BUILD}): {detail.strip()[-500:]}"
            if os.environ.get("DSM_REQUIRE_VCSIM"):
                pytest.fail(message)
            pytest.skip(message)
        return BINARY


@contextmanager
def running(*args: str) -> Iterator[Vcsim]:
    """A vcsim with ``args`` (e.g. ``-cluster 2 -host 3 -no-drs DC0_C0``), stopped afterwards."""
    proc = subprocess.Popen([str(binary()), "-l", "127.0.0.1:0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("URL "):
            err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
            raise RuntimeError(f"vcsim did not start: {line!r} {err[-500:]}")
        url = urlsplit(line.split(" ", 1)[1].strip())
        assert url.hostname == "127.0.0.1" and url.port
        yield Vcsim(url.hostname, url.port, unquote(url.username or ""), unquote(url.password or ""), proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
