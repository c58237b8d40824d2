"""A small HTTP/1.1 server on asyncio streams and h11 (httpx's own HTTP/1.1 engine).

One listener per simulated iDRAC; keep-alive connections; the application can ask to reset a connection
or hang it, which is how connection-level faults are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

MAX_BODY = 256 * 1024 * 1024

# asyncio gives every TLS connection a 256 KiB read buffer (SSLProtocol.max_size): 2,000 keep-alive
# connections to a 1,000-iDRAC fleet would pin half a gigabyte. A TLS record is at most 16 KiB, so 32 KiB
# loses nothing but memory. Set only in the simulator's own process.
SSL_READ_BUFFER = 32 * 1024


def shrink_tls_buffers() -> None:
    import asyncio.sslproto

    asyncio.sslproto.SSLProtocol.max_size = SSL_READ_BUFFER


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client: str
    raw_query: str = ""
    """The query as sent, before decoding (a `+` and a `%20` differ here, not in ``query``)."""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json;odata.metadata=minimal;charset=utf-8"
    abort: bool = False  # reset the connection instead of answering
    hang: float = 0.0  # hold the connection this long, then reset it

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


Handler = Callable[[Request], Awaitable[Response]]

_REASONS = {
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    204: b"No Content",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    409: b"Conflict",
    412: b"Precondition Failed",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader, client: str) -> Request | None:
    head: h11.Request | None = None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY:
                raise h11.RemoteProtocolError("body too large")
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            target = head.target.decode("latin-1")
            parts = urlsplit(target)
            return Request(
                method=head.method.decode("ascii").upper(),
                path=unquote(parts.path),
                query={k: v for k, v in parse_qsl(parts.query, keep_blank_values=True)},
                headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers},
                body=b"".join(chunks),
                client=client,
                raw_query=parts.query,
            )
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    peer = writer.get_extra_info("peername")
    client = peer[0] if peer else "unknown"
    try:
        while True:
            request = await _read_request(conn, reader, client)
            if request is None:
                break
            response = await handler(request)
            if response.hang:
                await asyncio.sleep(response.hang)
                writer.transport.abort()
                return
            if response.abort:
                writer.transport.abort()
                return
            body = response.encode()
            headers = [
                (b"content-length", str(len(body)).encode()),
                (b"odata-version", b"4.0"),
                (b"server", b"Apache"),
                (b"cache-control", b"no-cache"),
            ]
            if body:
                headers.append((b"content-type", response.content_type.encode()))
            headers += [(k.encode(), v.encode()) for k, v in response.headers]
            out = conn.send(
                h11.Response(status_code=response.status, headers=headers, reason=_REASONS.get(response.status, b""))
            )
            if body and request.method != "HEAD":
                out = (out or b"") + (conn.send(h11.Data(data=body)) or b"")
            out = (out or b"") + (conn.send(h11.EndOfMessage()) or b"")
            writer.write(out)
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                break
            conn.start_next_cycle()
    except (h11.RemoteProtocolError, h11.LocalProtocolError):
        with contextlib.suppress(Exception):
            writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def start_listener(host: str, port: int, handler: Handler, ssl_context: ssl.SSLContext | None) -> asyncio.Server:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, handler)

    if ssl_context is None:
        return await asyncio.start_server(on_connect, host, port, backlog=128, reuse_address=True)
    return await asyncio.start_server(on_connect, host, port, backlog=128, reuse_address=True, ssl=ssl_context,
                                      ssl_handshake_timeout=30)
