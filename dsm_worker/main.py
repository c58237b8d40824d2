"""`dsm worker`: the one DSM process that talks to iDRACs.

Claims jobs (several workers may share a PostgreSQL), runs up to ``max_concurrent_jobs`` at once, renews a
lease on each so a job whose worker died is taken over and resumed, writes a heartbeat for the TUI, honours
cancellation and the emergency pause, and on SIGTERM stops claiming and finishes or hands back its jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy.engine import Engine

from dsm_core import __version__
from dsm_core.config import Config
from dsm_core.credentials.sealing import SealingError, load_private_key
from dsm_core.db import engine_from_config, migrate
from dsm_core.db.engine import is_locked
from dsm_core.ids import uuid7
from dsm_core.jobtypes import JOB_TYPE_SPECS
from dsm_core.models import ActivitySettings, NetworkSettings
from dsm_core.redfish.client import ClientSettings, Throttle
from dsm_worker import store
from dsm_worker.activity import ActivityWriter
from dsm_worker.handlers import HANDLERS
from dsm_worker.notifier import Notifier
from dsm_worker.pool import IdracPool
from dsm_worker.runtime import JobCancelled, JobContext
from dsm_worker.scheduler import Scheduler, SchedulerLock, record_holder

log = logging.getLogger("dsm.worker")


@dataclass
class WorkerOptions:
    max_jobs: int = 4
    exit_when_idle: bool = False
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    grace_seconds: float = 30.0
    settings_seconds: float = 3.0
    spool_dir: Path | None = None
    """Where activity rows wait while the database will not take them (beside the SQLite file)."""
    dell_job_poll_seconds: float = 5.0
    scheduled_settle_seconds: float = 60.0
    """An update sent Immediate that stays Scheduled this long waits for a host reboot (REDFISH.md §2.11)."""
    scheduler: bool = True
    """Take part in the scheduler election (one worker of all runs it); off for a worker that only runs jobs."""
    scheduler_poll_seconds: float = 10.0
    """How often the scheduler ticks, and how often a standby worker tries to take the scheduler over."""
    key_file: Path | None = None
    """The worker's private key: never read for a job, whatever directory an admin opened (package_files)."""


@dataclass
class _Running:
    task: asyncio.Task[None]
    cancel: asyncio.Event
    lost: bool = False


class Worker:
    def __init__(self, engine: Engine, private_key: X25519PrivateKey, options: WorkerOptions) -> None:
        self.engine = engine
        self.private_key = private_key
        self.options = options
        self.id = uuid7()
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.activity_settings, self.network_settings = store.worker_settings(engine)
        self.global_cap = max(1, int(self.activity_settings.global_max_concurrent))
        self.throttle = Throttle(*self._throttle_settings())
        self.pool = IdracPool(self.throttle, self.client_settings, self.paused)
        self.activity = ActivityWriter(
            engine,
            f"worker:{self.id}",
            lambda: self.activity_settings.log_level,
            lambda: (int(self.activity_settings.max_request_body_kb), int(self.activity_settings.max_response_body_kb),
                     int(self.activity_settings.max_read_body_kb)),
            spool_dir=options.spool_dir,
        )
        self.running: dict[uuid.UUID, _Running] = {}
        self.draining = asyncio.Event()
        self.scheduler_lock = SchedulerLock(engine)

    # --- settings --------------------------------------------------------------------------------------

    def paused(self) -> bool:
        return bool(self.activity_settings.pause_idrac_operations)

    def client_settings(self) -> ClientSettings:
        n = self.network_settings
        return ClientSettings(
            connect_timeout=float(n.connection_timeout_seconds),
            read_timeout=float(n.read_timeout_seconds),
            max_retries=int(n.max_retry_attempts),
            retry_delay=float(n.retry_delay_seconds),
            backoff=str(n.retry_backoff_type),
            per_idrac=max(1, int(self.activity_settings.idrac_max_concurrent)),
            max_body_bytes=int(n.max_response_body_mb) * 1024 * 1024,
        )

    def _throttle_settings(self) -> tuple[int, int, int, int]:
        a, n = self.activity_settings, self.network_settings
        return (max(1, int(a.global_max_concurrent)), max(1, int(a.idrac_max_concurrent)),
                max(0, int(n.max_requests_per_minute)), max(0, int(a.idrac_request_delay_ms or 0)))

    def _apply_settings(self, activity: ActivitySettings, network: NetworkSettings) -> None:
        was_paused = self.paused()
        self.activity_settings, self.network_settings = activity, network
        if self.paused() != was_paused:
            log.warning(
                "pause_idrac_operations=%s: %s",
                self.paused(),
                "no new iDRAC request starts" if self.paused() else "iDRAC work resumes",
            )

    # --- loops -------------------------------------------------------------------------------------------

    async def _beat(self, status: str) -> None:
        await asyncio.to_thread(
            store.beat,
            self.engine,
            self.id,
            self.hostname,
            self.pid,
            __version__,
            status,
            list(self.running),
            self.options.max_jobs,
            list(HANDLERS),
            self.activity.status(),
        )

    async def _maintenance_loop(self) -> None:
        """Heartbeat, leases, cancellation, settings and idle sessions, every few seconds."""
        interval = min(self.options.lease_seconds / 3, self.options.settings_seconds)
        while True:
            try:
                self._apply_settings(*await asyncio.to_thread(store.worker_settings, self.engine))
                # caps, spacing and the rate limit apply to the running worker, not only to the next one
                await self.throttle.configure(*self._throttle_settings())
                self.global_cap = self.throttle.global_sem.limit
                states = await asyncio.to_thread(
                    store.renew_leases, self.engine, self.id, list(self.running), self.options.lease_seconds
                )
                for job_id, state in states.items():
                    run = self.running.get(job_id)
                    if run is None:
                        continue
                    if state == "cancel" and not run.cancel.is_set():
                        log.info("job=%s cancellation requested", job_id)
                        run.cancel.set()
                    elif state == "lost" and not run.lost:
                        log.warning("job=%s lease lost to another worker; stopping here", job_id)
                        run.lost = True
                        run.task.cancel()
                await self._beat("draining" if self.draining.is_set() else "running")
                await self.pool.reap()
            except Exception:
                log.exception("maintenance failed; retrying")
            await asyncio.sleep(interval)

    async def _scheduler_loop(self) -> None:
        """Try for the scheduler lock every poll; while holding it, tick. A standby worker takes over within one
        poll of the holder's death (its lock dies with its process or its database session)."""
        scheduler = Scheduler(self.engine)
        was_holder = False
        recorded = 0.0
        try:
            while True:
                try:
                    held = await asyncio.to_thread(self.scheduler_lock.acquire)
                    if held != was_holder:
                        log.info("worker=%s %s the scheduler", self.id, "runs" if held else "no longer runs")
                        was_holder, recorded = held, 0.0
                    if held:
                        report = await asyncio.to_thread(scheduler.tick)
                        # who holds it, for the pulse and `dsm doctor`: at takeover, then every half minute
                        if report.errors or time.monotonic() - recorded >= 30:
                            await asyncio.to_thread(record_holder, self.engine, self.id, scheduler.clock(), report)
                            recorded = time.monotonic()
                except Exception as exc:
                    if is_locked(exc):
                        log.warning("scheduler: database locked by another process; again next poll")
                    else:
                        log.exception("scheduler pass failed; retrying")
                await asyncio.sleep(self.options.scheduler_poll_seconds)
        finally:
            await asyncio.to_thread(self.scheduler_lock.release)

    async def _notifier_loop(self) -> None:
        """Delivers notifications while this worker runs the scheduler (so no row is sent by two workers); its own
        task, so a slow relay delays mail, never the scheduler or a job."""
        notifier = Notifier(self.engine, self.private_key)
        while True:
            try:
                if self.scheduler_lock.held:
                    await notifier.deliver_due()
            except Exception as exc:
                if is_locked(exc):
                    log.warning("notifications: database locked by another process; again shortly")
                else:
                    log.exception("notification delivery failed; retrying")
            await asyncio.sleep(min(5.0, self.options.scheduler_poll_seconds))

    async def _execute(self, job: store.ClaimedJob, cancel: asyncio.Event) -> None:
        handler = HANDLERS[job.job_type]
        ctx = JobContext(self, job, cancel)
        log.info(
            "job=%s type=%s attempt=%d %s", job.id, job.job_type, job.attempts, "resumed" if job.resumed else "started"
        )
        status, error = "completed", None
        try:
            outcome = await handler(ctx)
            error = outcome.summary()
            status = "failed" if outcome.failed else "completed"
            ctx.result.setdefault(
                "targets", {"total": outcome.total, "completed": outcome.completed, "failed": outcome.failed}
            )
        except JobCancelled as exc:
            status, error = "cancelled", str(exc) or "cancelled by request"
        except asyncio.CancelledError:
            run = self.running.get(job.id)
            if run is not None and run.lost:
                return  # another worker owns it now
            await _to_the_end(store.hand_back, self.engine, job.id, self.id)
            log.info("job=%s handed back", job.id)
            raise
        except Exception as exc:
            log.exception("job=%s failed", job.id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        await _to_the_end(store.finish_job, self.engine, job.id, self.id, status, error, ctx.result or None)
        log.info("job=%s type=%s status=%s%s", job.id, job.job_type, status, f" error={error!r}" if error else "")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal)
        self.activity.start()
        await self._beat("running")
        maintenance = asyncio.create_task(self._maintenance_loop(), name="maintenance")
        background = [maintenance]
        if self.options.scheduler:
            background += [asyncio.create_task(self._scheduler_loop(), name="scheduler"),
                           asyncio.create_task(self._notifier_loop(), name="notifier")]
        log.info(
            "worker=%s host=%s pid=%d version=%s max_jobs=%d started",
            self.id,
            self.hostname,
            self.pid,
            __version__,
            self.options.max_jobs,
        )
        types = list(HANDLERS)
        idrac_types = [t for t in types if JOB_TYPE_SPECS[t].touches_idrac]
        try:
            while not self.draining.is_set():
                free = self.options.max_jobs - len(self.running)
                claimed = []
                if free > 0:
                    claimed = await asyncio.to_thread(
                        store.claim_jobs,
                        self.engine,
                        self.id,
                        free,
                        self.options.lease_seconds,
                        types,
                        idrac_types if self.paused() else (),
                    )
                for job in claimed:
                    cancel = asyncio.Event()
                    task = asyncio.create_task(self._execute(job, cancel), name=f"job-{job.id}")
                    self.running[job.id] = _Running(task, cancel)
                    task.add_done_callback(self._forget(job.id))
                if (
                    self.options.exit_when_idle
                    and not self.running
                    and not claimed
                    and not await asyncio.to_thread(store.pending_exists, self.engine, types)
                ):
                    break
                waiters = [r.task for r in self.running.values()]
                drain = asyncio.create_task(self.draining.wait())
                await asyncio.wait(
                    [*waiters, drain], timeout=self.options.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                drain.cancel()
            await self._drain()
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.pool.close_all()
            await self.activity.stop()
            await self._beat("stopped")
            log.info("worker=%s stopped", self.id)
        return 0

    def _forget(self, job_id: uuid.UUID) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            self.running.pop(job_id, None)

        return done

    def _on_signal(self) -> None:
        if not self.draining.is_set():
            log.info(
                "worker=%s draining: no new jobs; up to %.0f s for %d running",
                self.id,
                self.options.grace_seconds,
                len(self.running),
            )
        self.draining.set()

    async def _drain(self) -> None:
        if not self.running:
            return
        tasks = [r.task for r in self.running.values()]
        _, pending = await asyncio.wait(tasks, timeout=self.options.grace_seconds)
        for task in pending:
            task.cancel()  # _execute hands the job back on cancellation
        await asyncio.gather(*pending, return_exceptions=True)


async def _to_the_end(fn: Callable[..., object], *args: object) -> None:
    """Writes a job's end (its outcome, or its hand-back) even when the worker is told to stop meanwhile.

    A plain ``to_thread`` write cancelled while still queued for a thread never runs: the job would stay ``running``
    under a lease nobody renews until it expires, and then be resumed although it had ended. The write is shielded
    and waited for; the cancellation is raised after it."""
    write = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        await asyncio.shield(write)
    except asyncio.CancelledError:
        await write
        raise


def configure_logging(level: str) -> None:
    """Single-line logs on stderr: journald adds its own timestamps and fields."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def run_worker(config: Config, options: WorkerOptions) -> int:
    configure_logging(config.log_level)
    try:
        key = load_private_key(config.worker_key_file)
    except SealingError as exc:
        log.error("%s", exc)
        print(f"dsm worker: {exc}", file=sys.stderr)
        return 1
    engine = engine_from_config(config)
    if not migrate.is_current(engine):
        print(
            f"dsm worker: database {config.redacted_database_url()} is not at revision "
            f"{migrate.head_revision()}; run `dsm db upgrade`",
            file=sys.stderr,
        )
        return 1
    from dsm_core.credentials.sealing import encode_public_key
    from dsm_core.services.bootstrap import stored_public_key

    stored = stored_public_key(engine)
    if stored is not None and stored != encode_public_key(key.public_key()):
        # Starting anyway would claim jobs and fail every one that needs a password: refuse instead.
        print(
            f"dsm worker: key {config.worker_key_file} does not match the worker public key registered in "
            f"{config.redacted_database_url()}; copy the key of the first worker host here (mode 0600)",
            file=sys.stderr,
        )
        engine.dispose()
        return 1
    worker = Worker(engine, key, dataclasses.replace(options, key_file=config.worker_key_file))
    try:
        return asyncio.run(worker.run())
    finally:
        engine.dispose()
