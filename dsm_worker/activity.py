"""Activity log writer: every Redfish call becomes an idrac_commands row, written in batches off the request path.

Requests only append to an in-memory buffer; a background task inserts the rows every half second (or
every 500 rows), so a thousand concurrent requests never wait on the database. A failed insert (database
down, locked past every retry) drops nothing: the rows stay in the buffer and are tried again; when the
buffer grows past ``SPOOL_AT`` rows, or the worker stops with rows still unwritten, they go to a spool file
beside the database (one JSON object a line), which the next flush that succeeds writes to the table.

A batch refused for what is in it (a row the database will never take: a foreign key, a value out of range) is
not retried as a whole: each row is written alone, and a row refused alone is quarantined, with the reason, in
``quarantine-*.jsonl`` beside the spool, so one bad row can never stop the log. The spool is drained the same way.
The writer's state (rows waiting, failures in a row, quarantined rows, the last error) rides on the worker's
heartbeat, where `dsm doctor` reads it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.ids import uuid7
from dsm_core.redfish.client import CallRecord
from dsm_core.redfish.redaction import keep_head, pack, truncate
from dsm_core.timeutil import utcnow
from dsm_worker import store

log = logging.getLogger("dsm.worker.activity")
SPOOL_AT = 20_000
READS = ("GET", "HEAD")
"""A successful read keeps the head of its response only; every other call (a change, a failure) keeps it all."""
_UUIDS = ("id", "server_id", "job_id", "task_id", "initiated_by")
ROW_PROBLEMS = (sa.exc.IntegrityError, sa.exc.DataError)
"""What the rows carry (a foreign key, a value out of range), as opposed to a database that is down or locked."""
_TIMES = ("timestamp", "created_at")


def _to_line(row: dict[str, Any]) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, bytes):
            return {"b64": base64.b64encode(v).decode("ascii")}
        return str(v) if isinstance(v, uuid.UUID | datetime) else v

    return json.dumps({k: plain(v) for k, v in row.items()}, default=str)


def _from_line(line: str) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(line)
    for key in _UUIDS:
        if row.get(key):
            row[key] = uuid.UUID(row[key])
    for key in _TIMES:
        if row.get(key):
            row[key] = datetime.fromisoformat(row[key])
    if isinstance(row.get("bodies"), dict):
        row["bodies"] = base64.b64decode(row["bodies"]["b64"])
    return row


class ActivityWriter:
    def __init__(
        self,
        engine: Engine,
        source: str,
        level: Callable[[], str],
        limits: Callable[[], tuple[int, int, int]],
        flush_seconds: float = 0.5,
        batch: int = 500,
        spool_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        self.spool_dir = spool_dir
        self.failures = 0
        self.source = source
        self._level = level
        self._limits = limits
        self._rows: list[dict[str, Any]] = []
        self._flush_seconds = flush_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.written = 0
        self.quarantined = 0
        self.last_error = ""

    def status(self) -> dict[str, Any]:
        """For the heartbeat (`dsm doctor`): is the log being written, and is anything waiting or set aside."""
        spooled = len(list(self.spool_dir.glob("activity-*.jsonl"))) if self.spool_dir and self.spool_dir.is_dir() \
            else 0
        return {"pending": len(self._rows), "failures": self.failures, "quarantined": self.quarantined,
                "spool_files": spooled, "last_error": self.last_error, "written": self.written}

    def recorder(
        self,
        server_id: uuid.UUID | None,
        job_id: uuid.UUID | None,
        task_id: uuid.UUID | None,
        initiated_by: uuid.UUID | None = None,
    ) -> Callable[[CallRecord], None]:
        """``initiated_by``: the user whose job made the call (the job's creator)."""

        def record(call: CallRecord) -> None:
            level = self._level()
            if level == "none" or (level == "errors_only" and call.success):
                return
            req_kb, resp_kb, read_kb = self._limits()
            read = call.success and call.method in READS
            bodies = pack(None if read else call.request_headers, truncate(call.request_body, req_kb),
                          keep_head(call.response_body, read_kb) if read else truncate(call.response_body, resp_kb))
            self._rows.append(
                {
                    "id": uuid7(),
                    "timestamp": utcnow(),
                    "created_at": utcnow(),
                    "server_id": server_id,
                    "job_id": job_id,
                    "task_id": task_id,
                    "command_type": call.method,
                    "operation_type": call.operation_type,
                    "endpoint": call.endpoint,
                    "full_url": call.full_url,
                    "bodies": bodies,
                    "status_code": call.status,
                    "response_time_ms": call.latency_ms,
                    "success": call.success,
                    "error_message": call.error,
                    "source": self.source,
                    "initiated_by": initiated_by,
                }
            )

        return record

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="activity-writer")

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._flush_seconds)
            await self.flush()

    async def flush(self) -> None:
        await self._drain_spool()
        while self._rows:
            rows, self._rows = self._rows[: self._batch], self._rows[self._batch :]
            try:
                await asyncio.to_thread(store.write_activity, self.engine, rows)
                self.written += len(rows)
                self.failures = 0
            except ROW_PROBLEMS as exc:  # something in the rows, not the database: never retried as a batch
                self.last_error = f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0][:200]}"
                await self._one_by_one(rows)
            except Exception as exc:
                self._rows[:0] = rows  # kept, in order, for the next try
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0][:200]}"
                log.warning("activity log write failed (%s); %d rows kept, retrying", type(exc).__name__,
                            len(self._rows))
                if len(self._rows) >= SPOOL_AT:
                    await asyncio.to_thread(self._spool)
                return

    async def _one_by_one(self, rows: list[dict[str, Any]]) -> None:
        refused = await asyncio.to_thread(store.write_activity_rows_alone, self.engine, rows)
        self.written += len(rows) - len(refused)
        if refused:
            await asyncio.to_thread(self._quarantine, refused)

    def _quarantine(self, refused: list[tuple[dict[str, Any], str]]) -> None:
        """Rows the database refused one by one: kept on disk with the reason (`dsm doctor` counts them)."""
        self.quarantined += len(refused)
        reasons = sorted({reason for _, reason in refused})
        log.error("activity log: %d row(s) refused by the database, quarantined: %s", len(refused),
                  "; ".join(reasons)[:500])
        if self.spool_dir is None:
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        target = self.spool_dir / f"quarantine-{self.source.replace(':', '-')}-{os.getpid()}.jsonl"
        with target.open("a", encoding="utf-8") as out:
            for row, reason in refused:
                out.write(json.dumps({"reason": reason, "row": json.loads(_to_line(row))}) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def _spool_file(self) -> Path | None:
        if self.spool_dir is None:
            return None
        return self.spool_dir / f"activity-{self.source.replace(':', '-')}-{os.getpid()}.jsonl"

    def _spool(self) -> None:
        """Rows the database would not take, to disk: a stop or a long outage loses none of them."""
        target = self._spool_file()
        if target is None or not self._rows:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as out:
            for row in self._rows:
                out.write(_to_line(row) + "\n")
            out.flush()
            os.fsync(out.fileno())
        log.warning("activity log: %d rows spooled to %s until the database takes them", len(self._rows), target)
        self._rows = []

    async def _drain_spool(self) -> None:
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("activity-*.jsonl")):
            claimed = path.with_suffix(".importing")
            try:
                path.rename(claimed)  # one worker takes a file; another sharing the directory skips it
            except OSError:
                continue
            try:
                lines = claimed.read_text(encoding="utf-8").splitlines()
                rows = [_from_line(line) for line in lines if line.strip()]
                # one transaction for the file: it is written whole or not at all, never twice in part
                await asyncio.to_thread(store.write_activity, self.engine, rows)
                self.written += len(rows)
                claimed.unlink()
                log.info("activity log: %d spooled rows from %s written", len(rows), path.name)
            except ROW_PROBLEMS:  # a row the database will never take: the others go in alone, it is quarantined
                await self._one_by_one(rows)
                claimed.unlink()
                log.warning("activity log: spool %s written row by row", path.name)
            except Exception as exc:
                claimed.rename(path)  # the whole file again next time
                self.last_error = f"spool {path.name}: {type(exc).__name__}"
                log.warning("activity log: spool %s not written yet (%s)", path.name, type(exc).__name__)
                return

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.flush()
        if self._rows:
            await asyncio.to_thread(self._spool)
