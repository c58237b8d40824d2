"""A hostile vCenter: an endless answer, an entity bomb in its version list, escape sequences in its names.

The client must refuse what is too large without reading it all, never expand entities, and hand names on as text
(made visible where shown). The server here is a small HTTPS server on 127.0.0.1 speaking just enough of vSphere's
SOAP to be believed.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dsm_core.credentials.secret import Secret
from dsm_core.redfish.tls import TlsPolicy
from dsm_core.text import visible
from dsm_core.vcenter.model import VcenterError
from dsm_core.vcenter.pyvmomi_client import MAX_BODY_BYTES, connect
from dsm_sim.tls import CertificateStore

BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
                   for i in range(1, 10))
        + b']><namespaces version="1.0"><namespace><name>urn:vim25</name><version>&lol9;</version>'
          b"</namespace></namespaces>")


class _Hostile(BaseHTTPRequestHandler):
    mode = "endless"
    posts = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = BOMB if self.mode == "bomb" else (b'<namespaces version="1.0"><namespace><name>urn:vim25</name>'
                                                 b"<version>8.0.2.0</version></namespace></namespaces>")
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        type(self).posts += 1
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.end_headers()
        chunk = b"<x>" + b"A" * (1024 * 1024) + b"</x>"
        try:  # an answer without end: the client must stop reading, not the server stop writing
            self.wfile.write(b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/'
                             b'soap/envelope/"><soapenv:Body><RetrieveServiceContentResponse xmlns="urn:vim25">')
            for _ in range(MAX_BODY_BYTES // len(chunk) + 16):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


@pytest.fixture
def hostile() -> Iterator[tuple[str, int, type[_Hostile]]]:
    certs = CertificateStore()
    handler = type("Handler", (_Hostile,), {"posts": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = certs.context("vcenter", ["127.0.0.1"]).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()
        certs.close()


def test_an_endless_answer_is_refused_at_the_cap(hostile: tuple[str, int, type[_Hostile]]) -> None:
    host, port, handler = hostile
    with pytest.raises(VcenterError) as refused:
        connect(host, port, "administrator@vsphere.local", Secret("s3cret-canary"), TlsPolicy("pin"), timeout=30)
    assert "exceeded" in str(refused.value) and "s3cret-canary" not in str(refused.value)
    assert handler.posts == 1  # refused at the first answer: the login (with the password) was never sent


def test_an_entity_bomb_in_the_version_list_is_not_expanded(hostile: tuple[str, int, type[_Hostile]]) -> None:
    from dsm_core.vcenter.pyvmomi_client import FALLBACK_VERSION, negotiate_version

    host, port, handler = hostile
    handler.mode = "bomb"
    policy = TlsPolicy("pin")
    assert negotiate_version(host, port, policy.ssl_context(), policy, 10) == FALLBACK_VERSION
    assert policy.learned  # the certificate was pinned on first use before anything was read


def test_names_from_a_vcenter_are_kept_as_text_and_shown_visible() -> None:
    from dsm_core.vcenter.model import clean_name

    name = clean_name("esx\x1b]52;c;ZXZpbA==\x07-01" + "x" * 400)
    assert len(name) == 255 and "\x1b" in name  # stored as it came, capped
    assert "\x1b" not in visible(name) and "\x07" not in visible(name)  # never reaches a terminal raw
