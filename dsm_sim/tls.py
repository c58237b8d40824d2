"""Self-signed certificates made at start, as each iDRAC ships its own.

EC P-256 keys keep a thousand of them fast to make (RSA-2048 would take a minute). Each iDRAC gets its
own certificate, so a client that pins fingerprints sees a different one per server, and a changed one
when the simulator is restarted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(common_name: str, addresses: list[str]) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dell Inc."),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Remote Access Group"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses] + [x509.DNSName(common_name)]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


class CertificateStore:
    """Writes certificates to a private temporary directory (ssl loads them only from files)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dsm-sim-tls-")
        os.chmod(self._dir.name, 0o700)

    def context(self, common_name: str, addresses: list[str]) -> ssl.SSLContext:
        cert, key = make_certificate(common_name, addresses)
        base = Path(self._dir.name) / common_name
        base.with_suffix(".crt").write_bytes(cert)
        base.with_suffix(".key").write_bytes(key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(base.with_suffix(".crt"), base.with_suffix(".key"))
        return ctx

    def close(self) -> None:
        self._dir.cleanup()
