"""OpenManage Enterprise REST, as much as DSM needs: an API session, the server list over every page, logout.

The appliance is outside data like any iDRAC (DESIGN.md §3): the client is the iDRAC client's transport — one
origin, capped bodies, TLS pinning, retries that never repeat a change, every call in the activity log — with
OME's session (``SessionType: API``) and paths. Listing goes on until the appliance's own count is reached: the
known failure of other tools is stopping silently at the first page, and a page that fails fails the listing, it
is never taken for the end of it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from dsm_core.credentials.secret import Secret
from dsm_core.redfish.client import CallRecord, ClientSettings, IdracClient, RedfishError, Throttle
from dsm_core.redfish.tls import TlsPolicy

API = "/api"
SESSIONS = "/api/SessionService/Sessions"
DEVICES = "/api/DeviceService/Devices"
SERVER_TYPE = 1000
PAGE = 100
MAX_PAGES = 10_000
TEXT_CAP = 255


class OmeError(Exception):
    """The appliance could not be read as DSM needs it; the message says what and where."""


def query(**params: str | int) -> str:
    """``$filter=Type eq 1000`` as OME understands it: spaces as ``%20`` (a ``+`` is taken literally by OME)."""
    return "&".join(f"${k}={quote(str(v), safe='')}" for k, v in params.items())


def next_path(link: str) -> str:
    """An ``@odata.nextLink`` as a path under /api: OME hands back "/api/…", "…/api/…" or a path relative to the
    API root ("DeviceService/Devices?$skip=…"). Anything else is resolved (and refused if off origin) by the
    client."""
    if link.startswith(("http://", "https://", "//")):
        return link  # the client refuses it unless it is this appliance's own origin
    if link.startswith(API + "/") or link == API:
        return link
    if "/api/" in link:
        return link[link.index("/api/"):]
    return f"{API}/{link.lstrip('/')}"


@dataclass
class OmeClient:
    host: str
    port: int
    username: str
    password: Secret
    tls: TlsPolicy
    settings: ClientSettings
    recorder: Callable[[CallRecord], None] | None = None
    _client: IdracClient | None = None

    @property
    def endpoint(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def _http(self) -> IdracClient:
        if self._client is None:
            outer = self.recorder

            def record(call: CallRecord) -> None:
                if outer is not None:
                    outer(dataclasses.replace(call, operation_type="openmanage_api"))

            self._client = IdracClient(self.endpoint, self.username, self.password, self.tls, Throttle(4, 4),
                                       self.settings, record, None, SESSIONS, {"SessionType": "API"})
        return self._client

    async def login(self) -> None:
        await self._http().login()

    async def get(self, path: str) -> dict[str, Any]:
        try:
            return await self._http().get(path)
        except RedfishError as exc:
            raise OmeError(f"OpenManage {self.endpoint}: {exc}") from None

    async def servers(self, page: int = PAGE) -> AsyncIterator[dict[str, Any]]:
        """Every server device, page after page, until the appliance's count; fails rather than stops short."""
        path: str | None = f"{DEVICES}?{query(filter=f'Type eq {SERVER_TYPE}', top=page)}"
        seen, total, pages, visited = 0, None, 0, set()
        while path is not None:
            pages += 1
            if pages > MAX_PAGES or path in visited:
                raise OmeError(f"OpenManage {self.endpoint}: the device list does not end (page {pages}, {path})")
            visited.add(path)
            body = await self.get(path)
            values = body.get("value")
            if not isinstance(values, list):
                raise OmeError(f"OpenManage {self.endpoint}: page {pages} of the device list has no value list")
            count = body.get("@odata.count")
            if isinstance(count, int) and not isinstance(count, bool):
                total = count
            for device in values:
                if isinstance(device, dict):
                    yield device
            seen += len(values)
            link = body.get("@odata.nextLink")
            if isinstance(link, str) and link:
                path = next_path(link)
            elif total is not None and seen < total and values:
                # No link but more to come: OME's $top/$skip paging.
                path = f"{DEVICES}?{query(filter=f'Type eq {SERVER_TYPE}', top=page, skip=seen)}"
            else:
                path = None
        if total is not None and seen < total:
            raise OmeError(f"OpenManage {self.endpoint} counts {total} server(s) but listed only {seen}")

    async def close(self) -> bool:
        if self._client is None:
            return True
        return await self._client.close()


@dataclass(frozen=True)
class OmeServer:
    """What DSM keeps of one OME device: enough to create or update the server by service tag."""

    device_id: str
    service_tag: str | None
    address: str | None
    port: int
    name: str | None
    model: str | None
    problem: str | None = None
    """Why the device cannot be imported (no service tag, no iDRAC address): reported, never guessed."""


def _text(value: Any, cap: int = TEXT_CAP) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:cap] if value else None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = text.strip()
    if candidate.startswith("[") and "]" in candidate:
        candidate = candidate[1:candidate.index("]")]
    try:
        return ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return None


def _port(url: Any) -> int | None:
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> str | None:
    """Why an address an outside source names is not one DSM may send to: unspecified, multicast, broadcast
    (and the rest of 240/4), link-local (it needs an interface DSM cannot know), or loopback (the worker's own
    host; accepted only where an admin set network.allow_loopback_devices for a lab or simulator)."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.version == 4 and (address.is_reserved or int(address) == 0xFFFFFFFF):
        return "broadcast or reserved"
    if address.is_link_local:
        return "link-local"
    if address.is_loopback and not allow_loopback:
        return "loopback (network.allow_loopback_devices is off)"
    return None


def parse_device(device: dict[str, Any], allow_loopback: bool = False) -> OmeServer:
    """One device of the list as a server: its iDRAC address from DeviceManagement (the iDRAC agent's entries
    first, IPv4 preferred over IPv6), its port from the management URL (443 otherwise). Addresses DSM never
    sends to (``refused_address``) are passed over, and named when nothing else is left."""
    device_id = str(device.get("Id", ""))[:64]
    tag = _text(device.get("DeviceServiceTag"), 32)
    name = _text(device.get("DeviceName"))
    model = _text(device.get("Model"), 100)
    entries = [e for e in device.get("DeviceManagement") or [] if isinstance(e, dict)]

    def is_idrac(entry: dict[str, Any]) -> bool:
        profiles = [p for p in entry.get("ManagementProfile") or [] if isinstance(p, dict)]
        return any(str(p.get("AgentName", "")).lower() == "idrac" for p in profiles)

    found: list[tuple[tuple[int, int], ipaddress.IPv4Address | ipaddress.IPv6Address, int | None]] = []
    refused: list[str] = []
    for entry in entries:
        address = _address(str(entry.get("NetworkAddress") or ""))
        if address is None:
            continue
        why = refused_address(address, allow_loopback)
        if why is not None:
            refused.append(f"{address} ({why})")
            continue
        profiles = [p for p in entry.get("ManagementProfile") or [] if isinstance(p, dict)]
        port = next((p for p in (_port(x.get("ManagementURL")) for x in profiles) if p), None)
        found.append(((0 if is_idrac(entry) else 1, 0 if address.version == 4 else 1), address, port))
    if not tag:
        return OmeServer(device_id, None, None, 443, name, model, "no service tag")
    if not found and refused:
        return OmeServer(device_id, tag, None, 443, name, model,
                         "only addresses DSM refuses from an outside source: " + ", ".join(refused[:4]))
    if not found:
        return OmeServer(device_id, tag, None, 443, name, model, "no iDRAC address in DeviceManagement")
    found.sort(key=lambda f: f[0])  # the iDRAC agent's entries first, IPv4 before IPv6, else in the appliance's order
    _, address, port = found[0]
    return OmeServer(device_id, tag, str(address), port or 443, name, model)
