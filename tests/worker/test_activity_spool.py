"""A failed activity flush drops nothing: rows are kept and retried, and what the database will not take
by the time the worker stops is spooled to disk and written by the next worker — on a real SQLite database
whose table is made unavailable (renamed) and then restored."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsm_core.db import make_engine
from dsm_core.models import IdracCommand, User
from dsm_core.redfish.client import CallRecord
from dsm_worker.activity import ActivityWriter
from tests.conftest import Templates, fresh_database


def _record(n: int) -> CallRecord:
    return CallRecord("GET", f"/redfish/v1/Systems/{n}", f"https://10.0.0.1/redfish/v1/Systems/{n}", 200, 12,
                      True, None, {"Authorization": "[REDACTED]"}, None, {"n": n})


def _rows(engine: Engine) -> list[IdracCommand]:
    with Session(engine) as s:
        return list(s.exec(select(IdracCommand)).all())


async def test_rows_survive_a_database_that_refuses_them(templates: Templates, tmp_path: Path) -> None:
    engine = make_engine(fresh_database(templates, "sqlite", tmp_path))
    with Session(engine) as s:
        oscar = s.exec(select(User).where(User.username == "oscar")).one().id
    spool = tmp_path / "spool"
    writer = ActivityWriter(engine, "worker:test", lambda: "all", lambda: (64, 64, 64), spool_dir=spool)
    record = writer.recorder(None, None, None, oscar)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE idrac_commands RENAME TO idrac_commands_away"))
    for n in range(5):
        record(_record(n))
    await writer.flush()
    assert writer.failures == 1 and len(writer._rows) == 5, "a failed write keeps every row"
    await writer.stop()  # still failing: spooled, not lost
    spooled = list(spool.glob("activity-*.jsonl"))
    assert len(spooled) == 1 and len(spooled[0].read_text().splitlines()) == 5

    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE idrac_commands_away RENAME TO idrac_commands"))
    later = ActivityWriter(engine, "worker:next", lambda: "all", lambda: (64, 64, 64), spool_dir=spool)
    later.recorder(None, None, None, oscar)(_record(99))
    await later.flush()
    rows = _rows(engine)
    assert sorted(r.endpoint for r in rows) == sorted([f"/redfish/v1/Systems/{n}" for n in range(5)] +
                                                      ["/redfish/v1/Systems/99"])
    assert all(r.initiated_by == oscar for r in rows), "initiated_by is kept through the spool"
    assert all(isinstance(r.id, uuid.UUID) for r in rows)
    assert not list(spool.glob("activity-*")), "the spool file is gone once written"
    await later.flush()
    assert len(_rows(engine)) == 6, "nothing written twice"
    engine.dispose()
