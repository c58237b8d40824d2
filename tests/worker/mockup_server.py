"""Serve a Redfish-Mockup-Creator capture read-only over HTTPS, as ../shared/testbeds/README.md describes:
GET → the path's index.json (query options ignored, as a capture cannot honour them); POST to the sessions
collection → 201 with X-Auth-Token and Location; DELETE of a session → 204; everything else 405."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
from pathlib import Path

from dsm_sim.http import Request, Response, start_listener
from dsm_sim.tls import CertificateStore


class MockupServer:
    def __init__(self, root: Path, address: str, port: int, username: str = "root", password: str = "calvin") -> None:
        self.root, self.address, self.port = root, address, port
        self.username, self.password = username, password
        self.tokens: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._certs = CertificateStore()

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    def _authorized(self, request: Request) -> bool:
        if request.headers.get("x-auth-token") in self.tokens:
            return True
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            return base64.b64decode(auth[6:]).decode() == f"{self.username}:{self.password}"
        return False

    async def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        self.requests.append((request.method, path))
        if request.method == "POST" and path == "/redfish/v1/SessionService/Sessions":
            body = json.loads(request.body or b"{}")
            if body.get("UserName") != self.username or body.get("Password") != self.password:
                return Response(401, {"error": {"message": "bad credentials"}})
            sid = str(len(self.tokens) + 300)
            token = secrets.token_hex(16)
            self.tokens[token] = sid
            return Response(
                201, {"Id": sid}, [("X-Auth-Token", token), ("Location", f"/redfish/v1/SessionService/Sessions/{sid}")]
            )
        if request.method == "DELETE" and path.startswith("/redfish/v1/SessionService/Sessions/"):
            sid = path.rsplit("/", 1)[-1]
            for token, s in list(self.tokens.items()):
                if s == sid:
                    del self.tokens[token]
            return Response(204)
        if request.method != "GET":
            return Response(405, {"error": {"message": "read-only capture"}})
        if path != "/redfish/v1" and not self._authorized(request):
            return Response(401, {"error": {"message": "authentication required"}})
        file = self.root / path.lstrip("/") / "index.json"
        if not file.is_file() or ".." in path:
            return Response(404, {"error": {"message": f"{path} is not in the capture"}})
        return Response(200, file.read_bytes())

    def __enter__(self) -> MockupServer:
        self._thread.start()
        ctx = self._certs.context("idrac-capture", [self.address])
        asyncio.run_coroutine_threadsafe(start_listener(self.address, self.port, self.handle, ctx), self._loop).result(
            10
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._certs.close()
