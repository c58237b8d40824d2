"""Throwaway OS users and their peer-authenticated PostgreSQL logins, for the role tests.

The session's cluster (tests/pg.py) authenticates every socket connection but the shared superuser's by peer:
the server asks the kernel which user is on the other end (SO_PEERCRED). The test process runs as root, so to
connect as an OS user it takes that user's effective uid for the moment of ``connect()`` only (the kernel records
the credentials then); ``psql`` and ``dsm`` run as the OS user outright, with ``runuser``. Names carry the
process id, so two pytest-xdist workers never share an OS user, and every user is removed at the end.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dsm_core.db import make_engine
from tests.pg import PgCluster

_EUID = threading.Lock()
PREFIX = f"dsmt{os.getpid() % 1_000_000}"
ROLES = ("admin", "operator", "viewer")


@contextmanager
def as_user(user: pwd.struct_passwd) -> Iterator[None]:
    with _EUID:
        os.setegid(user.pw_gid)
        os.seteuid(user.pw_uid)
        try:
            yield
        finally:
            os.seteuid(0)
            os.setegid(0)


def create_os_user(name: str) -> pwd.struct_passwd:
    subprocess.run(["useradd", "-M", "-N", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name], check=True,
                   capture_output=True)
    return pwd.getpwnam(name)


def remove_os_user(name: str) -> None:
    subprocess.run(["userdel", name], check=False, capture_output=True)


@dataclass
class PeerLogins:
    """One OS user per DSM role (their login names are their OS names) and one for the worker service."""

    cluster: PgCluster
    users: dict[str, pwd.struct_passwd] = field(default_factory=dict)
    engines: list[Engine] = field(default_factory=list)

    def name(self, role: str) -> str:
        return self.users[role].pw_name

    def socket_url(self, database: str, login: str = "") -> str:
        # The deployment's default URL: no user (libpq takes the OS user's name), no password, the local socket.
        return f"postgresql+psycopg://{login}@/{database}?host={self.cluster.root}&port={self.cluster.port}"

    def engine(self, database: str, role: str) -> Engine:
        """An engine whose connections are opened as that OS user, authenticated by peer."""
        user = self.users[role]
        engine = make_engine(self.socket_url(database, "dsm_worker" if role == "worker" else ""))

        @event.listens_for(engine, "do_connect")
        def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            with as_user(user):
                return dialect.connect(*cargs, **cparams)

        self.engines.append(engine)
        return engine

    def psql(self, database: str, role: str, sql: str) -> subprocess.CompletedProcess[str]:
        """``psql`` run by the OS user over the socket; every statement runs, each error is reported."""
        argv = ["runuser", "-u", self.name(role), "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=0", "-h",
                str(self.cluster.root), "-p", str(self.cluster.port), "-d", database, "-A", "-t"]
        if role == "worker":
            argv += ["-U", "dsm_worker"]
        return subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=120, check=False)

    def dsm(self, database: str, role: str, *args: str, home: str, stdin: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
        """The installed ``dsm`` command run by the OS user, with the default socket URL."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DSM_HOME": home, "HOME": home,
               "DSM_DATABASE_URL": self.socket_url(database), "LANG": "C.UTF-8", "NO_COLOR": "1"}
        return subprocess.run(["runuser", "-u", self.name(role), "--", sys.executable, "-m", "dsm_cli.main", *args],
                              input=stdin, capture_output=True, text=True, timeout=120, env=env, check=False,
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()
        self.engines.clear()


def session_user(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT session_user")).scalar())
