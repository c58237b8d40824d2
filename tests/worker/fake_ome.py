"""A protocol-level OpenManage Enterprise test server, written from ../shared/REDFISH.md §5, over HTTPS on loopback.

What it does as OME does: API sessions (``SessionType: API``, ``X-Auth-Token``, DELETE of
``Sessions('<Id>')``), the device list in pages no larger than its own limit whatever ``$top`` asks, with
``@odata.count`` and a relative ``@odata.nextLink`` (or, in ``count_only`` mode, none: the client must page with
``$skip``), and a ``$filter`` that only matches when spaces come as ``%20`` — a ``+`` is taken literally and
matches nothing, silently, as on the appliance. What it can be told to do wrong: expire the session after some
requests, fail one page with a 500, hand out a next link to another host.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from dsm_sim.http import Request, Response, start_listener
from dsm_sim.tls import CertificateStore

DEVICES = "/api/DeviceService/Devices"


def device(device_id: int, tag: str | None, addresses: list[str], *, name: str | None = None,
           model: str = "PowerEdge R750", port: int = 443, device_type: int = 1000) -> dict[str, Any]:
    """One device as OME lists it: DeviceManagement entries of the iDRAC agent, one per address."""
    management = [{"NetworkAddress": a, "DnsName": f"iDRAC-{tag}", "MacAddress": "00:00:00:00:00:00",
                   "ManagementProfile": [{"AgentName": "iDRAC", "HasCreds": 0,
                                          "ManagementURL": f"https://{a if ':' not in a or a.startswith('[') else f'[{a}]'}:{port}/"}]}
                  for a in addresses]
    return {"Id": device_id, "Type": device_type, "Identifier": tag or "", "DeviceServiceTag": tag,
            "ChassisServiceTag": None, "Model": model, "DeviceName": name or f"srv-{device_id}",
            "PowerState": 17, "Status": 1000, "ConnectionState": True, "DeviceManagement": management}


@dataclass
class FakeOme:
    address: str
    port: int
    username: str = "admin"
    password: str = "calvin"
    devices: list[dict[str, Any]] = field(default_factory=list)
    page_limit: int = 4
    count_only: bool = False
    """No @odata.nextLink: only @odata.count, as some OME versions and reports answer."""
    expire_after: int = 0
    """A session stops working after this many authenticated requests (0: never)."""
    fail_page: int = 0
    """This page (1-based) of the device list answers 500 (0: none)."""
    foreign_next_link: bool = False
    tokens: dict[str, str] = field(default_factory=dict)
    uses: dict[str, int] = field(default_factory=dict)
    logins: int = 0
    logouts: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    """The raw query of every device-list request, as sent."""

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._certs = CertificateStore()

    def _error(self, status: int, message: str) -> Response:
        return Response(status, {"error": {"code": "Base.1.0.GeneralError", "message": message,
                                           "@Message.ExtendedInfo": [{"MessageId": "CGEN1004", "Message": message}]}})

    async def handle(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST" and path == "/api/SessionService/Sessions":
            body = request.json() or {}
            if body.get("SessionType") != "API":
                return self._error(400, "SessionType must be API")
            if body.get("UserName") != self.username or body.get("Password") != self.password:
                return self._error(401, "Unable to complete the operation because the user credentials are invalid")
            self.logins += 1
            sid = secrets.token_hex(8)
            token = secrets.token_hex(16)
            self.tokens[token], self.uses[token] = sid, 0
            return Response(201, {"@odata.id": f"/api/SessionService/Sessions('{sid}')", "Id": sid,
                                  "UserName": self.username}, [("X-Auth-Token", token)])
        token = request.headers.get("x-auth-token", "")
        if token not in self.tokens:
            return self._error(401, "authentication required")
        self.uses[token] += 1
        if self.expire_after and self.uses[token] > self.expire_after:
            del self.tokens[token]
            return self._error(401, "the session has expired")
        if request.method == "DELETE" and path.startswith("/api/SessionService/Sessions('"):
            sid = path[len("/api/SessionService/Sessions('"):].rstrip("')")
            for t, s in list(self.tokens.items()):
                if s == sid:
                    del self.tokens[t]
            self.logouts.append(sid)
            return Response(204)
        if request.method == "GET" and path == DEVICES:
            return self._devices(request)
        return self._error(404, f"{request.method} {path} is not served here")

    def _devices(self, request: Request) -> Response:
        self.pages.append(request.raw_query)
        raw = dict(part.split("=", 1) for part in request.raw_query.split("&") if "=" in part)
        raw = {unquote(k): v for k, v in raw.items()}
        # OME decodes %20 to a space but keeps "+" as it is: "Type+eq+1000" is no filter it knows, so nothing.
        wanted = unquote(raw.get("$filter", ""))
        if wanted and wanted != "Type eq 1000":
            matching: list[dict[str, Any]] = []
        else:
            matching = [d for d in self.devices if d["Type"] == 1000] if wanted else list(self.devices)
        skip = int(raw.get("$skip", "0") or 0)
        top = min(int(raw.get("$top", str(self.page_limit)) or self.page_limit), self.page_limit)
        page_number = skip // self.page_limit + 1
        if self.fail_page and page_number == self.fail_page:
            return self._error(500, "An internal error occurred")
        chunk = matching[skip:skip + top]
        body: dict[str, Any] = {"@odata.context": "/api/$metadata#Collection(DeviceService.Device)",
                                "@odata.count": len(matching), "value": chunk}
        if not self.count_only and skip + top < len(matching):
            link = f"/api/DeviceService/Devices?$skip={skip + top}&$top={top}&$filter=Type%20eq%201000"
            if self.foreign_next_link:
                link = f"https://127.0.0.99:{self.port}{link}"
            body["@odata.nextLink"] = link
        return Response(200, json.dumps(body).encode())

    def __enter__(self) -> FakeOme:
        self._thread.start()
        ctx = self._certs.context("ome", [self.address])
        asyncio.run_coroutine_threadsafe(start_listener(self.address, self.port, self.handle, ctx),
                                         self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._certs.close()
