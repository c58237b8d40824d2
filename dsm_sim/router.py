"""Request handling for one simulated iDRAC: faults, authentication, GET with OData query options.

Mutations (actions, PATCH, sessions) are in dsm_sim.actions.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from dsm_sim import actions
from dsm_sim.http import Request, Response
from dsm_sim.resources import chassis as ch
from dsm_sim.resources import manager as mg
from dsm_sim.resources import root as rt
from dsm_sim.resources import system as sy
from dsm_sim.resources import update as up
from dsm_sim.resources.common import CHASSIS, MANAGER, SYSTEM, error
from dsm_sim.state import LogEntry, Session, SimIdrac, empty_media

Getter = Callable[[SimIdrac], dict[str, Any] | None]
LOG_PAGE = 50


def _static_routes(idrac: SimIdrac) -> dict[str, Getter]:
    routes: dict[str, Getter] = {
        "/redfish/v1": rt.service_root,
        "/redfish/v1/AccountService": rt.account_service,
        "/redfish/v1/SessionService": rt.session_service,
        idrac.sessions_path(): rt.sessions,
        "/redfish/v1/TaskService": rt.task_service,
        "/redfish/v1/TaskService/Tasks": rt.tasks,
        "/redfish/v1/Systems": sy.systems,
        SYSTEM: sy.system,
        f"{SYSTEM}/BootOptions": sy.boot_options,
        f"{SYSTEM}/Bios": sy.bios,
        f"{SYSTEM}/Bios/Settings": sy.bios_settings,
        f"{SYSTEM}/Bios/BiosRegistry": sy.bios_registry,
        f"{SYSTEM}/Storage": sy.storage_collection,
        f"{SYSTEM}/Storage/RAID.Integrated.1-1": sy.storage,
        f"{SYSTEM}/Oem/Dell/DellSoftwareInstallationService": sy.software_installation_service,
        "/redfish/v1/Managers": mg.managers,
        MANAGER: mg.manager,
        f"{MANAGER}/LogServices": mg.log_services,
        f"{MANAGER}/LogServices/Sel": lambda i: mg.log_service(i, "Sel"),
        f"{MANAGER}/LogServices/Lclog": lambda i: mg.log_service(i, "Lclog"),
        f"{MANAGER}/Oem/Dell/Jobs": lambda i: mg.dell_jobs(i, f"{MANAGER}/Oem/Dell/Jobs"),
        f"{MANAGER}/Jobs": lambda i: mg.dell_jobs(i, f"{MANAGER}/Jobs"),
        f"{MANAGER}/Oem/Dell/DellJobService": mg.dell_job_service,
        f"{MANAGER}/Oem/Dell/DellLCService": mg.dell_lc_service,
        "/redfish/v1/Chassis": ch.chassis_collection,
        CHASSIS: ch.chassis,
        "/redfish/v1/UpdateService": up.update_service,
        up.INVENTORY: up.firmware_inventory,
    }
    if idrac.generation >= 9:
        routes["/redfish/v1/JobService"] = rt.job_service
        routes["/redfish/v1/JobService/Jobs"] = rt.dmtf_jobs
    if idrac.media_on_system():
        routes[f"{SYSTEM}/VirtualMedia"] = sy.virtual_media_collection
        if idrac.generation == 9:
            routes[f"{MANAGER}/VirtualMedia"] = mg.manager_virtual_media_collection
    else:
        routes[f"{MANAGER}/VirtualMedia"] = sy.virtual_media_collection
    if idrac.has_legacy_thermal():
        routes[f"{CHASSIS}/Thermal"] = ch.thermal
        routes[f"{CHASSIS}/Power"] = ch.power
    if idrac.has_subsystems():
        routes[f"{CHASSIS}/ThermalSubsystem"] = ch.thermal_subsystem
        routes[f"{CHASSIS}/ThermalSubsystem/Fans"] = ch.fans
        routes[f"{CHASSIS}/PowerSubsystem"] = ch.power_subsystem
        routes[f"{CHASSIS}/PowerSubsystem/PowerSupplies"] = ch.power_supplies
    if idrac.generation >= 10:
        routes[f"{SYSTEM}/Settings"] = actions.system_settings
    return routes


_DYNAMIC: list[tuple[re.Pattern[str], Callable[[SimIdrac, re.Match[str]], dict[str, Any] | None]]] = [
    (
        re.compile(r"^/redfish/v1/(?:SessionService/)?Sessions/(\d+)$"),
        lambda i, m: rt.session(i, s) if (s := i.session_by_id(m.group(1))) else None,
    ),
    (re.compile(r"^/redfish/v1/TaskService/Tasks/(\w+)$"), lambda i, m: rt.task(i, m.group(1))),
    (re.compile(r"^/redfish/v1/JobService/Jobs/(\w+)$"), lambda i, m: rt.dmtf_job(i, m.group(1))),
    (re.compile(rf"^{SYSTEM}/BootOptions/(\w+)$"), lambda i, m: sy.boot_option(i, m.group(1))),
    (
        re.compile(rf"^{SYSTEM}/VirtualMedia/(\w+)$"),
        lambda i, m: sy.virtual_media(i, m.group(1)) if i.media_on_system() else None,
    ),
    (re.compile(rf"^{MANAGER}/VirtualMedia/(\w+)$"), lambda i, m: _manager_media(i, m.group(1))),
    (
        re.compile(rf"^{MANAGER}/(Oem/Dell/Jobs|Jobs)/(\w+)$"),
        lambda i, m: mg.dell_job(i, f"{MANAGER}/{m.group(1)}", m.group(2)),
    ),
    (
        re.compile(
            rf"^{SYSTEM}/Storage/RAID\.Integrated\.1-1/Drives/Disk\.Bay\.(\d+):Enclosure\.Internal\.0-1:RAID\.Integrated\.1-1$"
        ),
        lambda i, m: sy.drive(i, int(m.group(1))),
    ),
    (
        re.compile(rf"^{CHASSIS}/ThermalSubsystem/Fans/([\w.]+)$"),
        lambda i, m: ch.fan(i, m.group(1)) if i.has_subsystems() else None,
    ),
    (
        re.compile(rf"^{CHASSIS}/PowerSubsystem/PowerSupplies/([\w.]+)$"),
        lambda i, m: ch.power_supply(i, m.group(1)) if i.has_subsystems() else None,
    ),
    (re.compile(rf"^{up.INVENTORY}/([^/]+)$"), lambda i, m: up.firmware_item(i, m.group(1))),
]


def _manager_media(idrac: SimIdrac, slot: str) -> dict[str, Any] | None:
    if not idrac.media_on_system():
        return sy.virtual_media(idrac, slot)
    if idrac.generation != 9 or slot not in ("CD", "RemovableDisk"):
        return None
    # iDRAC 9 >= 6.00 still lists the deprecated Manager path, always empty (inserting there fails, RAC0904).
    return sy.virtual_media(idrac, slot, base=f"{MANAGER}/VirtualMedia", state=empty_media())


_LOG_ENTRIES = re.compile(rf"^{MANAGER}/(?:LogServices/(Sel|Lclog)/Entries|Logs/(Sel|Lclog))$")
_LOG_ENTRY = re.compile(rf"^{MANAGER}/LogServices/(Sel|Lclog)/Entries/(\d+)$")
_FILTER_TERM = re.compile(r"^\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+'([^']*)'\s*$")


def _is_link(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"@odata.id"} and isinstance(value["@odata.id"], str)


class IdracApp:
    """The HTTP application of one simulated iDRAC."""

    def __init__(self, idrac: SimIdrac) -> None:
        self.idrac = idrac
        self.routes = _static_routes(idrac)
        self._routes_firmware = idrac.firmware

    async def handle(self, request: Request) -> Response:
        idrac = self.idrac
        c = idrac.counters
        c.requests += 1
        c.concurrent += 1
        c.peak_concurrent = max(c.peak_concurrent, c.concurrent)
        try:
            return await self._handle(request)
        finally:
            c.concurrent -= 1

    async def _handle(self, request: Request) -> Response:
        idrac = self.idrac
        idrac.tick()
        if idrac.idrac_rebooting():
            return Response(abort=True)  # the iDRAC itself is restarting: nothing answers
        if idrac.firmware != self._routes_firmware:  # a firmware update can move URIs
            self.routes, self._routes_firmware = _static_routes(idrac), idrac.firmware
        f, rng = idrac.faults, idrac.rng
        if f.latency_ms or f.jitter_ms:
            await asyncio.sleep((f.latency_ms + rng.uniform(0, f.jitter_ms)) / 1000)
        if f.reset_rate and rng.random() < f.reset_rate:
            return Response(abort=True)
        if f.hang_rate and rng.random() < f.hang_rate:
            return Response(hang=f.hang_seconds)
        if f.error_503_rate and rng.random() < f.error_503_rate:
            idrac.counters.errors_5xx += 1
            return Response(
                503,
                error(
                    "RAC0508",
                    "The iDRAC is busy; retry the operation later.",
                    "Retry the operation after a few seconds.",
                ),
                [("Retry-After", "2")],
            )
        response = await self._dispatch(request)
        if (
            f.malformed_json_rate
            and response.status == 200
            and isinstance(response.body, dict)
            and rng.random() < f.malformed_json_rate
        ):
            response.body = response.encode()[: max(1, len(response.encode()) // 2)]
        return response

    async def _dispatch(self, request: Request) -> Response:
        idrac = self.idrac
        path = request.path.rstrip("/") or "/"
        if request.method == "GET" and path in (
            "/redfish",
            "/redfish/v1",
            "/redfish/v1/$metadata",
            "/redfish/v1/odata",
        ):
            return self._public(path)
        if request.method == "POST" and path in ("/redfish/v1/SessionService/Sessions", "/redfish/v1/Sessions"):
            return actions.login(idrac, request, path)
        session, problem = self._authenticate(request)
        if problem is not None:
            idrac.counters.auth_failures += 1
            return problem
        if request.method in ("GET", "HEAD"):
            return self._get(path, request.query)
        return await actions.mutate(idrac, request, path, session)

    # --- authentication --------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> tuple[Session | None, Response | None]:
        idrac = self.idrac
        token = request.headers.get("x-auth-token")
        if token:
            session = idrac.sessions.get(token)
            if (
                session is not None
                and idrac.faults.unauthorized_rate
                and idrac.rng.random() < idrac.faults.unauthorized_rate
            ):
                idrac.sessions.pop(token, None)  # the iDRAC dropped it (as after a racreset)
                session = None
            if session is None:
                return None, _unauthorized()
            session.last_used = idrac.clock.now()
            return session, None
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None, _unauthorized()
            if idrac.check_password(user, password):
                return None, None
        return None, _unauthorized()

    # --- GET -------------------------------------------------------------------------------------------

    def _public(self, path: str) -> Response:
        if path == "/redfish":
            return Response(200, {"v1": "/redfish/v1/"})
        if path == "/redfish/v1/$metadata":
            from dsm_sim.metadata import metadata_document

            return Response(200, metadata_document(), content_type="application/xml;charset=utf-8")
        if path == "/redfish/v1/odata":
            root = rt.service_root(self.idrac)
            return Response(
                200,
                {
                    "@odata.context": "/redfish/v1/$metadata",
                    "value": [
                        {"kind": "Singleton", "name": k, "url": v["@odata.id"]}
                        for k, v in root.items()
                        if isinstance(v, dict) and "@odata.id" in v
                    ],
                },
            )
        return Response(200, rt.service_root(self.idrac))

    def resolve(self, path: str) -> dict[str, Any] | None:
        getter = self.routes.get(path)
        if getter is not None:
            return getter(self.idrac)
        for pattern, fn in _DYNAMIC:
            m = pattern.match(path)
            if m:
                return fn(self.idrac, m)
        m = _LOG_ENTRY.match(path)
        if m:
            entries = self.idrac.sel if m.group(1) == "Sel" else self.idrac.lclog
            entry = next((e for e in entries if e.id == int(m.group(2))), None)
            return mg.log_entry(self.idrac, m.group(1), entry) if entry else None
        if "/Oem/Dell/" in path:
            # Dell embeds OEM objects that carry their own @odata.id (DellSystem, DellSoftwareInventory…);
            # like the iDRAC, answer that URI with the embedded object.
            parent = self.resolve(path.split("/Oem/")[0].split("#")[0])
            return _find_embedded(parent, path) if parent else None
        return None

    def _get(self, path: str, query: dict[str, str]) -> Response:
        m = _LOG_ENTRIES.match(path)
        if m:
            return self._log_entries(path, m.group(1) or m.group(2), query)
        task = re.match(r"^/redfish/v1/TaskService/Tasks/(\w+)$", path)
        if task:
            done = actions.finished_export(self.idrac, task.group(1))
            if done is not None:
                return done
        body = self.resolve(path)
        if body is None:
            return Response(
                404,
                error(
                    "SYS403",
                    f"Unable to complete the operation because the resource {path} entered in not found.",
                    "Enter the correct resource and retry the operation.",
                ),
            )
        expand = query.get("$expand", "")
        if expand and self.idrac.supports_expand():
            body = self._expand(body, expand[:1])
        if "$select" in query:
            body = _select(body, query["$select"])
        return Response(200, body)

    def _expand(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        """One level of $expand as Redfish defines it: ``*`` every hyperlink, ``.`` the subordinate ones
        (``Members`` and other navigation properties), ``~`` those under ``Links``."""
        if kind not in ("*", ".", "~"):
            return body

        def inline(value: Any) -> Any:
            if _is_link(value):
                return self.resolve(value["@odata.id"]) or value
            if isinstance(value, list) and value and all(_is_link(v) for v in value):
                return [self.resolve(v["@odata.id"]) or v for v in value]
            return value

        out = dict(body)
        if kind in ("*", "."):
            for key, value in body.items():
                if key not in ("Links", "@odata.id") and not key.startswith("@"):
                    out[key] = inline(value)
        if kind in ("*", "~") and isinstance(body.get("Links"), dict):
            out["Links"] = {k: inline(v) if not k.startswith("@") and k != "Oem" else v
                            for k, v in body["Links"].items()}
        return out

    def _log_entries(self, path: str, which: str, query: dict[str, str]) -> Response:
        entries: list[LogEntry] = list(reversed(self.idrac.sel if which == "Sel" else self.idrac.lclog))
        if "$filter" in query:
            try:
                entries = [e for e in entries if _matches(e, query["$filter"])]
            except ValueError as exc:
                return Response(
                    400,
                    error(
                        "SYS442",
                        f"The value {query['$filter']} for the query parameter $filter is invalid: {exc}",
                        "Correct the filter.",
                    ),
                )
        try:
            skip = int(query.get("$skip", "0"))
            top = int(query.get("$top", str(LOG_PAGE)))
        except ValueError:
            return Response(
                400, error("SYS440", "The query parameter $skip or $top is not a number.", "Enter a number and retry.")
            )
        if skip and skip >= len(entries):
            return Response(
                400, error("SYS439", "The query parameter $skip is out of range.", "Enter a value in range and retry.")
            )
        page = entries[skip : skip + min(top, LOG_PAGE)]
        base = f"{MANAGER}/LogServices/{which}/Entries"
        body = {
            "@odata.context": "/redfish/v1/$metadata#LogEntryCollection.LogEntryCollection",
            "@odata.id": path,
            "@odata.type": "#LogEntryCollection.LogEntryCollection",
            "Description": "System Event Logs for this manager" if which == "Sel" else "LC Logs for this manager",
            "Members": [mg.log_entry(self.idrac, which, e) for e in page],
            "Members@odata.count": len(entries),
            "Name": "Log Entry Collection",
        }
        if skip + len(page) < len(entries):
            extra = "".join(f"&{k}={v}" for k, v in query.items() if k in ("$filter",))
            body["Members@odata.nextLink"] = f"{base}?$skip={skip + len(page)}{extra}"
        return Response(200, body)


def _find_embedded(node: Any, path: str) -> dict[str, Any] | None:
    if isinstance(node, dict):
        if node.get("@odata.id") == path and len(node) > 1:
            return node
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_embedded(child, path)
        if found is not None:
            return found
    return None


def _unauthorized() -> Response:
    return actions.unauthorized()


def _select(body: dict[str, Any], select: str) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k.startswith("@odata")}
    for item in (s.strip() for s in select.split(",") if s.strip()):
        src, dst = body, out
        parts = item.split("/")
        for i, part in enumerate(parts):
            if not isinstance(src, dict) or part not in src:
                break
            if i == len(parts) - 1:
                dst[part] = src[part]
            else:
                dst = dst.setdefault(part, {})
                src = src[part]
    return out


def _matches(entry: LogEntry, text: str) -> bool:
    for term in re.split(r"\s+and\s+", text.strip()):
        m = _FILTER_TERM.match(term)
        if not m:
            raise ValueError(f"cannot read {term!r}; write Property eq 'value' joined by and")
        prop, op, value = m.groups()
        if prop == "Severity":
            actual: Any = entry.severity
        elif prop == "Created":
            from datetime import datetime

            actual = entry.created
            try:
                value_cmp: Any = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO 8601 time") from None
            if not _compare(actual, op, value_cmp):
                return False
            continue
        elif prop == "MessageId":
            actual = entry.message_id
        else:
            raise ValueError(f"filtering on {prop} is not supported; use Severity, Created or MessageId")
        if not _compare(actual, op, value):
            return False
    return True


def _compare(a: Any, op: str, b: Any) -> bool:
    return bool({"eq": a == b, "ne": a != b, "ge": a >= b, "gt": a > b, "le": a <= b, "lt": a < b}[op])


__all__ = ["IdracApp", "json"]
