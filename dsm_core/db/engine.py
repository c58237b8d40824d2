"""Engine and session factory for SQLite (WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from dsm_core.config import Config
from dsm_core.db import caps as _caps  # noqa: F401  (registers the length caps on every Session)
from dsm_core.db.hidden import watch_postgres


def make_engine(url: str, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """An engine tuned for DSM's access pattern: many short transactions from several processes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        )
        _tune_sqlite(engine, busy_timeout_ms)
        return engine
    engine = sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)
    watch_postgres(engine)
    return engine


def engine_from_config(config: Config) -> Engine:
    return make_engine(config.database_url, busy_timeout_ms=config.sqlite_busy_timeout_ms,
                       echo=config.database_echo)


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over so
        # that SQLAlchemy's transactions are real ones and writers take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers BEGIN IMMEDIATE: they take the write lock up front and wait on busy_timeout,
        # instead of failing with "database is locked" when a read lock is upgraded mid-transaction.
        # Readers (read_scope) stay DEFERRED so that WAL lets them run beside a writer.
        read_only = conn.get_execution_options().get("dsm_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back whole on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A read-only transaction: on SQLite it never takes the write lock, so it never waits on the worker."""
    # Closing (not rolling back) ends the transaction without expiring what was loaded, so callers
    # may read the returned rows after the block.
    with Session(engine.execution_options(dsm_read_only=True), expire_on_commit=False) as session:
        yield session


P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("dsm.db")
LOCKED_RETRY_SECONDS = 120.0


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked"/"busy": another process held the write lock past the busy timeout."""
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, sa.exc.OperationalError) and ("database is locked" in text or "database is busy" in text)


def retry_when_locked(fn: Callable[P, T]) -> Callable[P, T]:
    """Run ``fn`` (whole transactions) again, with full-jitter backoff, while SQLite says it is locked.

    The worker's beat, claims and records must outlast a long write by another process (an import, an
    operator's command) instead of dying on the first ``database is locked``."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        deadline = time.monotonic() + LOCKED_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                return fn(*args, **kwargs)
            except sa.exc.OperationalError as exc:
                if not is_locked(exc) or time.monotonic() > deadline:
                    raise
                log.info("%s: database locked by another process; retrying", fn.__name__)
                time.sleep(random.uniform(0.0, delay))
                delay = min(delay * 2, 2.0)

    return wrapper
