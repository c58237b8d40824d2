"""What a job handler works with: its targets as tasks, credentials, an iDRAC client, cancellation, pause.

``run_targets`` is the heart of resumability: tasks are created once per target; a job resumed by another
worker (its first worker died) only runs the tasks that had not finished, so no target is done twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlmodel import select

from dsm_core.credentials.resolution import (
    CredentialCandidate,
    Destination,
    ResolvedCredential,
    ServerCredentialFacts,
    release_problem,
    resolve,
    share_release_problem,
)
from dsm_core.credentials.sealing import SealingError, unseal
from dsm_core.credentials.secret import Secret
from dsm_core.db.engine import read_scope, retry_when_locked, session_scope
from dsm_core.jobtypes import parse_details
from dsm_core.models import JobTask, Server, User
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish.client import IdracClient, Paused
from dsm_core.redfish.dell import Capabilities, sessions_path_for
from dsm_core.redfish.tls import TlsPolicy
from dsm_core.services.credentials import load_candidates
from dsm_core.urls import redact_credentials
from dsm_worker import store

if TYPE_CHECKING:
    from dsm_worker.main import Worker


D = TypeVar("D")


class JobCancelled(Exception):
    pass


class TaskFailed(Exception):
    """A target could not be done; the message is what the operator reads in the task."""


@dataclass
class TaskLog:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


@dataclass
class Outcome:
    total: int
    completed: int
    failed: int
    cancelled: int
    errors: list[str]

    def summary(self) -> str | None:
        if not self.failed:
            return None
        first = "; ".join(self.errors[:3])
        more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        return f"{self.failed} of {self.total} target(s) failed: {first}{more}"


TaskFn = Callable[[JobTask, TaskLog], Awaitable[None]]


@dataclass
class JobContext:
    worker: Worker
    job: store.ClaimedJob
    cancel: asyncio.Event
    result: dict[str, Any] = field(default_factory=dict)
    _candidates: list[CredentialCandidate] | None = None
    _admin_named: frozenset[uuid.UUID] | None = None

    @property
    def engine(self) -> Any:
        return self.worker.engine

    def details(self, model: type[D]) -> D:
        """The job's details as its type declares them: validated when the job was created, defaults filled."""
        try:
            value = parse_details(self.job.job_type, self.job.details)
        except pydantic.ValidationError as exc:
            # Never the input: a row written past DSM may hold what input checks refuse (a password in a URL).
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "details"
            raise TaskFailed(f"the job's details are not valid: {where}: "
                             f"{redact_credentials(first['msg'].removeprefix('Value error, '))}") from None
        if not isinstance(value, model):
            raise TypeError(f"{self.job.job_type} details are {type(value).__name__}, not {model.__name__}")
        return value

    async def db(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn`` (its own transactions) off the event loop, again while SQLite is locked by another process."""
        return await asyncio.to_thread(retry_when_locked(fn), *args)

    # --- credentials and clients ---------------------------------------------------------------------------

    async def credentials_for(self, server: Server) -> tuple[str, Secret, str]:
        """(username, password, source description) by the resolution order; raises TaskFailed.

        The credential sets are read once per job run, off the event loop."""
        if self._candidates is None:
            self._candidates = await self.db(_load_candidates, self.engine)
        candidates = self._candidates
        facts = ServerCredentialFacts(
            server.ip_address, server.idrac_username, server.idrac_password_sealed, server.credential_set_id
        )
        resolved = resolve(facts, candidates, os.environ)
        if resolved is None:
            raise TaskFailed(
                f"no credentials for {server.ip_address}: add a credential set whose range covers it, "
                "link one to the server, or set a default set"
            )
        return resolved.username, await self.release(resolved, server), resolved.describe()

    async def release(self, resolved: ResolvedCredential, server: Server) -> Secret:
        """The password of ``resolved``, for a request to ``server`` only if the destination rule lets it go
        there (resolution.release_problem); TaskFailed naming the rule otherwise. Every iDRAC password the
        worker sends passes here: the pooled and fresh clients, credential tests and discovery."""
        if self._candidates is None:
            self._candidates = await self.db(_load_candidates, self.engine)
        stored = not sa.inspect(server).transient
        if self._admin_named is None:
            self._admin_named = frozenset(uuid.UUID(str(i)) for i in self.job.credential_set_ids or ()) \
                if await self.db(_created_by_admin, self.engine, self.job.created_by) else frozenset()
        destination = Destination(server.ip_address, stored, server.credential_set_id if stored else None,
                                  server.tls_verify_mode, bool(server.tls_pin_vetted) if stored else False,
                                  self._admin_named)
        problem = release_problem(resolved, destination, self._candidates)
        if problem is not None:
            raise TaskFailed(f"not sent: {problem}")
        if resolved.password_env is not None:
            return resolved.password_env
        return self.unseal(resolved.password_sealed)

    async def share_problem(self, server: Server) -> str | None:
        """Why a share's credentials may not ride in a request to ``server`` (resolution.share_release_problem)."""
        if self._candidates is None:
            self._candidates = await self.db(_load_candidates, self.engine)
        stored = not sa.inspect(server).transient
        return share_release_problem(server.ip_address, stored and server.credential_set_id is not None,
                                     self._candidates)

    def unseal(self, sealed: str | None) -> Secret:
        if not sealed:
            raise TaskFailed("the credential has no password stored")
        key: X25519PrivateKey = self.worker.private_key
        try:
            return unseal(sealed, key)
        except SealingError as exc:
            raise TaskFailed(str(exc)) from None

    @contextlib.asynccontextmanager
    async def idrac(
        self,
        server: Server,
        task_id: uuid.UUID | None,
        credentials: tuple[str, Secret] | None = None,
        fresh: bool = False,
    ) -> AsyncIterator[IdracClient]:
        """A client for ``server``: the worker's pooled session, or with ``fresh`` a new login closed after."""
        username, password = credentials or (await self.credentials_for(server))[:2]
        tls = TlsPolicy(server.tls_verify_mode, server.tls_fingerprint_sha256, server.tls_ca_bundle)
        caps = Capabilities.from_dict(server.supported_endpoints)
        sessions = caps.sessions_path if caps else sessions_path_for(server.redfish_version)
        # An address not in the inventory (a credential test of a new address) is a Server never stored: its calls
        # are recorded with no server, not with an id no row has (the foreign key would refuse the whole batch).
        stored = not sa.inspect(server).transient
        recorder = self.worker.activity.recorder(server.id if stored else None, self.job.id, task_id,
                                                 self.job.created_by)
        endpoint = format_endpoint(server.ip_address, server.port)
        if fresh:
            client = IdracClient(
                endpoint,
                username,
                password,
                tls,
                self.worker.pool.throttle,
                self.worker.client_settings(),
                recorder=recorder,
                paused=self.worker.paused,
                sessions_path=sessions,
            )
            try:
                yield client
            finally:
                await client.close()
                await self._keep_pin(server, client)
            return
        async with self.worker.pool.client(endpoint, username, password, tls, recorder, sessions) as pooled:
            try:
                yield pooled
            finally:
                await self._keep_pin(server, pooled)

    async def _keep_pin(self, server: Server, client: IdracClient) -> None:
        learned = client.tls.learned
        if learned:
            client.tls.learned = None
            await self.db(_store_pin, self.engine, server.id, learned)

    # --- checkpoints: what a task already sent ---------------------------------------------------------------

    async def checkpoint(self, task_id: uuid.UUID) -> dict[str, Any]:
        """The task's record of changes it sent, read fresh (a paused or resumed task's row may be stale)."""
        value: dict[str, Any] | None = await self.db(_read_checkpoint, self.engine, task_id)
        return value or {}

    async def save_checkpoint(self, task_id: uuid.UUID, value: dict[str, Any] | None) -> None:
        await self.db(_write_checkpoint, self.engine, task_id, value)

    # --- tasks -------------------------------------------------------------------------------------------------

    async def wait_unpaused(self) -> None:
        while self.worker.paused():
            if self.cancel.is_set():
                raise JobCancelled()
            await asyncio.sleep(1.0)

    async def run_targets(
        self, targets: list[tuple[uuid.UUID | None, str]], fn: TaskFn, concurrency: int, timeout: float
    ) -> Outcome:
        tasks = await self.db(store.ensure_tasks, self.engine, self.job.id, targets)
        todo = [t for t in tasks if t.status not in store.FINISHED]
        total = len(tasks)
        finished = total - len(todo)
        sem = asyncio.Semaphore(max(1, concurrency))
        progress_lock = asyncio.Lock()

        async def one(task: JobTask) -> None:
            nonlocal finished
            async with sem:
                while True:
                    if self.cancel.is_set():
                        return
                    await self.wait_unpaused()
                    await self.db(store.start_task, self.engine, task.id)
                    log = TaskLog()
                    try:
                        await asyncio.wait_for(fn(task, log), timeout)
                        status, error = "completed", None
                    except Paused:
                        await self.db(_task_back_to_pending, self.engine, task.id)
                        # paused mid-task: wait, then run this target again; a handler that had already
                        # sent its change finds that in the task's checkpoint and checks, never resends
                        continue
                    except TimeoutError:
                        status, error = "failed", f"timed out after {timeout:.0f} s"
                    except JobCancelled:
                        status, error = "cancelled", "cancelled by request"
                    except (TaskFailed, Exception) as exc:
                        status, error = "failed", str(exc) or type(exc).__name__
                    if error:
                        log.add(f"failed: {error}")
                    await self.db(store.finish_task, self.engine, task.id, status, log.lines, error)
                    break
            async with progress_lock:
                finished += 1
                if total and (finished == total or finished % max(1, total // 20) == 0):
                    await self.db(store.set_progress, self.engine, self.job.id, int(100 * finished / total))

        await asyncio.gather(*(one(t) for t in todo))
        if self.cancel.is_set():
            raise JobCancelled()
        outcome: Outcome = await self.db(_outcome, self.engine, self.job.id)
        return outcome


def _created_by_admin(engine: Any, user_id: uuid.UUID | None) -> bool:
    """The job's creator is an admin now (a role taken away since the job was made no longer vets anything)."""
    if user_id is None:
        return False
    with read_scope(engine) as s:
        user = s.get(User, user_id)
        return user is not None and user.role == "admin"


def _load_candidates(engine: Any) -> list[CredentialCandidate]:
    with read_scope(engine) as s:
        return load_candidates(s)


def _store_pin(engine: Any, server_id: uuid.UUID, fingerprint: str) -> None:
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is not None and not server.tls_fingerprint_sha256:
            server.tls_fingerprint_sha256 = fingerprint
            s.add(server)


def _read_checkpoint(engine: Any, task_id: uuid.UUID) -> dict[str, Any] | None:
    with read_scope(engine) as s:
        task = s.get(JobTask, task_id)
        return dict(task.checkpoint) if task is not None and task.checkpoint else None


def _write_checkpoint(engine: Any, task_id: uuid.UUID, value: dict[str, Any] | None) -> None:
    with session_scope(engine) as s:
        task = s.get(JobTask, task_id)
        if task is not None:
            task.checkpoint = value
            s.add(task)


def _task_back_to_pending(engine: Any, task_id: uuid.UUID) -> None:
    with session_scope(engine) as s:
        task = s.get(JobTask, task_id)
        if task is not None:
            task.status = "pending"
            s.add(task)


def _outcome(engine: Any, job_id: uuid.UUID) -> Outcome:
    with read_scope(engine) as s:
        tasks = list(s.exec(select(JobTask).where(JobTask.job_id == job_id)).all())
    errors = [f"{t.target}: {t.error}" for t in tasks if t.status == "failed"]
    return Outcome(
        len(tasks),
        sum(t.status == "completed" for t in tasks),
        len(errors),
        sum(t.status == "cancelled" for t in tasks),
        errors,
    )
