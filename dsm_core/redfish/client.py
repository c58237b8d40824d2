"""An async Redfish client for one iDRAC, built for BMCs that are small, slow, flaky — or hostile.

- One session per iDRAC, reused; basic auth when sessions fail (or are exhausted: RAC0218); re-login once
  on a 401 (an iDRAC reset drops sessions); the session is always deleted in ``close()``, under a deadline.
- At most ``per_idrac`` requests in flight on one iDRAC (default 2) and ``global`` across all of them,
  with ``delay_ms`` between requests to one iDRAC and at most ``per_minute`` requests a minute to it;
  all of them changeable while the worker runs (``Throttle.configure``).
- Reads are retried (full jitter, ``Retry-After`` honoured) on transport errors, 429 and 503; a change
  only when the iDRAC cannot have acted on it (see ``_send``); never on a changed certificate.
- Every URL is resolved against the iDRAC's own origin; nothing is sent anywhere else.
- Every body is read under a cap (``max_body_bytes``), decompression included.
- Every HTTP exchange is handed to a recorder (the activity log) with secrets redacted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import random
import time
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

import httpx

from dsm_core.credentials.secret import Secret
from dsm_core.redfish.redaction import redact
from dsm_core.redfish.tls import CertificateChanged, TlsPolicy, make_transport

RETRY_STATUS = frozenset({429, 503})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
# Failures before a byte of the request reached the iDRAC: a change may be sent again after these.
CONNECT_PHASE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_RETRY_AFTER = 60.0
LOGOUT_DEADLINE = 10.0


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


class OutcomeUnknown(RedfishError):
    """A change was sent and no answer came back (read timeout, dropped connection): the iDRAC may have acted.
    The caller reads the state to decide; it never sends the change again blindly."""


class BodyRefused(Exception):
    """A response body not read: over the cap (after decompression), or in an encoding we did not ask for."""


def resolve_on_origin(base_url: str, url: str, endpoint: str) -> str:
    """The path (and query) of ``url`` on ``base_url``'s origin; RedfishError naming ``url`` otherwise."""

    def refuse(why: str) -> RedfishError:
        shown = url if len(url) <= 200 else url[:200] + "…"
        return RedfishError("FOLLOW", shown, None, f"refused: {why}; nothing was sent", endpoint=endpoint)

    if not isinstance(url, str) or not url:
        raise refuse("empty link")
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" for c in url):
        raise refuse("the link holds control characters, spaces or backslashes")
    if url.startswith("/") and not url.startswith("//"):
        return url
    try:
        target, base = httpx.URL(url), httpx.URL(base_url)
    except (httpx.InvalidURL, ValueError):
        raise refuse("not a URL") from None
    if not target.is_absolute_url:
        raise refuse("a relative link that is not a path from the root")
    same = (
        target.scheme == "https"
        and target.host.lower() == base.host.lower()
        and (target.port or 443) == (base.port or 443)
        and not target.userinfo
    )
    if not same:
        raise refuse(f"it points off this iDRAC's origin {base_url}")
    path = target.raw_path.decode("ascii")
    return path if path.startswith("/") else "/" + path


def _decoder(encoding: str) -> Any:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise BodyRefused(f"Content-Encoding {encoding!r} is not accepted (asked for gzip or deflate)")


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decoded body of a streamed response, or BodyRefused as soon as it passes ``cap`` bytes.

    Decompression is done here, ``max_length`` at a time, so a small gzip bomb never becomes a large
    buffer; an endless stream stops at the cap, not at the operation timeout."""
    decoder = _decoder(response.headers.get("content-encoding", ""))
    declared = response.headers.get("content-length", "")
    if decoder is None and declared.isdigit() and int(declared) > cap:
        raise BodyRefused(f"response body of {int(declared)} bytes is over the {cap}-byte cap")
    buf = bytearray()
    try:
        async for chunk in response.aiter_raw():
            if decoder is None:
                buf += chunk
            else:
                data = chunk
                while data and len(buf) <= cap:
                    buf += decoder.decompress(data, cap + 1 - len(buf))
                    data = decoder.unconsumed_tail
            if len(buf) > cap:
                raise BodyRefused(f"response body over the {cap}-byte cap (read no further)")
    except zlib.error as exc:
        raise httpx.DecodingError(f"bad compressed body: {exc}") from None
    return bytes(buf)


_DROP = frozenset({"content-encoding", "content-length", "transfer-encoding"})


async def send_capped(
    client: httpx.AsyncClient, request: httpx.Request, cap: int, auth: httpx.Auth | None = None
) -> httpx.Response:
    """Send ``request`` and read its answer under ``cap``; the result is an ordinary, already-read response."""
    raw = await client.send(request, stream=True, auth=auth, follow_redirects=False)
    try:
        body = await read_capped(raw, cap)
    finally:
        await raw.aclose()
    headers = [(k, v) for k, v in raw.headers.multi_items() if k.lower() not in _DROP]
    return httpx.Response(raw.status_code, headers=headers, content=body, request=raw.request)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the iDRAC asked us to wait (a number or an HTTP date), at most MAX_RETRY_AFTER."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return True


def _body_for_log(response: httpx.Response | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return response.text[:2000] if response.content else None


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
    operation_type: str = "idrac_api"
    """``idrac_api`` | ``vcenter_api`` | ``openmanage_api``: one activity log for every device DSM talks to."""


@dataclass
class ClientSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 3
    retry_delay: float = 1.0
    backoff: str = "exponential"  # or "linear"
    per_idrac: int = 2
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    logout_deadline: float = LOGOUT_DEADLINE

    def delay(self, attempt: int) -> float:
        """Full jitter (a random wait up to the backoff): many workers retrying one busy iDRAC spread out."""
        if self.backoff == "linear":
            ceiling = self.retry_delay * attempt
        else:
            ceiling = float(self.retry_delay * (2 ** (attempt - 1)))
        return random.uniform(0.0, ceiling)


class Gate:
    """A semaphore whose size can change while it is held: the caps in the settings apply to running workers
    (asyncio.Semaphore's size is fixed at creation). Shrinking lets the holders finish; no new entry until
    the count is under the new size."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.held = 0
        self._cond = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.held < self.limit)
            self.held += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._cond:
            self.held -= 1
            self._cond.notify_all()

    async def resize(self, limit: int) -> None:
        async with self._cond:
            self.limit = max(1, limit)
            self._cond.notify_all()


class Throttle:
    """What every client of a worker shares, per iDRAC and in total: concurrency caps, a spacing between
    requests, and a rate limit (requests per minute, a sliding window). ``configure`` changes all of them
    while the worker runs; the worker calls it when the settings change."""

    def __init__(self, global_cap: int = 64, per_idrac: int = 2, per_minute: int = 0, delay_ms: int = 0) -> None:
        self.global_sem = Gate(global_cap)
        self.per_idrac = per_idrac
        self.per_minute = per_minute
        self.delay_ms = delay_ms
        self._per: dict[str, Gate] = {}
        self._last: dict[str, float] = {}
        self._sent: dict[str, collections.deque[float]] = {}

    def for_endpoint(self, endpoint: str) -> Gate:
        gate = self._per.get(endpoint)
        if gate is None:
            gate = self._per[endpoint] = Gate(self.per_idrac)
        return gate

    async def configure(self, global_cap: int, per_idrac: int, per_minute: int, delay_ms: int) -> None:
        self.per_minute, self.delay_ms = per_minute, delay_ms
        if global_cap != self.global_sem.limit:
            await self.global_sem.resize(global_cap)
        if per_idrac != self.per_idrac:
            self.per_idrac = per_idrac
            for gate in self._per.values():
                await gate.resize(per_idrac)

    @contextlib.asynccontextmanager
    async def spaced(self, endpoint: str) -> AsyncIterator[None]:
        await self.space(endpoint)
        yield

    async def space(self, endpoint: str, delay_ms: int | None = None) -> None:
        """Wait for this endpoint's turn: the request spacing, then the per-minute budget."""
        delay = self.delay_ms if delay_ms is None else delay_ms
        if delay > 0:
            now = time.monotonic()
            wait = self._last.get(endpoint, 0.0) + delay / 1000 - now
            self._last[endpoint] = max(now, self._last.get(endpoint, 0.0) + delay / 1000)
            if wait > 0:
                await asyncio.sleep(wait)
        if self.per_minute > 0:
            sent = self._sent.setdefault(endpoint, collections.deque())
            while True:
                now = time.monotonic()
                while sent and sent[0] <= now - 60.0:
                    sent.popleft()
                if self.per_minute <= 0 or len(sent) < self.per_minute:
                    sent.append(now)
                    return
                # a second at a time: a limit raised meanwhile (settings) frees this request at once
                await asyncio.sleep(min(1.0, sent[0] + 60.0 - now))


Recorder = Callable[[CallRecord], None]


def _error_details(response: httpx.Response) -> tuple[str, str | None]:
    """Dell puts the useful text in error.@Message.ExtendedInfo[0]."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
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
    login_extra: dict[str, str] = field(default_factory=dict)
    """More of the session request's body (OpenManage Enterprise wants ``SessionType: API``)."""
    _http: httpx.AsyncClient | None = None
    _token: str | None = None
    _location: str | None = None
    _basic: bool = False
    _login_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _opening: asyncio.Future[None] | None = None
    """The session request in flight, if any: ``close`` lets it land so the session can be deleted."""
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
                headers={"Accept": "application/json", "Accept-Encoding": "gzip, deflate"},
                follow_redirects=False,
            )
        return self._http

    # --- authentication ----------------------------------------------------------------------------------

    async def login(self) -> None:
        """Open a session, or settle for basic auth when the iDRAC cannot give one.

        The session request runs shielded from the caller's cancellation: a worker draining on SIGTERM
        cancels tasks mid-login, and a POST already sent opens a session on the iDRAC whether or not we
        wait for the answer. Left to finish, its token lands on this client and ``close`` deletes it;
        abandoned, it would hold one of the iDRAC's few session slots until its idle timeout."""
        async with self._login_lock:
            if self._opening is not None and not self._opening.done():
                await asyncio.shield(self._opening)  # a cancelled caller's request, still landing: use it
            if self._token or self._basic:
                return
            opening = asyncio.ensure_future(self._open_session())
            opening.add_done_callback(_retrieve)
            self._opening = opening
            await asyncio.shield(opening)

    async def _open_session(self) -> None:
        body = {"UserName": self.username, "Password": self.password.reveal(), **self.login_extra}
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
            self._token, self._location = token, self._session_location(response)
        else:
            self._basic = True

    def _session_location(self, response: httpx.Response) -> str | None:
        """Where to DELETE the session: the Location header (or the body's @odata.id), on our origin only."""
        body = _body_for_log(response)
        candidates = [response.headers.get("Location"), body.get("@odata.id") if isinstance(body, dict) else None]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate:
                try:
                    return self.resolve(candidate)
                except RedfishError as exc:
                    self._record_refusal("DELETE", candidate, exc)
        return None

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
        headers: Mapping[str, str] | None = None,
        any_body: bool = False,
    ) -> httpx.Response:
        """``any_body``: a GET whose 200 may be other than JSON (an exported SCP profile); capped all the same."""
        if not self._token and not self._basic:
            await self.login()
        used = self._token
        try:
            return await self._send(method, path, json_body=json_body, params=params, files=files, extra=headers,
                                    any_body=any_body)
        except RedfishError as exc:
            if exc.status != 401 or self._basic:
                raise
        await self._relogin(used)  # the iDRAC dropped our session (reset, timeout): once more, freshly
        return await self._send(method, path, json_body=json_body, params=params, files=files, extra=headers,
                                any_body=any_body)

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
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise RedfishError(
                method, path, response.status_code, "response is not valid JSON", endpoint=self.endpoint
            ) from None
        if not isinstance(data, dict):
            raise RedfishError(
                method, path, response.status_code, "response is not a JSON object", endpoint=self.endpoint
            )
        return data

    def resolve(self, url: str) -> str:
        """``url`` as a path on this iDRAC, or refused: every link a device hands back is resolved against
        its own ``https://host:port``; another scheme, host or port is never followed (a hostile iDRAC
        would otherwise receive our session token, or with basic auth the password, on another host)."""
        return resolve_on_origin(self.base_url, url, self.endpoint)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        files: Any = None,
        auth: bool = True,
        while_paused: bool = False,
        extra: Mapping[str, str] | None = None,
        any_body: bool = False,
    ) -> httpx.Response:
        """One request, retried only where that cannot repeat a change.

        GET/HEAD are retried on any transport error, 429/503 and a 200 that is not JSON. A change (POST,
        PATCH, PUT, DELETE) is retried only when the iDRAC cannot have acted on it: the connection was never
        made, or the iDRAC refused it outright (429/503). After a read timeout or a dropped connection it
        raises ``OutcomeUnknown`` and the caller re-reads the state instead of sending it again.
        """
        settings = self.settings
        try:
            path = self.resolve(path)
        except RedfishError as exc:
            self._record_refusal(method, path, exc)
            raise
        idempotent = method.upper() in IDEMPOTENT
        attempt = 0
        while True:
            attempt += 1
            if not while_paused and self.paused is not None and self.paused():
                raise Paused(f"iDRAC operations are paused; {method} {path} on {self.endpoint} not sent")
            response: httpx.Response | None = None
            error: str | None = None
            retryable = False
            maybe_acted = False
            headers: dict[str, str] = {}
            url = f"{self.base_url}{path}"
            async with self.throttle.global_sem, self.throttle.for_endpoint(self.endpoint):
                await self.throttle.space(self.endpoint)
                started = time.monotonic()
                headers = {**(extra or {}), **(self._auth_headers() if auth else {})}
                basic = httpx.BasicAuth(self.username, self.password.reveal()) if auth and self._basic else None
                try:
                    request = self._client().build_request(
                        method, path, json=json_body, params=params, files=files, headers=headers
                    )
                    url = str(request.url)
                    response = await send_capped(self._client(), request, settings.max_body_bytes, basic)
                    if method == "GET" and response.status_code == 200 and not any_body and not _is_json(response):
                        error, retryable = "response is not valid JSON", True
                except CertificateChanged:
                    self._record(method, url, json_body, None, started, "certificate changed", headers)
                    raise
                except BodyRefused as exc:
                    error = str(exc)  # a device that sends too much will send too much again: no retry
                except CONNECT_PHASE as exc:
                    error, retryable = f"{type(exc).__name__}: {exc or 'connection failed'}", True
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    error = f"{type(exc).__name__}: {exc or 'connection lost'}"
                    retryable, maybe_acted = idempotent, not idempotent
                self.last_used = time.monotonic()
            self._record(method, url, json_body, response, started, error, headers)
            wait: float | None = None
            if response is not None and response.status_code in RETRY_STATUS:
                retryable = True
                error = f"HTTP {response.status_code}"
                wait = retry_after(response)
            if retryable and attempt <= settings.max_retries:
                await asyncio.sleep(settings.delay(attempt) if wait is None else wait)
                continue
            tries = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
            if maybe_acted:
                raise OutcomeUnknown(
                    method, path, None,
                    f"{error}; the iDRAC may have acted on it, so it is not sent again ({tries})",
                    endpoint=self.endpoint,
                )
            if error and (response is None or response.status_code < 400):
                raise RedfishError(
                    method,
                    path,
                    response.status_code if response is not None else None,
                    f"{error} ({tries})",
                    endpoint=self.endpoint,
                )
            assert response is not None
            if response.status_code >= 400:
                message, mid = _error_details(response)
                raise RedfishError(method, path, response.status_code, message, mid, self.endpoint)
            return response

    def _record_refusal(self, method: str, url: str, exc: RedfishError) -> None:
        if self.recorder is None:
            return
        # The refused link goes in the error text, never in full_url: that column holds what was requested.
        self.recorder(
            CallRecord(method, "(not sent)", "(not sent)", None, 0, False,
                       f"not sent: {exc.message}: {url[:500]}", None, None, None)
        )

    def _record(
        self,
        method: str,
        url: str,
        body: Any,
        response: httpx.Response | None,
        started: float,
        error: str | None,
        headers: dict[str, str],
    ) -> None:
        """``url`` is the URL actually requested (after resolution and query encoding)."""
        if self.recorder is None:
            return
        status = response.status_code if response is not None else None
        success = error is None and status is not None and status < 400
        if status is not None and status >= 400 and error is None:
            error = _error_details(response)[0] if response is not None else None
        # Readable (the query decoded as a form is): full_url keeps the exact bytes that were requested.
        path, _, query = httpx.URL(url).raw_path.decode("ascii", "replace").partition("?")
        endpoint = unquote(path) + (f"?{unquote_plus(query)}" if query else "")
        self.recorder(
            CallRecord(
                method=method,
                endpoint=endpoint,
                full_url=url,
                status=status,
                latency_ms=int((time.monotonic() - started) * 1000),
                success=success,
                error=error,
                request_headers=redact({**headers, **({"Authorization": "Basic"} if self._basic else {})}),
                request_body=redact(body),
                response_body=redact(_body_for_log(response)),
            )
        )

    # --- teardown ----------------------------------------------------------------------------------------

    async def _logout(self, location: str) -> None:
        """Delete the session, harder than an ordinary request tries (a leaked session holds one of the
        iDRAC's few slots, RAC0218, until its idle timeout), but only until the caller's deadline. Sent even
        while iDRAC work is paused: closing a session changes nothing on the server."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._send("DELETE", location, while_paused=True)
                return
            except RedfishError as exc:
                if exc.status in (401, 404):
                    return  # already gone (expired, or the iDRAC restarted)
            except CertificateChanged:
                return
            await asyncio.sleep(min(2.0, 0.1 * attempt))

    async def close(self, deadline: float | None = None) -> bool:
        """Delete the session (always: iDRACs allow few) and drop the connections, within ``deadline``
        seconds (default ``settings.logout_deadline``). A login still in flight (its caller cancelled) is
        given that same deadline to land first, so the session it opens is deleted too. False when the
        session could not be closed."""
        closed = True
        limit = max(0.1, self.settings.logout_deadline if deadline is None else deadline)
        ends = time.monotonic() + limit
        try:
            opening, self._opening = self._opening, None
            if opening is not None and not opening.done():
                try:
                    await asyncio.wait_for(asyncio.shield(opening), limit)
                except TimeoutError:
                    opening.cancel()
                    return False
                except Exception:  # a failed login opened nothing to delete
                    pass
            if self._token and self._location:
                try:
                    await asyncio.wait_for(self._logout(self._location), max(0.1, ends - time.monotonic()))
                except TimeoutError:
                    closed = False
        finally:
            self._token = self._location = None
            if self._http is not None:
                await self._http.aclose()
                self._http = None
        return closed


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shielded login's failure as seen: its caller, if cancelled, will never read it."""
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True)
class ProbeResult:
    """What discovery's unauthenticated look found: a service root, nothing at all, or something that
    answered but could not serve us (busy, broken) — the last is a failed target, never "nothing here"."""

    root: dict[str, Any] | None
    answered: bool
    failure: str | None = None
    busy: bool = False
    """It kept answering "busy" (429/5xx, RAC0218) through every attempt: worth another round later."""


BUSY_STATUS = frozenset({429, 500, 502, 503, 504})


async def probe_service_root(
    endpoint: str,
    tls: TlsPolicy,
    timeout: float,
    throttle: Throttle,
    recorder: Recorder | None = None,
    *,
    attempts: int = 6,
    retry_delay: float = 1.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> ProbeResult:
    """Unauthenticated GET /redfish/v1, retried with backoff (and ``Retry-After``) while the address answers
    HTTP but is busy (429/5xx, RAC0218) or drops the connection; a refused or silent address is not retried."""
    url = f"https://{endpoint}/redfish/v1"
    last = "no answer"
    said_busy = False
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        response: httpx.Response | None = None
        error: str | None = None
        connect_failed = refused = False
        async with (
            throttle.global_sem,
            throttle.for_endpoint(endpoint),
            throttle.spaced(endpoint),
            httpx.AsyncClient(
                base_url=f"https://{endpoint}",
                transport=make_transport(endpoint, tls, 1),
                trust_env=False,
                timeout=httpx.Timeout(timeout),
                headers={"Accept": "application/json", "Accept-Encoding": "gzip, deflate"},
            ) as client,
        ):
            try:
                response = await send_capped(client, client.build_request("GET", "/redfish/v1"), max_body_bytes)
            except CONNECT_PHASE as exc:
                error, connect_failed = f"{type(exc).__name__}: {exc or 'no answer'}", True
            except BodyRefused as exc:
                error, refused = str(exc), True
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                error = f"{type(exc).__name__}: {exc or 'connection lost'}"
        body = _body_for_log(response)
        if recorder is not None:
            ok = response is not None and response.status_code == 200 and error is None
            recorder(
                CallRecord("GET", "/redfish/v1", url, response.status_code if response is not None else None,
                           int((time.monotonic() - started) * 1000), ok, error, None, None, redact(body))
            )
        if connect_failed:
            return ProbeResult(None, False, None)
        if refused:
            return ProbeResult(None, True, f"answered, but {error}")
        wait: float | None = None
        if response is not None:
            if response.status_code == 200 and isinstance(body, dict):
                return ProbeResult(body, True)
            busy_text = isinstance(body, dict | str) and "RAC0218" in str(body)[:4000]
            if response.status_code not in BUSY_STATUS and not busy_text:
                return ProbeResult(None, True, None)  # answered, but not a Redfish service root: not ours
            message, mid = _error_details(response)
            last = f"HTTP {response.status_code}{' ' + mid if mid else ''}: {message}"[:300]
            wait = retry_after(response)
            said_busy = True
        else:
            last, said_busy = error or last, False
        if attempt < attempts:
            await asyncio.sleep(wait if wait is not None else random.uniform(0, retry_delay * 2 ** (attempt - 1)))
    return ProbeResult(None, True, f"the iDRAC answered but stayed busy or broken after {attempts} attempts ({last})",
                       busy=said_busy)
