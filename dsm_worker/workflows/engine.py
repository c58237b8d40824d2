"""The step engine: a workflow is a list of steps, each recorded before and after it runs.

A step has a name, ``done(ctx)`` (checks the real state: is the version already installed? is the Dell job
already finished?) and ``run(ctx)``. The engine writes the step's ``workflow_executions`` row as running
before ``run`` and as completed/failed/skipped after, with details and error. On resume (a new worker took
the job, or an operator retried it) completed and skipped steps are passed over; a step left ``running``
by a dead worker is re-checked with ``done`` before it runs again, and its saved details (the Dell job id,
the task monitor URI, a reset already sent) let ``run`` pick up the poll instead of starting over. The
first failure stops the workflow: the target stays where the last step left it, and the failure stands on a
resume too (only an operator's retry, which resets the step to pending, runs it again). Cancellation is honoured
between steps and runs the workflow's clean-up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.models import JobTask, Server, WorkflowExecution
from dsm_core.timeutil import utcnow
from dsm_worker.runtime import JobCancelled, JobContext, TaskFailed, TaskLog

log = logging.getLogger("dsm.worker.workflow")
MAX_DETAIL_LINES = 200


class StepFailed(TaskFailed):
    """A step could not do its part; the message is what the operator reads (and retries from)."""


@dataclass
class StepContext:
    """What a step sees: the job, the target, this step's saved details, and what earlier steps recorded."""

    job: JobContext
    task: JobTask
    server: Server
    log: TaskLog
    workflow: str
    step: str
    details: dict[str, Any]
    earlier: dict[str, dict[str, Any]]
    """Details of the steps before this one, by step name."""
    resumed: bool = False
    """This step was left running by a dead worker (or retried): its details hold what it had sent."""
    _row_id: uuid.UUID | None = None
    shared: dict[str, Any] = field(default_factory=dict)
    """Per-run objects for the steps (a client, the typed job details); never stored."""

    async def save(self) -> None:
        """Store this step's details now (e.g. the Dell job id the moment the iDRAC named it)."""
        if self._row_id is not None:
            await self.job.db(_save_details, self.job.engine, self._row_id, dict(self.details))

    def note(self, line: str) -> None:
        self.log.add(f"{self.step}: {line}")
        notes = self.details.setdefault("notes", [])
        notes.append(line[:500])
        del notes[:-MAX_DETAIL_LINES]


StepFn = Callable[[StepContext], Awaitable[None]]
DoneFn = Callable[[StepContext], Awaitable[str | None]]


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFn
    done: DoneFn | None = None
    """Returns why the step has nothing to do (recorded as the skip reason), or None to run it."""


@dataclass(frozen=True)
class Workflow:
    name: str
    steps: tuple[Step, ...]
    cleanup: StepFn | None = None

    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]


def _save_details(engine: Any, row_id: uuid.UUID, details: dict[str, Any]) -> None:
    with session_scope(engine) as s:
        s.execute(sa.update(WorkflowExecution).where(col(WorkflowExecution.id) == row_id)
                  .values(step_details=details, updated_at=utcnow()))


def _rows(engine: Any, job_id: uuid.UUID, server_id: uuid.UUID) -> dict[str, WorkflowExecution]:
    with read_scope(engine) as s:
        rows = s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job_id,
                                                      WorkflowExecution.server_id == server_id)).all()
        return {r.step_name: r for r in rows}


def _start(engine: Any, job_id: uuid.UUID, server_id: uuid.UUID, workflow: str, number: int, name: str,
           details: dict[str, Any]) -> uuid.UUID:
    now = utcnow()
    with session_scope(engine) as s:
        row = s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job_id,
                                                     WorkflowExecution.server_id == server_id,
                                                     WorkflowExecution.step_name == name)).first()
        if row is None:
            row = WorkflowExecution(job_id=job_id, server_id=server_id, workflow_type=workflow, step_number=number,
                                    step_name=name, attempt=0)
        row.attempt += 1
        row.step_status, row.step_started_at, row.step_completed_at, row.step_error = "running", now, None, None
        row.step_details = details
        s.add(row)
        s.flush()
        return row.id


def _finish(engine: Any, row_id: uuid.UUID, status: str, details: dict[str, Any], error: str | None) -> None:
    with session_scope(engine) as s:
        s.execute(sa.update(WorkflowExecution).where(col(WorkflowExecution.id) == row_id).values(
            step_status=status, step_details=details, step_error=error[:4000] if error else None,
            step_completed_at=utcnow(), updated_at=utcnow()))


def _record_skip(engine: Any, job_id: uuid.UUID, server_id: uuid.UUID, workflow: str, number: int, name: str,
                 details: dict[str, Any]) -> None:
    row_id = _start(engine, job_id, server_id, workflow, number, name, details)
    _finish(engine, row_id, "skipped", details, None)


async def run_workflow(
    wf: Workflow, job: JobContext, task: JobTask, server: Server, log: TaskLog, shared: dict[str, Any],
    *, seed_earlier: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run (or resume) ``wf`` for one target; returns every step's details. Raises StepFailed or JobCancelled.

    ``seed_earlier``: ``wf`` is a part of a larger run for this target (the rolling update runs the firmware
    steps in three parts): its steps also see what the target's other finished steps recorded."""
    rows = await job.db(_rows, job.engine, job.job.id, server.id)
    earlier: dict[str, dict[str, Any]] = {}
    if seed_earlier:
        earlier = {name: dict(r.step_details or {}) for name, r in rows.items()
                   if r.step_status in ("completed", "skipped")}
    for number, step in enumerate(wf.steps, start=1):
        row = rows.get(step.name)
        status = row.step_status if row is not None else None
        stored = dict(row.step_details or {}) if row is not None else {}
        if status in ("completed", "skipped"):
            earlier[step.name] = stored
            continue
        if job.cancel.is_set():
            await _cleanup(wf, job, task, server, log, earlier, shared)
            raise JobCancelled()
        if status == "failed" and row is not None:
            # A failure stands until an operator retries it (a retry resets the step to pending): a worker taking
            # over a job whose end its predecessor died before recording must not retry on its own — a step
            # run again could send again what the failed attempt had sent.
            raise StepFailed(f"step {step.name} failed: {row.step_error or 'no error recorded'}")
        await job.wait_unpaused()
        resumed = status == "running"  # a dead worker's step; a failed or reset one (a retry) starts afresh
        ctx = StepContext(job, task, server, log, wf.name, step.name, stored if resumed else {}, earlier, resumed,
                          shared=shared)
        if step.done is not None:
            reason = await step.done(ctx)
            if reason is not None:
                ctx.note(reason)
                await job.db(_record_skip, job.engine, job.job.id, server.id, wf.name, number, step.name,
                             ctx.details)
                earlier[step.name] = ctx.details
                continue
        ctx._row_id = await job.db(_start, job.engine, job.job.id, server.id, wf.name, number, step.name,
                                   ctx.details)
        if resumed:
            ctx.note(f"resuming (the step was left {status})")
        try:
            await step.run(ctx)
        except asyncio.CancelledError:
            # handed back (shutdown, lost lease): the row stays running, to be re-checked on resume
            await ctx.save()
            raise
        except JobCancelled:
            # cancelled while the step waited (for a reboot time, for the Lifecycle Controller): it stops
            # there, recorded as such, and the workflow's clean-up runs
            await job.db(_finish, job.engine, ctx._row_id, "failed", ctx.details, "cancelled by request")
            await _cleanup(wf, job, task, server, log, {**earlier, step.name: ctx.details}, shared)
            raise
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            if not isinstance(exc, TaskFailed):
                log.add(f"{step.name}: {type(exc).__name__}: {message}")
            await job.db(_finish, job.engine, ctx._row_id, "failed", ctx.details, message)
            raise StepFailed(f"step {step.name} failed: {message}") from None
        await job.db(_finish, job.engine, ctx._row_id, "completed", ctx.details, None)
        earlier[step.name] = ctx.details
    return earlier


async def _cleanup(wf: Workflow, job: JobContext, task: JobTask, server: Server, log: TaskLog,
                   earlier: dict[str, dict[str, Any]], shared: dict[str, Any]) -> None:
    if wf.cleanup is None:
        return
    ctx = StepContext(job, task, server, log, wf.name, "cleanup", {}, earlier, shared=shared)
    try:
        await wf.cleanup(ctx)
    except Exception as exc:  # the cancel stands; what clean-up could not do is said
        log.add(f"cleanup: {type(exc).__name__}: {exc}")
