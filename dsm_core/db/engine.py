"""Engine and session factory for SQLite (WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from dsm_core.config import Config
from dsm_core.db import caps as _caps  # noqa: F401  (registers the length caps on every Session)


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
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


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
