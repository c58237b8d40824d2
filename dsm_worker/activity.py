"""Activity log writer: every Redfish call becomes an idrac_commands row, written in batches off the request path.

Requests only append to an in-memory buffer; a background task inserts the rows every half second (or
every 500 rows), so a thousand concurrent requests never wait on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from dsm_core.ids import uuid7
from dsm_core.redfish.client import CallRecord
from dsm_core.redfish.redaction import truncate
from dsm_core.timeutil import utcnow
from dsm_worker import store

log = logging.getLogger("dsm.worker.activity")


class ActivityWriter:
    def __init__(
        self,
        engine: Engine,
        source: str,
        level: Callable[[], str],
        limits: Callable[[], tuple[int, int]],
        flush_seconds: float = 0.5,
        batch: int = 500,
    ) -> None:
        self.engine = engine
        self.source = source
        self._level = level
        self._limits = limits
        self._rows: list[dict[str, Any]] = []
        self._flush_seconds = flush_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.written = 0

    def recorder(
        self, server_id: uuid.UUID | None, job_id: uuid.UUID | None, task_id: uuid.UUID | None
    ) -> Callable[[CallRecord], None]:
        def record(call: CallRecord) -> None:
            level = self._level()
            if level == "none" or (level == "errors_only" and call.success):
                return
            req_kb, resp_kb = self._limits()
            self._rows.append(
                {
                    "id": uuid7(),
                    "timestamp": utcnow(),
                    "created_at": utcnow(),
                    "server_id": server_id,
                    "job_id": job_id,
                    "task_id": task_id,
                    "command_type": call.method,
                    "operation_type": "idrac_api",
                    "endpoint": call.endpoint,
                    "full_url": call.full_url,
                    "request_headers": call.request_headers,
                    "request_body": truncate(call.request_body, req_kb),
                    "response_body": truncate(call.response_body, resp_kb),
                    "status_code": call.status,
                    "response_time_ms": call.latency_ms,
                    "success": call.success,
                    "error_message": call.error,
                    "source": self.source,
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
        while self._rows:
            rows, self._rows = self._rows[: self._batch], self._rows[self._batch :]
            try:
                await asyncio.to_thread(store.write_activity, self.engine, rows)
                self.written += len(rows)
            except Exception:
                log.exception("activity log write failed; %d rows dropped", len(rows))

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.flush()
