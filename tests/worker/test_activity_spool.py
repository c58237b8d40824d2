"""A failed activity flush drops nothing: rows are kept and retried, and what the database will not take
by the time the worker stops is spooled to disk and written by the next worker — on a real SQLite database
whose table is made unavailable (renamed) and then restored."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_row_the_database_refuses_is_quarantined_and_never_stops_the_log(
        templates: Templates, tmp_path: Path, backend: str) -> None:
    """A call recorded against a server id no row has (what a credential test of a stray address did): the batch
    it is in is written row by row, that row is quarantined with the reason, every other call is written, later
    calls are written at once, a spool file holding such a row is drained the same way, and `dsm doctor` (which
    reads the worker's heartbeat) reports the quarantine."""
    import json
    import os

    from dsm_core.services import doctor
    from dsm_core.timeutil import utcnow
    from dsm_worker import store

    engine = make_engine(fresh_database(templates, backend, tmp_path))
    spool = tmp_path / "spool"
    writer = ActivityWriter(engine, "worker:test", lambda: "all", lambda: (64, 64, 64), spool_dir=spool)
    good, stray = writer.recorder(None, None, None), writer.recorder(uuid.uuid4(), None, None)
    good(_record(1))
    stray(_record(2))
    good(_record(3))
    await writer.flush()
    assert sorted(r.endpoint for r in _rows(engine)) == ["/redfish/v1/Systems/1", "/redfish/v1/Systems/3"]
    assert writer._rows == [] and writer.failures == 0 and writer.quarantined == 1
    held = [json.loads(line) for line in next(spool.glob("quarantine-*.jsonl")).read_text().splitlines()]
    assert len(held) == 1 and held[0]["row"]["endpoint"] == "/redfish/v1/Systems/2"
    assert "IntegrityError" in held[0]["reason"] and "IntegrityError" in writer.last_error
    good(_record(4))
    await writer.flush()
    assert len(_rows(engine)) == 3, "the next calls are written at once"

    # A spool file from a stopped worker with the same kind of row in it: drained row by row, never retried whole.
    stray(_record(5))
    good(_record(6))
    writer._spool()
    later = ActivityWriter(engine, "worker:next", lambda: "all", lambda: (64, 64, 64), spool_dir=spool)
    await later.flush()
    assert sorted(r.endpoint for r in _rows(engine))[-1] == "/redfish/v1/Systems/6" and len(_rows(engine)) == 4
    assert later.quarantined == 1 and not list(spool.glob("activity-*"))

    worker_id = uuid.uuid4()
    store.beat(engine, worker_id, "jump1", os.getpid(), "test", "running", [], 4, [], writer.status())
    found = [f for f in doctor.check_database(engine, utcnow(), str) if f.check == "activity log"]
    assert [f.level for f in found] == ["warning"] and "quarantined 1 call record" in found[0].message, found
    failing = {**writer.status(), "failures": 5, "pending": 12, "last_error": "OperationalError: disk I/O error"}
    store.beat(engine, worker_id, "jump1", os.getpid(), "test", "running", [], 4, [], failing)
    found = [f for f in doctor.check_database(engine, utcnow(), str) if f.check == "activity log"]
    assert found[0].level == "error" and "cannot write the activity log" in found[0].message
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_credential_test_of_a_stray_address_leaves_the_log_whole(
        templates: Templates, backend: str, tmp_path: Path) -> None:
    """The reviewed finding, end to end with a real worker: a credential test of an address not in the inventory
    used to record its calls with a server id no row has, and the refused batch blocked every later call. Now its
    calls are recorded with no server, the next refresh's calls are all in the log, and nothing is quarantined."""
    from dsm_sim.fleet import FleetThread
    from tests.sim.conftest import fleet_spec
    from tests.worker.conftest import block_of, make_install

    with FleetThread(fleet_spec(count=2, models=("R750", "R660"), time_scale=600)) as fleet:
        install = make_install(templates, backend, tmp_path, [block_of(fleet)])
        known, stray = fleet.endpoints
        home = install.home
        home.run("servers", "add", known, check=True)
        ip, port = stray.split(":")
        home.run("jobs", "create", "test_credentials", "--detail", f"address={ip}", "--detail", f"port={port}",
                 "--detail", "credential_set=lab", check=True)
        install.worker()
        home.run("servers", "refresh", known, check=True)
        done = install.worker()
        with install.engine.connect() as conn:
            by_server = dict(conn.execute(sa.text(
                "SELECT coalesce(s.ip_address, '-'), count(*) FROM idrac_commands c LEFT JOIN servers s "
                "ON s.id = c.server_id GROUP BY 1")).all())
            refresh_calls = conn.execute(sa.text(
                "SELECT count(*) FROM idrac_commands c JOIN jobs j ON j.id = c.job_id "
                "WHERE j.job_type = 'refresh_server_info'")).scalar_one()
        assert by_server.get("-", 0) >= 2, "the stray address's calls are logged, with no server"
        assert refresh_calls >= 5 and by_server.get(known.split(":")[0], 0) >= refresh_calls
        assert "quarantined" not in done.stderr and "activity log write failed" not in done.stderr, done.stderr
        assert not list((home.home / "spool").glob("quarantine-*"))
        install.engine.dispose()
