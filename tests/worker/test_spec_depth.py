"""The specification's depth in the seed jobs, through `dsm` and a real `dsm worker` against the simulated fleet
over HTTPS, on SQLite and PostgreSQL: the credential set chosen for a discovery stays with the servers it
found; a credential test tests exactly what it was asked to; a restart is done only once the host came back;
event log entries written after a SEL clear are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from dsm_core.models import CredentialSet, IdracCommand, Job, JobTask, Server, ServerEventLog
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.sim.conftest import client
from tests.worker.conftest import Install, block_of, make_install


@pytest.fixture
def unranged(templates: Templates, backend: str, tmp_path: Path) -> Install:
    """An installation whose only credential set covers no address: only an explicit choice finds servers."""
    inst = make_install(templates, backend, tmp_path, [])
    return inst


def _job(install: Install, job_id: str) -> Job:
    with Session(install.engine) as s:
        return next(j for j in s.exec(select(Job)).all() if str(j.id) == job_id)


def _created(proc_stdout: str) -> str:
    return json.loads(proc_stdout)["id"]


def _task_log(install: Install, job_id: str) -> str:
    with Session(install.engine) as s:
        tasks = s.exec(select(JobTask).where(col(JobTask.job_id) == _job(install, job_id).id)).all()
    return "\n".join(t.log or "" for t in tasks)


def test_seed_jobs_do_what_the_specification_says(unranged: Install, fleet: FleetThread) -> None:
    home, install = unranged.home, unranged
    net = block_of(fleet).replace(".0/24", ".0/29")

    # 1. Discovery with an explicit set links every server it finds to that set ...
    home.run("discover", net, "--port", "8443", "--credential-set", "lab", check=True)
    install.worker()
    with Session(install.engine) as s:
        lab = s.exec(select(CredentialSet).where(CredentialSet.name == "lab")).one()
        found = {f"{x.ip_address}:{x.port}": x for x in s.exec(select(Server)).all()}
    assert set(found) == set(fleet.endpoints)
    assert all(x.credential_set_id == lab.id for x in found.values())
    # ... so the next job resolves the same credentials (no range covers these addresses).
    refresh = _created(home.run("servers", "refresh", *fleet.endpoints, "--json", check=True).stdout)

    # 1. A credential test of a named set tests that set, and says so; the server's own status is untouched.
    home.run("credentials", "add", "wrong", "--username", "root", "--password-stdin", stdin="nope\n", check=True)
    target = fleet.endpoints[0]
    ip, port = target.split(":")
    bad = _created(home.run("jobs", "create", "test_credentials", "--server", target, "--detail",
                            "credential_set=wrong", "--json", check=True).stdout)
    good = _created(home.run("jobs", "create", "test_credentials", "--server", target, "--detail",
                             "credential_set=lab", "--json", check=True).stdout)
    by_address = _created(home.run("jobs", "create", "test_credentials", "--detail", f"address={ip}", "--detail",
                                   f"port={port}", "--detail", "credential_set=wrong", "--json", check=True).stdout)
    unknown = fleet.endpoints[3].split(":")
    home.run("servers", "remove", fleet.endpoints[3], "--yes", check=True)
    fresh = _created(home.run("jobs", "create", "test_credentials", "--detail", f"address={unknown[0]}", "--detail",
                              f"port={unknown[1]}", "--detail", "credential_set=lab", "--json", check=True).stdout)

    # 6. Restarts: done only with evidence that the host went down and came back.
    restart = _created(home.run("jobs", "create", "power_action", "--server", fleet.endpoints[1], "--detail",
                                "action=ForceRestart", "--detail", "timeout_seconds=60", "--json",
                                check=True).stdout)
    graceful = _created(home.run("jobs", "create", "power_action", "--server", fleet.endpoints[2], "--detail",
                                 "action=GracefulRestart", "--detail", "timeout_seconds=60", "--json",
                                 check=True).stdout)
    # 7. Logs before a SEL clear.
    faulty = fleet.endpoints[2]
    home.run("servers", "fetch-logs", faulty, check=True)
    before_reset = {s["endpoint"]: s for s in fleet.servers()}
    install.worker()

    assert _job(install, refresh).status == "completed", _job(install, refresh).error
    failed = _job(install, bad)
    assert failed.status == "failed" and "credential set wrong" in (failed.error or "")
    assert _job(install, good).status == "completed"
    assert _job(install, good).details["result"]["used"] == {target: "credential set lab (root)"}
    assert "credential set lab (root)" in _task_log(install, good)
    assert _job(install, by_address).status == "failed"
    assert "credential set wrong" in (_job(install, by_address).error or "")
    assert _job(install, fresh).status == "completed", _job(install, fresh).error
    with Session(install.engine) as s:
        server = s.exec(select(Server).where(Server.ip_address == ip, Server.port == int(port))).one()
        # tests of named sets say nothing about the credentials the server's jobs use
        assert server.credential_test_status is None
        assert s.exec(select(Server).where(Server.ip_address == unknown[0])).first() is None

    for job_id in (restart, graceful):
        job = _job(install, job_id)
        assert job.status == "completed", job.error
        assert "restarted after" in _task_log(install, job_id)
        assert "LastResetTime moved" in _task_log(install, job_id) or "came back" in _task_log(install, job_id)
    after = {s["endpoint"]: s for s in fleet.servers()}
    assert after[fleet.endpoints[1]]["counters"] != before_reset[fleet.endpoints[1]]["counters"]

    # 7. Clear the SEL on the iDRAC (its ids restart at 1), let new events happen, fetch again: all kept.
    with Session(install.engine) as s:
        server_id = s.exec(select(Server).where(Server.ip_address == faulty.split(":")[0])).one().id
        old = s.exec(select(ServerEventLog).where(ServerEventLog.server_id == server_id,
                                                  ServerEventLog.log_type == "sel")).all()
    assert old
    with client(faulty) as c:
        r = c.post("/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Actions/LogService.ClearLog", json={})
        assert r.status_code in (200, 202, 204), r.text
        fresh_ids = [m["Id"] for m in c.get("/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries")
                     .json()["Members"]]
    fleet.set_health([faulty], ["psu", "fan", "dimm"])
    home.run("servers", "fetch-logs", faulty, check=True)
    install.worker()
    with Session(install.engine) as s:
        now = s.exec(select(ServerEventLog).where(ServerEventLog.server_id == server_id,
                                                  ServerEventLog.log_type == "sel")).all()
    assert "1" in fresh_ids and any(e.event_id == "1" for e in old)  # an id DSM already holds, reused
    assert len(now) > len(old)
    assert any(e.message == "Log cleared." for e in now)
    assert any(e.event_id == "1" and e.message == "Log cleared." for e in now)
    assert any(e.event_id == "1" and e.message != "Log cleared." for e in now)  # the old entry 1 is kept too
    keys = [(e.event_id, e.timestamp) for e in now]
    assert len(keys) == len(set(keys))
    assert fleet.open_sessions() == 0

    # 10. Every call the worker made names who asked for it: the creator of the job that made it.
    with Session(install.engine) as s:
        calls = s.exec(select(IdracCommand)).all()
        creators = {j.id: j.created_by for j in s.exec(select(Job)).all()}
    assert calls and all(c.initiated_by is not None and c.initiated_by == creators[c.job_id] for c in calls)
