"""Run the installed `dsm` command the way an operator does, in a DSM_HOME of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


def dsm_executable() -> list[str]:
    found = shutil.which("dsm", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "dsm_cli.main"]


@dataclass
class DsmHome:
    home: Path
    database_url: str | None
    extra_env: dict[str, str]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DSM_", "IDRAC_"))}
        env["DSM_HOME"] = str(self.home)
        if self.database_url:
            env["DSM_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def run(self, *args: str, stdin: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*dsm_executable(), *args], input=stdin, capture_output=True, text=True,
                              env=self.env(), timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"dsm {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc


def run_on_pty(args: list[str], env: dict[str, str], answer: bytes | None = None, when: bytes = b"[y/N]",
               timeout: float = 150.0) -> tuple[int, bytes]:
    """`dsm ARGS` with a pseudo-terminal as its terminal (stdin, stdout, stderr): what a person at a
    terminal sees, and optionally ``answer`` typed once ``when`` shows. Returns (exit code, output)."""
    import os
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: exec `dsm` on the pty
        os.execve(dsm_executable()[0], [*dsm_executable(), *args], env)
    seen = b""
    answered = answer is None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal: it has exited
                break
            if not chunk:
                break
            seen += chunk
        if not answered and answer is not None and when in seen:
            os.write(fd, answer + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen
