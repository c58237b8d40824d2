"""A hostile iDRAC over HTTPS, and a trap on another loopback address that must never be reached.

The hostile iDRAC answers like a Dell iDRAC 9 but hands back links to another host (``@odata.id``,
``Members``, ``nextLink``, the session ``Location``), can refuse sessions with RAC0218 so that a client falls
back to basic auth (the password would then travel with every request it follows), and can answer with a
gzip bomb, an endless stream, or text full of terminal escapes and Rich markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from dsm_sim.http import _read_request
from dsm_sim.tls import CertificateStore

TRAP_ADDRESS = "127.0.50.2"
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\[link=http://evil]x[/link]\x9b31m"


@dataclass
class Behaviour:
    refuse_sessions: bool = False  # 503 RAC0218: clients fall back to basic auth
    offhost_links: bool = True
    offhost_session_location: bool = True
    model: str = "PowerEdge R750"
    system_body: str = "json"  # "json", "gzip_bomb", "endless"
    bomb_megabytes: int = 200
    hang_delete: bool = False  # accept a DELETE (a logout) and never answer it
    duplicate_firmware: bool = False  # the same inventory id twice, with different versions
    firmware_ok: bool = False  # a plain expanded FirmwareInventory (one BIOS), for the update tests
    offhost_update_location: bool = False  # SimpleUpdate answers 202 with a task monitor on another host
    scp_profile: str = ""  # an export's profile as served: "doctype" (entity expansion), "huge" (over the cap)
    offhost_media: bool = False  # virtual media whose InsertMedia target is on another host


@dataclass
class Trap:
    """Listeners on TRAP_ADDRESS (TLS-less: any connection at all is counted, before a byte is read)."""

    ports: tuple[int, ...] = (8443, 8080, 9443)
    connections: list[tuple[int, str]] = field(default_factory=list)


def _root() -> dict[str, object]:
    return {
        "@odata.id": "/redfish/v1",
        "RedfishVersion": "1.17.0",
        "Vendor": "Dell",
        "Product": "Integrated Dell Remote Access Controller",
        "Oem": {"Dell": {"ServiceTag": "HOST1LE", "ManagerMACAddress": "aa:bb:cc:dd:ee:ff"}},
        "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}},
        "Systems": {"@odata.id": "/redfish/v1/Systems"},
        "ProtocolFeaturesSupported": {"ExpandQuery": {"Levels": True, "MaxLevels": 1, "Links": True,
                                                      "NoLinks": True, "ExpandAll": True}},
    }


class HostileIdrac:
    def __init__(self, address: str, port: int, behaviour: Behaviour) -> None:
        self.address, self.port, self.behaviour = address, port, behaviour
        self.trap = Trap()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.tokens: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._certs = CertificateStore()
        self._servers: list[asyncio.Server] = []

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    def off(self, path: str, scheme: str = "https", port: int = 8443) -> str:
        return f"{scheme}://{TRAP_ADDRESS}:{port}{path}" if self.behaviour.offhost_links else path

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], object]:
        b = self.behaviour
        if method == "POST" and path.endswith("/Sessions"):
            if b.refuse_sessions:
                return 503, [], {"error": {"@Message.ExtendedInfo": [
                    {"MessageId": "IDRAC.2.8.RAC0218", "Message": "The maximum number of user sessions is reached."}]}}
            token = secrets.token_hex(16)
            self.tokens.add(token)
            location = (f"https://{TRAP_ADDRESS}:8443/redfish/v1/SessionService/Sessions/7"
                        if b.offhost_session_location else "/redfish/v1/SessionService/Sessions/7")
            return 201, [("X-Auth-Token", token), ("Location", location)], {"Id": "7", "@odata.id": location}
        if method == "DELETE":
            return 204, [], None
        if path == "/redfish/v1":
            return 200, [], _root()
        authorised = headers.get("x-auth-token") in self.tokens or headers.get("authorization", "").startswith("Basic")
        if not authorised:
            return 401, [], {"error": {"message": "auth"}}
        if path == "/redfish/v1/Managers/iDRAC.Embedded.1" and (b.scp_profile or b.offhost_media):
            return 200, [], {"@odata.id": path, "Model": "15G Monolithic", "FirmwareVersion": "6.10.00.00",
                             "Actions": {"Oem": {"#OemManager.v1_4_0.OemManager#OemManager.ExportSystemConfiguration":
                                                 {"target": f"{path}/Actions/Oem/EID_674_Manager.Export"}}},
                             "VirtualMedia": {"@odata.id": "/redfish/v1/Systems/System.Embedded.1/VirtualMedia"}}
        if method == "POST" and path.endswith("/EID_674_Manager.Export"):
            return 202, [("Location", "/redfish/v1/TaskService/Tasks/JID_000000000002")], None
        if path.endswith("/Jobs/JID_000000000002"):
            return 200, [], {"Id": "JID_000000000002", "JobState": "Completed", "PercentComplete": 100,
                             "Message": "Successfully exported Server Configuration Profile", "MessageId": "SYS043"}
        if path == "/redfish/v1/Systems/System.Embedded.1/VirtualMedia" and b.offhost_media:
            return 200, [], {"Members": [{"@odata.id": f"{path}/1", "Id": "1", "MediaTypes": ["CD", "DVD"],
                                          "Inserted": False, "Actions": {"#VirtualMedia.InsertMedia": {
                                              "target": self.off(f"{path}/1/Actions/VirtualMedia.InsertMedia")}}}]}
        if path == "/redfish/v1/Managers/iDRAC.Embedded.1":
            return 200, [], {"@odata.id": path, "Model": "17G Monolithic", "FirmwareVersion": "7.00.00.00",
                             "Actions": {"Oem": {"#OemManager.ExportSystemConfiguration": {
                                 "target": self.off("/redfish/v1/steal/scp")}}},
                             "VirtualMedia": {"@odata.id": self.off("/redfish/v1/steal/vm")}}
        if path == "/redfish/v1/Systems/System.Embedded.1":
            return 200, [], {"@odata.id": path, "Model": b.model, "Manufacturer": "Dell Inc.", "SKU": "HOST1LE",
                             "SerialNumber": ESCAPES, "HostName": "esx" + ESCAPES, "PowerState": "On",
                             "BiosVersion": "2.1.0", "Status": {"Health": "OK", "HealthRollup": "OK"},
                             "Storage": {"@odata.id": self.off("/redfish/v1/Systems/System.Embedded.1/Storage")}}
        if path == "/redfish/v1/UpdateService":
            return 200, [], {"@odata.id": path, "MultipartHttpPushUri": self.off("/redfish/v1/steal/push"),
                             "Actions": {"#UpdateService.SimpleUpdate": {
                                 "target": self.off("/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate")}}}
        if method == "POST" and path.endswith("/UpdateService.SimpleUpdate"):
            where = (f"https://{TRAP_ADDRESS}:8443/redfish/v1/TaskService/Tasks/JID_000000000001"
                     if b.offhost_update_location else "/redfish/v1/TaskService/Tasks/JID_000000000001")
            return 202, [("Location", where)], None
        if path.endswith("/Jobs/JID_000000000001"):
            return 200, [], {"Id": "JID_000000000001", "JobState": "Completed", "PercentComplete": 100,
                             "Message": "Job completed successfully.", "MessageId": "RED001"}
        if path.endswith("/FirmwareInventory") and b.firmware_ok:
            item = {"@odata.id": f"{path}/Installed-159-1.0__BIOS.Setup.1-1", "Id": "Installed-159-1.0__BIOS.Setup.1-1",
                    "Name": "BIOS", "Version": "1.0.0", "Updateable": True, "SoftwareId": "159"}
            return 200, [], {"Members": [item], "Members@odata.count": 1}
        if path.endswith("/FirmwareInventory") and b.duplicate_firmware:
            item = {"@odata.id": f"{path}/Installed-159-1.0", "Id": "Installed-159-1.0", "Name": "BIOS",
                    "Version": "1.0.0", "Updateable": True, "SoftwareId": "159"}
            return 200, [], {"Members": [item, {**item, "Version": "2.0.0"}], "Members@odata.count": 2}
        if path.endswith("/FirmwareInventory"):
            return 200, [], {"Members": [{"@odata.id": self.off("/redfish/v1/steal/fw1")},
                                         {"@odata.id": self.off("/redfish/v1/steal/fw2", "http", 8080)}],
                             "Members@odata.count": 2,
                             "Members@odata.nextLink": self.off("/redfish/v1/steal/next")}
        if path.endswith("/Storage"):
            return 200, [], {"Members": [{"@odata.id": self.off("/redfish/v1/steal/storage", port=9443)}]}
        if "/LogServices/" in path:
            return 200, [], {"Members": [], "Members@odata.nextLink": self.off("/redfish/v1/steal/log")}
        if path == "/redfish/v1/Chassis/System.Embedded.1":
            return 200, [], {"@odata.id": path, "Thermal": {"@odata.id": self.off("/redfish/v1/steal/thermal")},
                             "Power": {"@odata.id": self.off("/redfish/v1/steal/power", "http", 9443)}}
        return 404, [], {"error": {"message": f"{path} not here"}}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await _read_request(conn, reader, "client")
                if request is None:
                    return
                self.requests.append((request.method, request.path, request.headers))
                if request.method == "DELETE" and self.behaviour.hang_delete:
                    await asyncio.sleep(3600)
                status, headers, body = self.answer(request.method, request.path.rstrip("/") or "/",
                                                    request.headers)
                if request.path == "/redfish/v1/TaskService/Tasks/JID_000000000002" and self.behaviour.scp_profile:
                    await self._profile(writer, self.behaviour.scp_profile)
                    return
                special = self.behaviour.system_body
                if request.path.rstrip("/") == "/redfish/v1/Systems/System.Embedded.1" and special != "json":
                    await self._raw(writer, special)
                    return
                data = b"" if body is None else json.dumps(body).encode()
                head = [("content-type", "application/json"), ("content-length", str(len(data))), *headers]
                out = conn.send(h11.Response(status_code=status, headers=head)) or b""
                out += (conn.send(h11.Data(data=data)) if data else b"") or b""
                out += conn.send(h11.EndOfMessage()) or b""
                writer.write(out)
                await writer.drain()
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, h11.LocalProtocolError, ConnectionError, OSError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _profile(self, writer: asyncio.StreamWriter, kind: str) -> None:
        """An exported profile as a hostile iDRAC might serve it: a billion-laughs DOCTYPE, or 40 MB of it."""
        if kind == "doctype":
            lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
            body = (f'<?xml version="1.0"?><!DOCTYPE SystemConfiguration [{lol}]><SystemConfiguration>'
                    '<Component FQDD="BIOS.Setup.1-1"><Attribute Name="x">&l9;</Attribute></Component>'
                    "</SystemConfiguration>").encode()
        else:
            body = b"<SystemConfiguration>" + b"<!-- padding -->" * (40 << 16) + b"</SystemConfiguration>"
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\n"
                     + f"content-length: {len(body)}\r\n\r\n".encode() + body)
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()

    async def _raw(self, writer: asyncio.StreamWriter, kind: str) -> None:
        if kind == "gzip_bomb":
            bomb = gzip.compress(b'{"Model": "' + b" " * (self.behaviour.bomb_megabytes << 20) + b'"}', 9)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
                         + f"content-length: {len(bomb)}\r\n\r\n".encode() + bomb)
            await writer.drain()
            return
        # endless: chunked, a megabyte a chunk, until the client hangs up
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        chunk = b" " * (1 << 20)
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(b'100000\r\n{"Model": "' + chunk[11:] + b"\r\n")
            for _ in range(100_000):  # bounded: 100 GB would take far longer than any test
                writer.write(b"100000\r\n" + chunk + b"\r\n")
                await writer.drain()
                if writer.is_closing():
                    return

    async def _trap(self, port: int) -> asyncio.Server:
        async def caught(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.trap.connections.append((port, "connection"))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.read(65536), 2)
                writer.close()

        return await asyncio.start_server(caught, TRAP_ADDRESS, port, reuse_address=True)

    def __enter__(self) -> HostileIdrac:
        self._thread.start()
        ctx = self._certs.context("hostile", [self.address])

        async def start() -> None:
            self._servers.append(await asyncio.start_server(self._serve, self.address, self.port, ssl=ctx,
                                                            reuse_address=True))
            for port in self.trap.ports:
                self._servers.append(await self._trap(port))

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()

        stopped = False
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
            stopped = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(60)  # a step that does not yield (compressing a gzip bomb) ends in seconds, not minutes
        if not stopped and not self._thread.is_alive():
            # The loop, busy serving an endless body, did not run stop() in time; it has stopped now, so run
            # stop() on it from here and the listening sockets close through their owners (the next test can
            # bind the same address at once). Never os.close() a descriptor a socket object still owns: when
            # that object is collected it closes the same number again, by then another file's (a SQLite
            # database's, in a later test: "disk I/O error").
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.wait_for(stop(), 5))
        self._certs.close()


def run_until(predicate: Callable[[], bool], timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()
