"""The worker's database side: claiming with leases, heartbeats, tasks, and saving what handlers read.

Synchronous functions, called from the event loop through ``asyncio.to_thread``. Claiming is the one
place several workers race: on PostgreSQL it takes rows with ``FOR UPDATE SKIP LOCKED``; on SQLite the
whole claim runs under ``BEGIN IMMEDIATE`` (see dsm_core.db.engine), which serialises writers. Either way
the UPDATE re-checks the row's state, so a job is never handed to two workers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import SQLModel, col, select

from dsm_core.db.caps import clip_row
from dsm_core.db.engine import read_scope, retry_when_locked, session_scope
from dsm_core.models import (
    SINGLETON_ID,
    ActivitySettings,
    IdracCommand,
    Job,
    JobTask,
    NetworkSettings,
    Server,
    ServerGroupMember,
    VcenterHost,
    WorkerHeartbeat,
)
from dsm_core.timeutil import utcnow

FINISHED = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class ClaimedJob:
    id: uuid.UUID
    job_type: str
    target_scope: dict[str, Any]
    details: dict[str, Any]
    credential_set_ids: list[str]
    attempts: int
    resumed: bool  # an earlier worker's lease expired: resume from its tasks
    created_by: uuid.UUID | None = None
    """The user who created the job: every call the job makes is recorded as initiated by them."""


def _claimable(now: datetime, job_types: Iterable[str]) -> Any:
    return sa.and_(
        col(Job.job_type).in_(list(job_types)),
        sa.or_(
            sa.and_(col(Job.status) == "pending", sa.or_(col(Job.schedule_at).is_(None), col(Job.schedule_at) <= now)),
            sa.and_(col(Job.status) == "running", col(Job.lease_expires_at) < now),
        ),
    )


@retry_when_locked
def claim_jobs(
    engine: Engine,
    worker_id: uuid.UUID,
    limit: int,
    lease: float,
    job_types: Iterable[str],
    skip_idrac_types: Iterable[str] = (),
) -> list[ClaimedJob]:
    types = [t for t in job_types if t not in set(skip_idrac_types)]
    if limit <= 0 or not types:
        return []
    now = utcnow()
    with session_scope(engine) as s:
        stmt = (
            select(col(Job.id))
            .where(_claimable(now, types))
            .order_by(col(Job.created_at), col(Job.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(s.exec(stmt).all())
        claimed: list[ClaimedJob] = []
        for job_id in ids:
            job = s.get(Job, job_id)
            if job is None:
                continue
            resumed, attempts = job.status == "running", job.attempts + 1
            result = s.execute(
                sa.update(Job)
                .where(col(Job.id) == job_id, _claimable(now, types))
                .values(
                    status="running",
                    claimed_by=worker_id,
                    lease_expires_at=now + timedelta(seconds=lease),
                    started_at=job.started_at or now,
                    attempts=Job.attempts + 1,
                    updated_at=now,
                )
            )
            if cast(CursorResult[Any], result).rowcount != 1:  # someone else claimed it in between
                continue
            claimed.append(
                ClaimedJob(
                    job.id,
                    job.job_type,
                    dict(job.target_scope or {}),
                    dict(job.details or {}),
                    list(job.credential_set_ids or []),
                    attempts,
                    resumed,
                    job.created_by,
                )
            )
        return claimed


@retry_when_locked
def renew_leases(engine: Engine, worker_id: uuid.UUID, job_ids: list[uuid.UUID], lease: float) -> dict[uuid.UUID, str]:
    """Extend our leases; returns, per job, "ok", "cancel" (cancel requested) or "lost" (no longer ours)."""
    if not job_ids:
        return {}
    now = utcnow()
    with session_scope(engine) as s:
        s.execute(
            sa.update(Job)
            .where(
                col(Job.id).in_(job_ids),
                col(Job.claimed_by) == worker_id,
                col(Job.status) == "running",
            )
            .values(lease_expires_at=now + timedelta(seconds=lease))
        )
        rows = s.exec(
            select(col(Job.id), col(Job.claimed_by), col(Job.status), col(Job.cancel_requested)).where(
                col(Job.id).in_(job_ids)
            )
        ).all()
    out = {}
    for job_id, owner, status, cancel in rows:
        out[job_id] = "lost" if owner != worker_id or status != "running" else ("cancel" if cancel else "ok")
    return out


@retry_when_locked
def beat(
    engine: Engine,
    worker_id: uuid.UUID,
    hostname: str,
    pid: int,
    version: str,
    status: str,
    running: list[uuid.UUID],
    max_jobs: int,
    handled: list[str] | None = None,
    writer: dict[str, Any] | None = None,
) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        row = s.get(WorkerHeartbeat, worker_id)
        if row is None:
            row = WorkerHeartbeat(id=worker_id, hostname=hostname, pid=pid, version=version, started_at=now)
        row.status, row.last_beat_at = status, now
        row.running_jobs = [str(j) for j in running]
        row.max_concurrent_jobs = max_jobs
        if handled is not None:
            row.handled_types = sorted(handled)
        if writer is not None:
            row.activity_writer = writer
        s.add(row)


@retry_when_locked
def worker_settings(engine: Engine) -> tuple[ActivitySettings, NetworkSettings]:
    with read_scope(engine) as s:
        activity = s.get(ActivitySettings, SINGLETON_ID) or ActivitySettings(id=SINGLETON_ID)
        network = s.get(NetworkSettings, SINGLETON_ID) or NetworkSettings(id=SINGLETON_ID)
        return activity, network


@retry_when_locked
def pending_exists(engine: Engine, job_types: Iterable[str]) -> bool:
    now = utcnow()
    with read_scope(engine) as s:
        return s.exec(select(col(Job.id)).where(_claimable(now, job_types)).limit(1)).first() is not None


# --- job outcome ----------------------------------------------------------------------------------------


@retry_when_locked
def finish_job(
    engine: Engine,
    job_id: uuid.UUID,
    worker_id: uuid.UUID,
    status: str,
    error: str | None,
    result: dict[str, Any] | None = None,
) -> bool:
    """Record the outcome, only if we still hold the job (a lost lease means another worker owns it)."""
    now = utcnow()
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.claimed_by != worker_id or job.status != "running":
            return False
        job.status, job.error, job.completed_at, job.lease_expires_at = status, error, now, None
        job.progress = 100 if status == "completed" else job.progress
        if result is not None:
            job.details = {**(job.details or {}), "result": result}
        s.add(job)
        if status == "cancelled":
            s.execute(
                sa.update(JobTask)
                .where(col(JobTask.job_id) == job_id, col(JobTask.status).in_(("pending", "running")))
                .values(status="cancelled", completed_at=now, updated_at=now)
            )
        return True


@retry_when_locked
def hand_back(engine: Engine, job_id: uuid.UUID, worker_id: uuid.UUID) -> None:
    """Shutdown before the job finished: make it claimable again at once (its tasks are kept)."""
    with session_scope(engine) as s:
        s.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id, col(Job.claimed_by) == worker_id, col(Job.status) == "running")
            .values(status="pending", claimed_by=None, lease_expires_at=None, updated_at=utcnow())
        )
        s.execute(
            sa.update(JobTask)
            .where(col(JobTask.job_id) == job_id, col(JobTask.status) == "running")
            .values(status="pending", updated_at=utcnow())
        )


@retry_when_locked
def set_progress(engine: Engine, job_id: uuid.UUID, progress: int) -> None:
    with session_scope(engine) as s:
        s.execute(
            sa.update(Job).where(col(Job.id) == job_id).values(progress=max(0, min(100, progress)), updated_at=utcnow())
        )


# --- targets and tasks ------------------------------------------------------------------------------------


def expand_servers(engine: Engine, scope: dict[str, Any]) -> list[Server]:
    """The servers a job targets: listed servers, members of listed groups, hosts of listed clusters."""
    ids: list[uuid.UUID] = [uuid.UUID(x) for x in scope.get("servers", [])]
    with read_scope(engine) as s:
        if scope.get("groups"):
            group_ids = [uuid.UUID(g) for g in scope["groups"]]
            ids += list(
                s.exec(
                    select(col(ServerGroupMember.server_id))
                    .where(col(ServerGroupMember.server_group_id).in_(group_ids))
                    .order_by(col(ServerGroupMember.priority))
                ).all()
            )
        if scope.get("clusters"):
            ids += [
                i
                for i in s.exec(
                    select(col(VcenterHost.server_id)).where(col(VcenterHost.cluster).in_(scope["clusters"]))
                ).all()
                if i
            ]
        unique = list(dict.fromkeys(ids))
        rows = {srv.id: srv for srv in s.exec(select(Server).where(col(Server.id).in_(unique))).all()}
    return [rows[i] for i in unique if i in rows]


@retry_when_locked
def ensure_tasks(engine: Engine, job_id: uuid.UUID, targets: list[tuple[uuid.UUID | None, str]]) -> list[JobTask]:
    """One task per target, created once; a resumed job gets its existing tasks back."""
    with session_scope(engine) as s:
        existing = list(s.exec(select(JobTask).where(col(JobTask.job_id) == job_id)).all())
        known = {(t.server_id, t.target) for t in existing}
        for server_id, label in targets:
            if (server_id, label) not in known:
                task = JobTask(job_id=job_id, server_id=server_id, target=label)
                s.add(task)
                existing.append(task)
        s.flush()
        return existing


@retry_when_locked
def start_task(engine: Engine, task_id: uuid.UUID) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        s.execute(
            sa.update(JobTask)
            .where(col(JobTask.id) == task_id)
            .values(status="running", started_at=now, updated_at=now, attempts=col(JobTask.attempts) + 1)
        )


@retry_when_locked
def finish_task(engine: Engine, task_id: uuid.UUID, status: str, log: list[str], error: str | None) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        s.execute(
            sa.update(JobTask)
            .where(col(JobTask.id) == task_id)
            .values(
                status=status,
                completed_at=now,
                updated_at=now,
                log="\n".join(log) or None,
                error=error,
                progress=100 if status == "completed" else 0,
            )
        )


@retry_when_locked
def write_activity_rows_alone(engine: Engine, rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each row in a transaction of its own (after a batch was refused for its content): returns the rows the
    database refused, each with the reason, so that one bad row never holds back the others."""
    refused: list[tuple[dict[str, Any], str]] = []
    for row in rows:
        try:
            write_activity(engine, [row])
        except (sa.exc.IntegrityError, sa.exc.DataError, sa.exc.ProgrammingError, ValueError) as exc:
            reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
            refused.append((row, f"{type(exc).__name__}: {reason[0] if reason else ''}"[:300]))
    return refused


def write_activity(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        table = SQLModel.metadata.tables["idrac_commands"]
        rows = [clip_row(table, row) for row in rows]
        with session_scope(engine) as s:
            s.execute(sa.insert(IdracCommand), rows)
