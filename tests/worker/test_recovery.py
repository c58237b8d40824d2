"""Workers die and share: a job survives its worker's kill -9, and two workers never run a job twice."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from dsm_core.models import IdracCommand, Job, JobTask
from dsm_core.services import jobs as job_service
from dsm_core.services.context import ServiceContext, actor_for
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import block_of, make_install


def _tasks(engine: sa.Engine, job_id: uuid.UUID) -> list[JobTask]:
    with Session(engine) as s:
        return list(s.exec(select(JobTask).where(JobTask.job_id == job_id)).all())


def _commands_by_task(engine: sa.Engine) -> dict[uuid.UUID, set[str]]:
    out: dict[uuid.UUID, set[str]] = {}
    with Session(engine) as s:
        for task_id, source in s.exec(select(IdracCommand.task_id, IdracCommand.source)).all():
            if task_id is not None:
                out.setdefault(task_id, set()).add(source or "")
    return out


def test_kill_9_mid_refresh_second_worker_finishes(templates: Templates, tmp_path: Path) -> None:
    with FleetThread(fleet_spec(count=200, time_scale=600, faults={"all": {"latency_ms": 250}})) as fleet:
        install = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
        csv = "ip_address\n" + "\n".join(fleet.endpoints) + "\n"
        install.home.run("servers", "import", "-", stdin=csv, check=True)
        install.home.run("servers", "refresh", *fleet.endpoints, check=True)
        with Session(install.engine) as s:
            job_id = s.exec(select(Job.id)).one()
        first = install.start_worker("--lease", "5", "--concurrency", "2")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = [t for t in _tasks(install.engine, job_id) if t.status == "completed"]
            if len(done) >= 30:
                break
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        time.sleep(0.6)  # let the activity rows of finished tasks be what they are
        before = {t.id: t for t in _tasks(install.engine, job_id)}
        finished_by_first = {i for i, t in before.items() if t.status == "completed"}
        assert 30 <= len(finished_by_first) < 200, "the kill must land mid-job"
        with Session(install.engine) as s:
            job = s.get(Job, job_id)
            assert job is not None and job.status == "running"  # the dead worker's lease still stands
            first_worker = job.claimed_by
        second = install.start_worker("--lease", "5")  # claims the job once the dead worker's lease expires
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with Session(install.engine) as s:
                    status = s.exec(select(Job.status).where(Job.id == job_id)).one()
                if status not in ("pending", "running"):
                    break
                time.sleep(0.5)
        finally:
            second.terminate()
            assert second.wait(60) == 0
        after = _tasks(install.engine, job_id)
        with Session(install.engine) as s:
            job = s.get(Job, job_id)
            assert job is not None
        assert job.status == "completed", job.error
        assert job.claimed_by != first_worker and job.attempts == 2
        assert len(after) == 200 and all(t.status == "completed" for t in after)  # no task lost
        sources = _commands_by_task(install.engine)
        for task in after:
            if task.id in finished_by_first:
                assert task.attempts == 1, "a finished task was run again"
                assert sources[task.id] == {f"worker:{first_worker}"}
            else:
                assert f"worker:{job.claimed_by}" in sources[task.id]
        install.engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_workers_2000_jobs_each_runs_exactly_once(templates: Templates, backend: str, tmp_path: Path) -> None:
    with FleetThread(fleet_spec(count=10, time_scale=600)) as fleet:
        install = make_install(templates, backend, tmp_path, [block_of(fleet)])
        ctx = ServiceContext(
            install.engine, actor_for(install.engine, __import__("pwd").getpwuid(__import__("os").geteuid()).pw_name)
        )
        for i in range(2000):
            address, port = fleet.endpoints[i % 10].split(":")
            job_service.create_job(ctx, "network_diagnostics", details={"address": address, "port": int(port)})
        workers = [install.start_worker("--exit-when-idle", "--concurrency", "16") for _ in range(2)]
        for w in workers:
            assert w.wait(timeout=600) == 0
        with Session(install.engine) as s:
            jobs = list(s.exec(select(Job)).all())
            tasks = list(s.exec(select(JobTask)).all())
            sources = dict(
                s.exec(
                    select(IdracCommand.job_id, sa.func.count(sa.distinct(IdracCommand.source))).group_by(
                        IdracCommand.job_id
                    )
                ).all()
            )
        assert len(jobs) == 2000
        assert all(j.status == "completed" for j in jobs), [j.error for j in jobs if j.status != "completed"][:3]
        assert all(j.attempts == 1 for j in jobs), "a job was claimed twice"
        assert len({j.claimed_by for j in jobs}) == 2, "both workers should have taken a share"
        assert len(tasks) == 2000 and all(t.attempts == 1 for t in tasks)
        assert len(sources) == 2000 and set(sources.values()) == {1}  # each job's calls came from one worker
        install.engine.dispose()
