"""A throwaway PostgreSQL cluster for the test session, from Debian's server binaries.

initdb + pg_ctl on a free loopback port, as a non-root user (PostgreSQL refuses to run as root), with
durability switched off: the data is thrown away at the end of the session anyway.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin that has initdb and pg_ctl."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for path in reversed(candidates):
        if (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as(user: str | None, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


@dataclass
class PgCluster:
    bin_dir: Path
    root: Path
    port: int
    run_user: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://dsm@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://dsm@127.0.0.1:{self.port}/{database}"

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def stop(self) -> None:
        try:
            _run_as(self.run_user, [self.tool("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> PgCluster:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
                                "(apt-get install postgresql; .ci/run does this)")
    run_user: str | None = None
    root = Path(tempfile.mkdtemp(prefix="dsm-pg-"))
    if os.geteuid() == 0:
        for candidate in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(candidate)
            except KeyError:
                continue
            run_user = candidate
            os.chown(root, pw.pw_uid, pw.pw_gid)
            break
        else:
            raise RuntimeError("running as root and neither 'postgres' nor 'nobody' exists to run PostgreSQL")
    os.chmod(root, 0o755)
    port = free_port()
    data = root / "data"
    _run_as(run_user, [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "dsm", "-E", "UTF8",
                       "--locale=C", "--no-sync", "--no-instructions"])
    # The shared superuser `dsm` over TCP (every test's own database) and over the socket; everyone else over the
    # socket by peer authentication, as on a jump host (tests/pgroles.py): each OS user is its own login, and the
    # throwaway service accounts of the role tests (dsmt…svc) map to dsm_worker.
    (data / "pg_hba.conf").write_text(
        "local all dsm trust\nlocal all all peer map=dsm\nhost all dsm 127.0.0.1/32 trust\n")
    (data / "pg_ident.conf").write_text("dsm /^dsmt[0-9a-z]*svc$ dsm_worker\ndsm /^(.*)$ \\1\n")
    if run_user is not None:
        pw = pwd.getpwnam(run_user)
        for name in ("pg_hba.conf", "pg_ident.conf"):
            os.chown(data / name, pw.pw_uid, pw.pw_gid)
    _run_as(run_user, [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "server.log"),
                       "-o", f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
                             "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                       "start"])
    return PgCluster(bin_dir, root, port, run_user)
