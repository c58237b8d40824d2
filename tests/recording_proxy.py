"""A logging TLS proxy on a loopback address of the operator's choosing: "his iDRAC", standing in front of a
real (simulated) one so that the worker's whole conversation goes through and every byte it sends is kept.

It terminates TLS with a certificate of its own (a server DSM has never seen is pinned on first use, as a
real operator-added address would be), opens TLS to the upstream iDRAC and relays the plain bytes both
ways. ``received`` is everything the worker sent, decrypted: request lines, headers and bodies. A test
asserts that no secret appears in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
import threading
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dsm_sim.tls import CertificateStore


class RecordingProxy:
    """One asyncio loop in a thread (TLS in asyncio never reads and writes one SSL object from two threads)."""

    def __init__(self, address: str, upstream: str, server_context: ssl.SSLContext | None = None) -> None:
        self.address = address
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self._certs = CertificateStore()
        self._server_ctx = server_context or self._certs.context("his-idrac", [address])
        self._client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._client_ctx.check_hostname = False
        self._client_ctx.verify_mode = ssl.CERT_NONE
        self._received = bytearray()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0
        self.endpoint = ""

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    async def _pump(self, source: asyncio.StreamReader, target: asyncio.StreamWriter, record: bool) -> None:
        try:
            while chunk := await source.read(65536):
                if record:
                    with self._lock:
                        self._received += chunk
                target.write(chunk)
                await target.drain()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                target.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream, ssl=self._client_ctx)
        except (OSError, ssl.SSLError):
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer, True), self._pump(up_reader, writer, False))

    def __enter__(self) -> RecordingProxy:
        self._thread.start()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._serve, self.address, 0, ssl=self._server_ctx)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.endpoint = f"{self.address}:{self.port}"
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        server = self._server

        async def stop() -> None:
            if server is not None:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._certs.close()


def site_ca(directory: Path, address: str) -> tuple[ssl.SSLContext, Path]:
    """A site CA and a server certificate it signed for ``address``: (the server's TLS context, the CA's PEM
    file, for SSL_CERT_FILE). What a site whose iDRACs carry CA-issued certificates has."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DSM test site CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"idrac-{address}")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = directory / "site-ca.pem", directory / "idrac.pem", directory / "idrac.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, ca_file
