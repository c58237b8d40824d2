"""iDRAC operations on top of the client: capability detection, inventory, health, logs, power.

Capabilities are detected once per refresh and stored on the server row, so later jobs pick URIs by what
the iDRAC is (REDFISH.md §2.0) instead of trying paths until one answers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from dsm_core.redfish.client import IdracClient, RedfishError
from dsm_core.redfish.models import (
    FirmwareItem,
    LogEntryView,
    ManagerView,
    ServiceRootView,
    SystemView,
    dig,
    members,
)

SYSTEM = "/redfish/v1/Systems/System.Embedded.1"
MANAGER = "/redfish/v1/Managers/iDRAC.Embedded.1"
CHASSIS = "/redfish/v1/Chassis/System.Embedded.1"


def _version_at_least(version: str | None, minimum: str) -> bool:
    if not version:
        return False

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))

    return key(version) >= key(minimum)


@dataclass(frozen=True)
class Capabilities:
    generation: int | None
    firmware: str | None
    redfish_version: str | None
    sessions_path: str
    virtual_media_path: str
    scp_export: str | None
    scp_import: str | None
    scp_preview: str | None
    boot_patch: str
    sel_entries: str
    lclog_entries: str
    thermal: str  # "subsystem" or "legacy"
    boot_targets: list[str] = field(default_factory=list)
    """BootSourceOverrideTarget@Redfish.AllowableValues: what a one-time boot may name on this iDRAC."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Capabilities | None:
        if not data:
            return None
        kwargs: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        kwargs["boot_targets"] = [str(t) for t in kwargs.get("boot_targets") or []]
        try:
            return cls(**kwargs)
        except TypeError:
            return None


def sessions_path_for(redfish_version: str | None) -> str:
    """Dell's scripts log in at SessionService/Sessions from Redfish 1.6 and at /redfish/v1/Sessions before."""
    if redfish_version and not _version_at_least(redfish_version, "1.6.0"):
        return "/redfish/v1/Sessions"
    return "/redfish/v1/SessionService/Sessions"


def detect(root: ServiceRootView, manager: ManagerView, system: SystemView, chassis: dict[str, Any]) -> Capabilities:
    gen = manager.generation
    if system.virtual_media_link:
        media = system.virtual_media_link
    elif manager.virtual_media_link:
        media = manager.virtual_media_link
    else:
        media = f"{SYSTEM}/VirtualMedia" if (gen or 9) >= 10 else f"{MANAGER}/VirtualMedia"
    # Thermal/Power (deprecated, but with temperatures) while the iDRAC still has them; else the subsystems.
    thermal = "legacy" if "Thermal" in chassis else "subsystem"
    return Capabilities(
        generation=gen,
        firmware=manager.firmware_version,
        redfish_version=root.redfish_version,
        sessions_path=root.sessions_link or sessions_path_for(root.redfish_version),
        virtual_media_path=media,
        scp_export=manager.action("ExportSystemConfiguration"),
        scp_import=manager.action("ImportSystemConfiguration"),
        scp_preview=manager.action("ImportSystemConfigurationPreview"),
        boot_patch=f"{SYSTEM}/Settings" if (gen or 0) >= 10 else SYSTEM,
        sel_entries=f"{MANAGER}/LogServices/Sel/Entries",
        lclog_entries=f"{MANAGER}/LogServices/Lclog/Entries",
        thermal=thermal,
        boot_targets=system.boot.allowed_targets[:64],
    )


@dataclass(frozen=True)
class Identity:
    root: ServiceRootView
    manager: ManagerView
    system: SystemView
    capabilities: Capabilities


async def get_optional(client: IdracClient, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """A resource that some iDRACs do not have: {} on 404, instead of failing the whole read."""
    try:
        return await client.get(path, params)
    except RedfishError as exc:
        if exc.status == 404:
            return {}
        raise


def _expanded(value: Any, path: str) -> dict[str, Any] | None:
    """The resource at ``path`` if ``value`` (a link list from an expanded response) holds it inline."""
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, dict):
            continue
        ref = item.get("@odata.id")
        if isinstance(ref, str) and ref.rstrip("/") == path and len(item) > 2:
            return item
    return None


async def read_identity(client: IdracClient, root: ServiceRootView) -> Identity:
    """Manager, system and chassis: one request where the iDRAC expands Links (``~``), three otherwise
    (and for whichever the expansion left out, as a link only)."""
    system_data: dict[str, Any] | None = None
    chassis: dict[str, Any] | None = None
    if root.expand_links:
        try:
            manager_data = await client.get(MANAGER, {"$expand": "~($levels=1)"})
        except RedfishError as exc:
            if exc.status not in (400, 404, 405, 501):
                raise
            manager_data = await client.get(MANAGER)  # refused the query: read it plainly
        found = manager_data.get("Links")
        links: dict[str, Any] = found if isinstance(found, dict) else {}
        system_data = _expanded(links.get("ManagerForServers"), SYSTEM)
        chassis = _expanded(links.get("ManagerForChassis"), CHASSIS)
    else:
        manager_data = await client.get(MANAGER)
    manager = ManagerView.parse(manager_data)
    system = SystemView.parse(system_data if system_data is not None else await client.get(SYSTEM))
    if chassis is None:
        chassis = await get_optional(client, CHASSIS)
    return Identity(root, manager, system, detect(root, manager, system, chassis))


async def get_collection(client: IdracClient, path: str, expand: bool) -> dict[str, Any]:
    """A collection, its members inline where the iDRAC can expand (one request instead of one per member);
    an iDRAC that refuses the query gets it asked plainly (callers fetch members that did not come inline)."""
    if expand:
        try:
            return await client.get(path, {"$expand": "*($levels=1)"})
        except RedfishError as exc:
            if exc.status not in (400, 405, 501):
                raise
    return await client.get(path)


async def read_firmware(client: IdracClient, expand: bool = True) -> list[FirmwareItem]:
    collection = await get_collection(client, "/redfish/v1/UpdateService/FirmwareInventory", expand)
    items = members(collection)
    if items and "Version" not in items[0]:  # $expand not honoured (older firmware): one GET per member
        fetched = [await get_optional(client, m["@odata.id"]) for m in items if isinstance(m.get("@odata.id"), str)]
        items = [m for m in fetched if m]
    parsed = (FirmwareItem.parse(m) for m in items)
    return [i for i in parsed if i is not None]


async def _storage_controllers(client: IdracClient, expand: bool) -> list[dict[str, Any]] | None:
    """Every storage controller resource (inline where expanded, else one GET each); None without Storage."""
    try:
        collection = await get_collection(client, f"{SYSTEM}/Storage", expand)
    except RedfishError as exc:
        if exc.status == 404:
            return None
        raise
    out = []
    for ctrl in members(collection):
        if "Id" not in ctrl and isinstance(ctrl.get("@odata.id"), str):
            ctrl = await get_optional(client, ctrl["@odata.id"])  # not expanded: this iDRAC lists links only
        if ctrl:
            out.append(ctrl)
    return out


def _controller_health(ctrl: dict[str, Any]) -> Any:
    return dig(ctrl, "Status", "HealthRollup") or dig(ctrl, "Status", "Health")


async def read_storage_summary(client: IdracClient, expand: bool) -> dict[str, Any]:
    """Controllers, their health rollup (which covers their drives) and drive counts: what a refresh keeps.
    Each drive's own reading is the health check's (``read_storage``)."""
    found = await _storage_controllers(client, expand)
    if found is None:
        return {"controllers": [], "drives": None, "health": None}
    controllers, worst = [], "OK"
    for ctrl in found:
        drives = ctrl.get("Drives@odata.count")
        if not isinstance(drives, int):
            drives = len(ctrl["Drives"]) if isinstance(ctrl.get("Drives"), list) else None
        health = _controller_health(ctrl)
        controllers.append({"id": ctrl.get("Id"), "name": ctrl.get("Name"), "health": health, "drives": drives})
        worst = _worse(worst, health)
    return {"controllers": controllers, "drives": None, "health": worst if controllers else None}


async def read_storage(client: IdracClient) -> dict[str, Any]:
    """Controllers and drives with their health: what the health check reads."""
    found = await _storage_controllers(client, expand=True)
    if found is None:
        return {"controllers": [], "drives": [], "health": None}
    controllers, drives, worst = [], [], "OK"
    for ctrl in found:
        controllers.append({"id": ctrl.get("Id"), "name": ctrl.get("Name"), "health": _controller_health(ctrl)})
        for ref in ctrl.get("Drives") or []:
            if isinstance(ref, dict) and isinstance(ref.get("@odata.id"), str):
                drive = await get_optional(client, ref["@odata.id"])
                if not drive:
                    continue  # listed but not served (seen in captures); the controller's rollup still counts
                health = dig(drive, "Status", "Health")
                drives.append(
                    {
                        "id": drive.get("Id"),
                        "name": drive.get("Name"),
                        "health": health,
                        "capacity_bytes": drive.get("CapacityBytes"),
                        "media": drive.get("MediaType"),
                    }
                )
                worst = _worse(worst, health)
        worst = _worse(worst, controllers[-1]["health"])
    return {"controllers": controllers, "drives": drives, "health": worst if controllers else None}


_RANK = {"OK": 0, "Warning": 1, "Critical": 2}


def _worse(a: str | None, b: str | None) -> str:
    a, b = a or "OK", b or "OK"
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


@dataclass(frozen=True)
class HealthReading:
    overall: str | None
    power_state: str | None
    cpu: str | None
    memory: str | None
    storage: str | None
    fans: str | None
    psu: str | None
    network: str | None
    temperature_celsius: float | None
    sensors: dict[str, Any]


async def read_health(client: IdracClient, caps: Capabilities | None) -> HealthReading:
    system = SystemView.parse(await client.get(SYSTEM))
    fans: list[dict[str, Any]] = []
    temps: list[dict[str, Any]] = []
    psus: list[dict[str, Any]] = []
    chassis = await get_optional(client, CHASSIS)
    if "Thermal" in chassis:
        thermal = await get_optional(client, f"{CHASSIS}/Thermal")
        fans = [
            {"name": f.get("Name"), "rpm": f.get("Reading"), "health": dig(f, "Status", "Health")}
            for f in thermal.get("Fans") or []
            if isinstance(f, dict)
        ]
        temps = [
            {
                "name": t.get("Name"),
                "celsius": t.get("ReadingCelsius"),
                "health": dig(t, "Status", "Health"),
                "context": t.get("PhysicalContext"),
            }
            for t in thermal.get("Temperatures") or []
            if isinstance(t, dict)
        ]
        power = await get_optional(client, f"{CHASSIS}/Power")
        psus = [
            {"name": p.get("Name"), "health": dig(p, "Status", "Health"), "watts": p.get("PowerOutputWatts")}
            for p in power.get("PowerSupplies") or []
            if isinstance(p, dict)
        ]
    elif "ThermalSubsystem" in chassis:
        expand = {"$expand": "*($levels=1)"}
        for ref in members(await get_optional(client, f"{CHASSIS}/ThermalSubsystem/Fans", expand)):
            fan = ref if "Status" in ref else await get_optional(client, ref["@odata.id"])
            if not fan:
                continue
            fans.append(
                {
                    "name": fan.get("Name"),
                    "rpm": dig(fan, "SpeedPercent", "SpeedRPM"),
                    "health": dig(fan, "Status", "Health"),
                }
            )
        supplies = await get_optional(client, f"{CHASSIS}/PowerSubsystem/PowerSupplies", expand)
        for ref in members(supplies):
            psu = ref if "Status" in ref else await get_optional(client, ref["@odata.id"])
            if not psu:
                continue
            psus.append({"name": psu.get("Name"), "health": dig(psu, "Status", "Health")})
    storage = await read_storage(client)

    def worst(items: list[dict[str, Any]]) -> str | None:
        return _worse_all([i.get("health") for i in items]) if items else None

    inlet = next((t["celsius"] for t in temps if t.get("context") == "Intake"), None)
    if inlet is None and temps:
        inlet = temps[0].get("celsius")
    rollups = system.rollups
    return HealthReading(
        overall=system.health_rollup or system.health,
        power_state=system.power_state,
        cpu=rollups.get("CPU"),
        memory=system.memory_health,
        storage=storage["health"] or rollups.get("Storage"),
        fans=worst(fans) or rollups.get("Fan"),
        psu=worst(psus) or rollups.get("PS"),
        network=rollups.get("Network"),
        temperature_celsius=float(inlet) if isinstance(inlet, int | float) else None,
        sensors={"fans": fans, "temperatures": temps, "power_supplies": psus, "storage": storage, "rollups": rollups},
    )


def _worse_all(values: list[Any]) -> str:
    worst = "OK"
    for v in values:
        worst = _worse(worst, v if isinstance(v, str) else None)
    return worst


async def read_log(client: IdracClient, path: str, since: datetime | None, max_entries: int) -> list[LogEntryView]:
    """Entries newer than ``since`` (newest first as iDRACs list them), following nextLink pages."""
    params: dict[str, str] | None = None
    if since is not None:
        params = {"$filter": f"Created ge '{since.isoformat(timespec='seconds')}'"}
    out: list[LogEntryView] = []
    url: str | None = path
    first = True
    while url and len(out) < max_entries:
        try:
            page = await client.get(url, params if first else None)
        except RedfishError as exc:
            if first and params and exc.status == 400:  # firmware without $filter on logs: read all, filter here
                params, first = None, True
                continue
            if not first and exc.status == 400:  # "$skip is out of range": the end
                break
            raise
        first = False
        for item in members(page):
            entry = LogEntryView.parse(item)
            if entry is not None and (since is None or entry.created is None or entry.created >= since):
                out.append(entry)
        next_link = page.get("Members@odata.nextLink")
        url = next_link if isinstance(next_link, str) else None
    return out[:max_entries]


async def power_state(client: IdracClient) -> str | None:
    return SystemView.parse(await client.get(SYSTEM, {"$select": "PowerState"})).power_state


async def reset(client: IdracClient, reset_type: str) -> None:
    await client.post(f"{SYSTEM}/Actions/ComputerSystem.Reset", {"ResetType": reset_type})


@dataclass(frozen=True)
class PowerMark:
    """What tells one boot from the next: a restart is done only when one of these moved, never because
    the server "is On" (it was On before the restart too)."""

    power_state: str | None
    last_reset: str | None
    """ComputerSystem.LastResetTime, as the iDRAC wrote it (compared, never parsed into our clock)."""
    boot_state: str | None
    """BootProgress.LastState (iDRAC 9 4.x and later): OSRunning, then POST states while it boots again."""

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PowerMark:
        return cls(*(data.get(k) if isinstance(data.get(k), str) else None
                     for k in ("power_state", "last_reset", "boot_state")))


async def power_mark(client: IdracClient) -> PowerMark:
    body = await client.get(SYSTEM, {"$select": "PowerState,LastResetTime,BootProgress"})
    reset = body.get("LastResetTime")
    boot = dig(body, "BootProgress", "LastState")
    return PowerMark(
        SystemView.parse(body).power_state,
        reset if isinstance(reset, str) and reset.strip() else None,
        boot if isinstance(boot, str) and boot.strip() else None,
    )


async def wait_restarted(
    client: IdracClient, before: PowerMark, timeout: float, interval: float = 2.0
) -> str | None:
    """Poll until the server has gone down and come back; the evidence, or None at the deadline.

    Evidence, any one of: the power state seen leaving On and coming back; LastResetTime changed; the boot
    progress seen leaving its state before the reset, with the power On now. A ForceRestart can be too quick
    to see Off between two polls, which is why the other two count when the iDRAC offers them."""
    deadline = time.monotonic() + timeout
    went_down = before.power_state not in ("On", None)
    boot_moved = False
    while True:
        now = await power_mark(client)
        if now.power_state not in ("On", None):
            went_down = True
        if now.boot_state is not None and before.boot_state is not None and now.boot_state != before.boot_state:
            boot_moved = True
        if now.power_state == "On":
            if went_down:
                return "power went Off and came back On"
            if now.last_reset is not None and before.last_reset is not None and now.last_reset != before.last_reset:
                return f"LastResetTime moved from {before.last_reset} to {now.last_reset}"
            if boot_moved and now.boot_state == before.boot_state:
                return f"boot progress left {before.boot_state} and came back to it"
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(interval)


async def wait_power(client: IdracClient, wanted: str, timeout: float, interval: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if await power_state(client) == wanted:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
