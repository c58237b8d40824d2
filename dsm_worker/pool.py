"""One Redfish client (one session) per iDRAC per worker, reused across jobs, always closed.

Idle clients are logged out after ``idle_seconds``; all are logged out when the worker stops. iDRACs allow
few sessions (RAC0218), so a worker that leaked them would lock operators out of their own servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from dsm_core.credentials.secret import Secret
from dsm_core.redfish.client import ClientSettings, IdracClient, Recorder, Throttle
from dsm_core.redfish.tls import TlsPolicy

log = logging.getLogger("dsm.worker.pool")


class IdracPool:
    def __init__(
        self,
        throttle: Throttle,
        settings: Callable[[], ClientSettings],
        paused: Callable[[], bool],
        idle_seconds: float = 30.0,
    ) -> None:
        self.throttle = throttle
        self._settings = settings
        self._paused = paused
        self.idle_seconds = idle_seconds
        self._clients: dict[tuple[str, str], IdracClient] = {}
        self._users: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def client(
        self, endpoint: str, username: str, password: Secret, tls: TlsPolicy, recorder: Recorder, sessions_path: str
    ) -> AsyncIterator[IdracClient]:
        key = (endpoint, username)
        async with self._lock:
            client = self._clients.get(key)
            if client is not None and (
                client.password != password
                or client.tls.mode != tls.mode
                or (client.tls.pinned != tls.pinned and tls.pinned is not None)
            ):
                await client.close()  # credentials or trust changed: a fresh session
                client = None
            if client is None:
                client = IdracClient(
                    endpoint,
                    username,
                    password,
                    tls,
                    self.throttle,
                    self._settings(),
                    paused=self._paused,
                    sessions_path=sessions_path,
                )
                self._clients[key] = client
            self._users[key] = self._users.get(key, 0) + 1
        client.recorder = recorder
        client.settings = self._settings()
        try:
            yield client
        finally:
            self._users[key] -= 1

    async def reap(self) -> None:
        now = time.monotonic()
        async with self._lock:
            idle = [
                k
                for k, c in self._clients.items()
                if self._users.get(k, 0) == 0 and now - c.last_used > self.idle_seconds
            ]
            for key in idle:
                client = self._clients.pop(key)
                await client.close()

    async def close_all(self, deadline: float | None = None) -> list[str]:
        """Log every session out, all in parallel under one deadline (``logout_deadline`` by default);
        returns, and logs, the iDRACs whose session could not be closed in time."""
        async with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        if not clients:
            return []
        limit = deadline if deadline is not None else self._settings().logout_deadline
        results = await asyncio.gather(*(c.close(limit) for c in clients), return_exceptions=True)
        leaked = [c.endpoint for c, ok in zip(clients, results, strict=True) if ok is not True]
        for endpoint in leaked:
            log.warning("session on %s not closed within %.0f s; it expires on the iDRAC by itself", endpoint, limit)
        return leaked

    def __len__(self) -> int:
        return len(self._clients)
