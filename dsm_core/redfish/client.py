"""An async Redfish client for one iDRAC, built for BMCs that are small, slow and flaky.

- One session per iDRAC, reused; basic auth when sessions fail (or are exhausted: RAC0218); re-login once
  on a 401 (an iDRAC reset drops sessions); the session is always deleted in ``close()``.
- At most ``per_idrac`` requests in flight on one iDRAC (default 2) and ``global`` across all of them,
  with ``request_delay_ms`` between requests to one iDRAC.
- Retries with backoff on connection errors, timeouts, 429 and 503; never on a changed certificate.
- Every HTTP exchange is handed to a recorder (the activity log) with secrets redacted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from dsm_core.credentials.secret import Secret
from dsm_core.redfish.redaction import redact
from dsm_core.redfish.tls import CertificateChanged, TlsPolicy, make_transport

RETRY_STATUS = frozenset({429, 503})
LOGOUT_ATTEMPTS = 8


class RedfishError(Exception):
    """A request that did not succeed; says what was asked, what came back and Dell's MessageId."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        message: str,
        message_id: str | None = None,
        endpoint: str = "",
    ) -> None:
        self.method, self.path, self.status = method, path, status
        self.message, self.message_id, self.endpoint = message, message_id, endpoint
        code = f"HTTP {status}" if status is not None else "no response"
        mid = f" {message_id}" if message_id else ""
        super().__init__(f"{method} {path} on {endpoint}: {code}{mid}: {message}")


class AuthenticationFailed(RedfishError):
    pass


class Paused(Exception):
    """pause_idrac_operations is on: no new iDRAC request may start."""


@dataclass(frozen=True)
class CallRecord:
    """One HTTP exchange, ready for the activity log (already redacted)."""

    method: str
    endpoint: str
    full_url: str
    status: int | None
    latency_ms: int
    success: bool
    error: str | None
    request_headers: dict[str, Any] | None
    request_body: Any
    response_body: Any


@dataclass
class ClientSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 3
    retry_delay: float = 1.0
    backoff: str = "exponential"  # or "linear"
    per_idrac: int = 2
    request_delay_ms: int = 0

    def delay(self, attempt: int) -> float:
        if self.backoff == "linear":
            return self.retry_delay * attempt
        return float(self.retry_delay * (2 ** (attempt - 1)))


class Throttle:
    """Concurrency caps shared by every client of a worker: per iDRAC and in total."""

    def __init__(self, global_cap: int = 64, per_idrac: int = 2) -> None:
        self.global_sem = asyncio.Semaphore(global_cap)
        self.per_idrac = per_idrac
        self._per: dict[str, asyncio.Semaphore] = {}
        self._last: dict[str, float] = {}

    def for_endpoint(self, endpoint: str) -> asyncio.Semaphore:
        sem = self._per.get(endpoint)
        if sem is None:
            sem = self._per[endpoint] = asyncio.Semaphore(self.per_idrac)
        return sem

    async def space(self, endpoint: str, delay_ms: int) -> None:
        if delay_ms <= 0:
            return
        now = time.monotonic()
        wait = self._last.get(endpoint, 0.0) + delay_ms / 1000 - now
        self._last[endpoint] = max(now, self._last.get(endpoint, 0.0) + delay_ms / 1000)
        if wait > 0:
            await asyncio.sleep(wait)


Recorder = Callable[[CallRecord], None]


def _error_details(response: httpx.Response) -> tuple[str, str | None]:
    """Dell puts the useful text in error.@Message.ExtendedInfo[0]."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return (response.text[:200] or response.reason_phrase), None
    if isinstance(body, dict):
        err = body.get("error", body)
        info = err.get("@Message.ExtendedInfo") if isinstance(err, dict) else None
        if isinstance(info, list) and info and isinstance(info[0], dict):
            mid = str(info[0].get("MessageId", "")) or None
            return str(info[0].get("Message", "")), mid.rsplit(".", 1)[-1] if mid else None
        if isinstance(err, dict) and "message" in err:
            return str(err["message"]), None
    return response.reason_phrase, None


@dataclass
class IdracClient:
    endpoint: str  # "host:port" ([v6]:port)
    username: str
    password: Secret
    tls: TlsPolicy
    throttle: Throttle
    settings: ClientSettings = field(default_factory=ClientSettings)
    recorder: Recorder | None = None
    paused: Callable[[], bool] | None = None
    sessions_path: str = "/redfish/v1/SessionService/Sessions"
    _http: httpx.AsyncClient | None = None
    _token: str | None = None
    _location: str | None = None
    _basic: bool = False
    _login_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)

    @property
    def base_url(self) -> str:
        return f"https://{self.endpoint}"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=timeout,
                trust_env=False,
                transport=make_transport(self.endpoint, self.tls, self.settings.per_idrac),
                headers={"Accept": "application/json"},
            )
        return self._http

    # --- authentication ----------------------------------------------------------------------------------

    async def login(self) -> None:
        """Open a session, or settle for basic auth when the iDRAC cannot give one."""
        async with self._login_lock:
            if self._token or self._basic:
                return
            body = {"UserName": self.username, "Password": self.password.reveal()}
            try:
                response = await self._send("POST", self.sessions_path, json_body=body, auth=False)
            except RedfishError as exc:
                if exc.status in (401, 403):
                    raise AuthenticationFailed(
                        exc.method, exc.path, exc.status, exc.message, exc.message_id, self.endpoint
                    ) from None
                if exc.status is None:
                    raise  # unreachable: not a reason to give up on sessions for good
                self._basic = True  # the iDRAC answered but gives no session (503 RAC0218, 404…): basic auth
                return
            token = response.headers.get("X-Auth-Token")
            if response.status_code in (200, 201) and token:
                self._token, self._location = token, response.headers.get("Location")
            else:
                self._basic = True

    async def _relogin(self, stale: str | None) -> None:
        """Replace the session that just got a 401 — unless a concurrent request already did (two requests
        failing together must not open two sessions, one of which nobody would ever delete)."""
        async with self._login_lock:
            if self._token != stale:
                return
            self._token = self._location = None
            self._basic = False
        await self.login()

    def _auth_headers(self) -> dict[str, str]:
        if self._token:
            return {"X-Auth-Token": self._token}
        return {}

    # --- requests ---------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        files: Any = None,
    ) -> httpx.Response:
        if not self._token and not self._basic:
            await self.login()
        used = self._token
        try:
            return await self._send(method, path, json_body=json_body, params=params, files=files)
        except RedfishError as exc:
            if exc.status != 401 or self._basic:
                raise
        await self._relogin(used)  # the iDRAC dropped our session (reset, timeout): once more, freshly
        return await self._send(method, path, json_body=json_body, params=params, files=files)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = await self.request("GET", path, params=params)
        return self._json(response, "GET", path)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.request("POST", path, json_body=body if body is not None else {})

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.request("PATCH", path, json_body=body)

    def _json(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            raise RedfishError(
                method, path, response.status_code, "response is not valid JSON", endpoint=self.endpoint
            ) from None
        if not isinstance(data, dict):
            raise RedfishError(
                method, path, response.status_code, "response is not a JSON object", endpoint=self.endpoint
            )
        return data

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        files: Any = None,
        auth: bool = True,
    ) -> httpx.Response:
        settings = self.settings
        attempt = 0
        while True:
            attempt += 1
            if self.paused is not None and self.paused():
                raise Paused(f"iDRAC operations are paused; {method} {path} on {self.endpoint} not sent")
            response: httpx.Response | None = None
            error: str | None = None
            retryable = False
            async with self.throttle.global_sem, self.throttle.for_endpoint(self.endpoint):
                await self.throttle.space(self.endpoint, settings.request_delay_ms)
                started = time.monotonic()
                headers = self._auth_headers() if auth else {}
                basic = (self.username, self.password.reveal()) if auth and self._basic else None
                try:
                    response = await self._client().request(
                        method, path, json=json_body, params=params, files=files, headers=headers, auth=basic
                    )
                    if method == "GET" and response.status_code == 200:
                        try:
                            response.json()
                        except (ValueError, UnicodeDecodeError):
                            error, retryable = "response is not valid JSON", True
                except CertificateChanged:
                    self._record(method, path, params, json_body, None, started, "certificate changed", headers)
                    raise
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    error, retryable = f"{type(exc).__name__}: {exc or 'connection failed'}", True
                self.last_used = time.monotonic()
            self._record(method, path, params, json_body, response, started, error, headers)
            if response is not None and response.status_code in RETRY_STATUS:
                retryable = True
                error = f"HTTP {response.status_code}"
            if retryable and attempt <= settings.max_retries:
                await asyncio.sleep(settings.delay(attempt))
                continue
            if error and (response is None or response.status_code < 400):
                raise RedfishError(
                    method,
                    path,
                    response.status_code if response is not None else None,
                    f"{error} (after {attempt} attempt{'s' if attempt > 1 else ''})",
                    endpoint=self.endpoint,
                )
            assert response is not None
            if response.status_code >= 400:
                message, mid = _error_details(response)
                raise RedfishError(method, path, response.status_code, message, mid, self.endpoint)
            return response

    def _record(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        response: httpx.Response | None,
        started: float,
        error: str | None,
        headers: dict[str, str],
    ) -> None:
        if self.recorder is None:
            return
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        status = response.status_code if response is not None else None
        success = error is None and status is not None and status < 400
        if status is not None and status >= 400 and error is None:
            error = _error_details(response)[0] if response is not None else None
        response_body: Any = None
        if response is not None:
            try:
                response_body = response.json()
            except (ValueError, UnicodeDecodeError):
                response_body = response.text[:2000] if response.text else None
        self.recorder(
            CallRecord(
                method=method,
                endpoint=path + query,
                full_url=f"{self.base_url}{path}{query}",
                status=status,
                latency_ms=int((time.monotonic() - started) * 1000),
                success=success,
                error=error,
                request_headers=redact({**headers, **({"Authorization": "Basic"} if self._basic else {})}),
                request_body=redact(body),
                response_body=redact(response_body),
            )
        )

    # --- teardown ----------------------------------------------------------------------------------------

    async def _logout(self, location: str) -> None:
        """Delete the session, harder than an ordinary request tries: a leaked session holds one of the
        iDRAC's few slots (RAC0218) until its idle timeout."""
        for attempt in range(1, LOGOUT_ATTEMPTS + 1):
            try:
                await self._send("DELETE", location)
                return
            except RedfishError as exc:
                if exc.status in (401, 404):
                    return  # already gone (expired, or the iDRAC restarted)
            except (Paused, CertificateChanged):
                return
            await asyncio.sleep(min(2.0, 0.1 * attempt))

    async def close(self) -> None:
        """Delete the session (always: iDRACs allow few) and drop the connections."""
        try:
            if self._token and self._location:
                await self._logout(self._location)
        finally:
            self._token = self._location = None
            if self._http is not None:
                await self._http.aclose()
                self._http = None


async def probe_service_root(
    endpoint: str, tls: TlsPolicy, timeout: float, throttle: Throttle, recorder: Recorder | None = None
) -> dict[str, Any] | None:
    """Unauthenticated GET /redfish/v1 (discovery's first look): the root, or None when nothing answers."""
    transport = make_transport(endpoint, tls, 1)
    async with (
        throttle.global_sem,
        throttle.for_endpoint(endpoint),
        httpx.AsyncClient(
            base_url=f"https://{endpoint}", transport=transport, trust_env=False, timeout=httpx.Timeout(timeout)
        ) as client,
    ):
        started = time.monotonic()
        try:
            response = await client.get("/redfish/v1")
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            if recorder is not None:
                recorder(
                    CallRecord(
                        "GET",
                        "/redfish/v1",
                        f"https://{endpoint}/redfish/v1",
                        None,
                        int((time.monotonic() - started) * 1000),
                        False,
                        f"{type(exc).__name__}: {exc or 'no answer'}",
                        None,
                        None,
                        None,
                    )
                )
            return None
    body: Any = None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if recorder is not None:
        recorder(
            CallRecord(
                "GET",
                "/redfish/v1",
                f"https://{endpoint}/redfish/v1",
                response.status_code,
                int((time.monotonic() - started) * 1000),
                response.status_code == 200,
                None,
                None,
                None,
                redact(body),
            )
        )
    return body if response.status_code == 200 and isinstance(body, dict) else None
