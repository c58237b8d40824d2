"""Fixtures: every database test runs on SQLite and on a throwaway PostgreSQL.

Each test gets its own database copied from a template that is migrated once per session and holds the
worker's public key and three users (alice admin, oscar operator, victor viewer): a copy costs
milliseconds, a migration a second.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.credentials.sealing import create_key_file, encode_public_key, key_id
from dsm_core.db import make_engine, migrate, roles
from dsm_core.services.bootstrap import register_worker_key
from dsm_core.services.context import SYSTEM, Actor, ServiceContext, actor_for
from dsm_core.services.users import add_user

sys.path.insert(0, str(Path(__file__).parent))
from pg import PgCluster, start_cluster
from pgroles import PREFIX, PeerLogins, create_os_user, remove_os_user

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
BACKENDS = ("sqlite", "postgresql")
_PG_UNAVAILABLE: str | None = None
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | None]:
    global _PG_UNAVAILABLE
    try:
        cluster = start_cluster()
    except (FileNotFoundError, RuntimeError) as exc:
        _PG_UNAVAILABLE = str(exc)
        yield None
        return
    try:
        yield cluster
    finally:
        cluster.stop()


def _no_postgres(what: str) -> NoReturn:
    """In CI (DSM_REQUIRE_POSTGRES) a missing PostgreSQL fails the test; on a developer's machine it is skipped
    and the summary says so (pytest_terminal_summary)."""
    if os.environ.get("DSM_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here (DSM_REQUIRE_POSTGRES) but unavailable: {_PG_UNAVAILABLE}")
    pytest.skip(f"{what} skipped: {_PG_UNAVAILABLE}")


@pytest.fixture(scope="session")
def peer_logins(pg_cluster: PgCluster | None) -> Iterator[PeerLogins]:
    """Throwaway OS users, one per DSM role and one for the worker service (tests/pgroles.py); removed after."""
    if pg_cluster is None:
        _no_postgres("PostgreSQL role tests")
    if os.geteuid() != 0:
        pytest.fail("the PostgreSQL role tests create throwaway OS users: run them as root (CI does)")
    logins = PeerLogins(pg_cluster)
    try:
        for role, suffix in (("admin", "a"), ("operator", "o"), ("viewer", "v"), ("worker", "svc")):
            logins.users[role] = create_os_user(f"{PREFIX}{suffix}")
        probe = subprocess.run(["runuser", "-u", logins.name("viewer"), "--", sys.executable, "-c", "import dsm_cli"],
                               capture_output=True, text=True, cwd=ROOT, check=False)
        if probe.returncode != 0:
            pytest.fail(f"the role tests' OS users cannot run {sys.executable} from {ROOT} ({probe.stderr.strip()}): "
                        "make the interpreter's and the checkout's directories traversable (chmod o+x; .ci/run does)")
        yield logins
    finally:
        logins.dispose()
        for user in logins.users.values():
            remove_os_user(user.pw_name)


@pytest.fixture(scope="session")
def worker_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "worker.key"
    create_key_file(path)
    return path


def _seed(engine: Engine, key_path: Path) -> None:
    migrate.upgrade(engine)
    key, _ = create_key_file(key_path)
    system = ServiceContext(engine, SYSTEM)
    register_worker_key(system, encode_public_key(key.public_key()), key_id(key.public_key()))
    for name, role in (("alice", "admin"), ("oscar", "operator"), ("victor", "viewer")):
        add_user(system, name, role)


@dataclass
class Templates:
    sqlite_file: Path
    pg: PgCluster | None


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster | None,
              worker_key_path: Path) -> Templates:
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{sqlite_file}")
    _seed(engine, worker_key_path)
    engine.dispose()  # the last connection to close checkpoints the WAL into the main file
    assert not Path(f"{sqlite_file}-wal").exists() or Path(f"{sqlite_file}-wal").stat().st_size == 0
    if pg_cluster is not None:
        admin = sa.create_engine(pg_cluster.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE dsm_template")
        admin.dispose()
        engine = make_engine(pg_cluster.url("dsm_template"))
        _seed(engine, worker_key_path)
        # Every PostgreSQL test runs on a database provisioned as a real install is (dsm db provision-roles):
        # DSM's roles, grants, policies and triggers in place; the tests' shared superuser `dsm` is trusted by
        # them, and tests/pgroles.py connects as peer-authenticated logins of each role.
        with engine.begin() as conn:
            roles.provision(conn)
        engine.dispose()
    return Templates(sqlite_file, pg_cluster)


def fresh_database(templates: Templates, backend: str, tmp_path: Path, *, empty: bool = False) -> str:
    """URL of a new database for one test: a copy of the seeded template, or empty when asked."""
    if backend == "sqlite":
        target = tmp_path / f"dsm-{next(_counter)}.db"
        if not empty:
            shutil.copy(templates.sqlite_file, target)
        return f"sqlite:///{target}"
    if templates.pg is None:
        _no_postgres("PostgreSQL variant")
    name = f"t_{next(_counter)}_{tmp_path.name[-12:].lower().replace('-', '_')}"
    admin = sa.create_engine(templates.pg.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + ("" if empty else " TEMPLATE dsm_template"))
        if not empty:  # a copy is owned by its creator; a provisioned database belongs to dsm_owner
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" OWNER TO {roles.OWNER}')
    admin.dispose()
    return templates.pg.url(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(templates: Templates, backend: str, tmp_path: Path) -> str:
    return fresh_database(templates, backend, tmp_path)


@pytest.fixture
def empty_db_url(templates: Templates, backend: str, tmp_path: Path) -> str:
    return fresh_database(templates, backend, tmp_path, empty=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def ctx_for(engine: Engine, username: str) -> ServiceContext:
    return ServiceContext(engine, actor_for(engine, username))


@pytest.fixture
def admin(engine: Engine) -> ServiceContext:
    return ctx_for(engine, "alice")


@pytest.fixture
def operator(engine: Engine) -> ServiceContext:
    return ctx_for(engine, "oscar")


@pytest.fixture
def viewer(engine: Engine) -> ServiceContext:
    return ctx_for(engine, "victor")


_PG_PARAM = re.compile(r"[\[-]postgresql[\]-]")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = sum(1 for r in terminalreporter.stats.get("passed", []) if _PG_PARAM.search(r.nodeid))
    if _PG_UNAVAILABLE:
        terminalreporter.write_line(f"PostgreSQL variants were SKIPPED: {_PG_UNAVAILABLE}", yellow=True)
    elif ran:
        terminalreporter.write_line(f"PostgreSQL variants passed: {ran} (throwaway cluster from Debian's binaries)")


__all__ = ["Actor", "ctx_for", "fresh_database"]
