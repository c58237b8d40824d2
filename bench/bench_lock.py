"""The SQLite lock-contention test at full size: 100,000 imported rows beside a worker and 100 CLI writes.

``make test`` runs the same test with 20,000 rows and 16 writes to keep the suite inside its time budget; the
full size
is a stress run, so it lives here. It prints the test's own summary line and how long the import side took
against the 20,000-row run measured in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

TEST = "tests/integration/test_lock_contention.py::test_a_big_import_beside_a_worker_and_100_cli_writes"


def _run(rows: int) -> tuple[float, int, str]:
    env = {**os.environ, "DSM_LOCK_ROWS": str(rows), "DSM_LOCK_WRITES": "100" if rows >= 100_000 else "16"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", TEST],
                          cwd=Path(__file__).parent.parent, env=env, capture_output=True, text=True)
    summary = [line for line in proc.stdout.splitlines() if "concurrent writes" in line or "passed" in line
               or "failed" in line]
    return time.monotonic() - started, proc.returncode, " | ".join(summary[-2:])


def main() -> None:
    small, small_rc, small_text = _run(20_000)
    big, big_rc, big_text = _run(100_000)
    print(f"lock contention, 20,000 rows and 16 writes (make test): {small:.1f} s (rc={small_rc}) {small_text}")
    print(f"lock contention, 100,000 rows and 100 writes: {big:.1f} s (rc={big_rc}) {big_text}; "
          f"ratio {big / small:.2f}x")
    print("target: the 100,000-row import beside a worker and 100 writes passes: "
          + ("ok" if big_rc == 0 else "FAILED"))
