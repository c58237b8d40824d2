"""TLS for iDRACs: pinned fingerprints (trust on first use, the default), a CA bundle, or no checking.

iDRACs ship self-signed certificates, so CA validation rarely applies; pinning is what protects a
password. The fingerprint is checked by a network backend right after the TLS handshake and before the
first HTTP byte, so credentials are never sent to a host whose certificate changed.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx


class CertificateChanged(Exception):
    """The iDRAC presented another certificate than the pinned one: refuse loudly, send nothing."""

    def __init__(self, endpoint: str, pinned: str, presented: str) -> None:
        self.endpoint, self.pinned, self.presented = endpoint, pinned, presented
        super().__init__(
            f"TLS certificate of {endpoint} changed: pinned {pinned}, presented {presented}. Nothing was sent. "
            "If the iDRAC's certificate was replaced on purpose (iDRAC reset, new certificate), forget the pin "
            "with `dsm servers update REF --forget-certificate` and run a refresh."
        )


def fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


@dataclass
class TlsPolicy:
    """How to trust one iDRAC. ``pinned`` is updated in place when a first fingerprint is learned."""

    mode: str = "pin"  # pin | ca | off
    pinned: str | None = None
    ca_bundle: str | None = None
    learned: str | None = None  # set when trust-on-first-use recorded a new pin (to be stored)

    def ssl_context(self) -> ssl.SSLContext:
        if self.mode == "ca":
            ctx = ssl.create_default_context(cafile=self.ca_bundle)
            ctx.check_hostname = False  # iDRACs are addressed by IP; their certificates rarely name it
            return ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the pin, not a CA, decides (see PinningBackend)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def check(self, endpoint: str, der: bytes) -> None:
        if self.mode != "pin":
            return
        presented = fingerprint(der)
        if self.pinned is None:
            self.pinned = self.learned = presented
        elif presented != self.pinned:
            raise CertificateChanged(endpoint, self.pinned, presented)


class _PinnedStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, check: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._check = check

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        ssl_object = tls.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            await tls.aclose()
            raise httpcore.ConnectError("no peer certificate presented")
        try:
            self._check(der)
        except CertificateChanged:
            await tls.aclose()
            raise
        return tls

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PinningBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, check: Callable[[bytes], None]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._check = check

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _PinnedStream(stream, self._check)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for iDRACs")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def make_transport(endpoint: str, policy: TlsPolicy, max_connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections are checked against ``policy`` before any request is sent."""
    ctx = policy.ssl_context()
    transport = httpx.AsyncHTTPTransport(
        verify=ctx,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=60
        ),
    )
    # httpx builds its httpcore pool privately; rebuild it with the same settings and our network backend,
    # the only place where the peer certificate can be seen before the first request goes out.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ctx,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=60,
        http1=True,
        http2=False,
        network_backend=PinningBackend(lambda der: policy.check(endpoint, der)),
    )
    return transport
