"""What a simulated iDRAC does on POST, PATCH and DELETE: sessions, power, media, BIOS, boot, SCP, firmware.

Every outcome a client must handle is reachable: 201/202 with Location, Dell error bodies with their
MessageIds (RAC0218 session limit, RAC0904 unreachable image, SUP029 already compliant, RED097 unknown
component), jobs that fail when the fault is set.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import urlsplit

import httpx

from dsm_sim import catalog, scp
from dsm_sim.hardware import (
    BIOS_COMPONENT_ID,
    CPLD_COMPONENT_ID,
    IDRAC_COMPONENT_ID,
    NIC_COMPONENT_ID,
    PSU_COMPONENT_ID,
    RAID_COMPONENT_ID,
)
from dsm_sim.http import Request, Response
from dsm_sim.resources import root as rt
from dsm_sim.resources.common import MANAGER, SYSTEM, envelope, error
from dsm_sim.resources.system import BOOT_TARGETS, RESET_TYPES
from dsm_sim.state import (
    BOOT_OPTIONS,
    CONFIG_JOB_SECONDS,
    EXPORT_JOB_SECONDS,
    FIRMWARE_JOB_SECONDS,
    IDRAC_REBOOT_SECONDS,
    Component,
    Session,
    SimIdrac,
    empty_media,
)

SUCCESS = {
    "@Message.ExtendedInfo": [
        {
            "Message": "Successfully Completed Request",
            "MessageArgs": [],
            "MessageArgs@odata.count": 0,
            "MessageId": "Base.1.12.Success",
            "RelatedProperties": [],
            "RelatedProperties@odata.count": 0,
            "Resolution": "None",
            "Severity": "OK",
        }
    ]
}
FETCH_TIMEOUT = 10.0
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def _bad(
    message_id: str, message: str, resolution: str = "Correct the request and retry.", status: int = 400
) -> Response:
    return Response(status, error(message_id, message, resolution, "Warning"))


def _body(request: Request) -> dict[str, Any] | Response:
    try:
        data = request.json()
    except (ValueError, UnicodeDecodeError):
        return _bad("SYS405", "The request body is not valid JSON.", "Send a JSON object.")
    if data is None:
        return {}
    if not isinstance(data, dict):
        return _bad("SYS405", "The request body must be a JSON object.", "Send a JSON object.")
    return data


def _job_created(job_id: str, location: str | None = None) -> Response:
    loc = location or f"/redfish/v1/TaskService/Tasks/{job_id}"
    return Response(202, None, [("Location", loc)])


# --- sessions ------------------------------------------------------------------------------------------


def unauthorized() -> Response:
    """The 401 an iDRAC sends for a bad password, an unknown token or a dropped session (SYS415)."""
    return Response(
        401,
        error(
            "SYS415",
            "Unable to complete the operation because an invalid username and/or "
            "password is entered, and therefore authentication failed.",
            "Enter valid user name and password and retry the operation.",
            "Critical",
        ),
        [("WWW-Authenticate", 'Basic realm="RedfishService"')],
    )


def login(idrac: SimIdrac, request: Request, path: str) -> Response:
    if path not in (idrac.sessions_path(), idrac.legacy_sessions_path()):
        return Response(404, error("SYS403", f"The resource {path} is not found.", "Use the sessions path."))
    body = _body(request)
    if isinstance(body, Response):
        return body
    user, password = body.get("UserName"), body.get("Password")
    if not isinstance(user, str) or not isinstance(password, str):
        return _bad("SYS406", "UserName and Password are required.", "Send UserName and Password.")
    if not idrac.check_password(user, password):
        idrac.counters.auth_failures += 1
        return unauthorized()
    session = idrac.open_session(user, request.client)
    if session is None:
        return Response(
            503,
            error(
                "RAC0218",
                "The maximum number of user sessions is reached.",
                "Close one or more sessions and retry the operation.",
                "Critical",
            ),
        )
    location = f"{idrac.sessions_path()}/{session.id}"
    return Response(201, rt.session(idrac, session), [("Location", location), ("X-Auth-Token", session.token)])


# --- dispatch ------------------------------------------------------------------------------------------

_ACTION = re.compile(r"^(?P<res>.+)/Actions/(?:Oem/)?(?P<name>[\w.]+)$")


async def mutate(idrac: SimIdrac, request: Request, path: str, session: Session | None) -> Response:
    method = request.method
    if method == "DELETE":
        m = re.match(r"^/redfish/v1/(?:SessionService/)?Sessions/(\d+)$", path)
        if m:
            target = idrac.session_by_id(m.group(1))
            if target is None:
                return Response(404, error("SYS403", f"Session {m.group(1)} does not exist.", "None."))
            idrac.close_session(target)
            return Response(200, SUCCESS)
        m = re.match(rf"^{MANAGER}/(?:Oem/Dell/)?Jobs/(\w+)$", path)
        if m:
            problem = idrac.delete_jobs(m.group(1))
            return _bad("SUP011", problem) if problem else Response(200, SUCCESS)
        return Response(405, error("SYS402", f"DELETE is not allowed on {path}.", "None."))
    if method == "PATCH":
        return _patch(idrac, request, path)
    if method != "POST":
        return Response(405, error("SYS402", f"{method} is not allowed on {path}.", "None."))
    if path in (f"{MANAGER}/Jobs", f"{MANAGER}/Oem/Dell/Jobs"):
        return _create_config_job(idrac, request)
    if path == "/redfish/v1/UpdateService/MultipartUpload" and idrac.generation >= 9:
        return await _multipart_update(idrac, request)
    if path == "/redfish/v1/UpdateService/FirmwareInventory":
        return _http_push(idrac, request)
    m = _ACTION.match(path)
    if not m:
        return Response(405, error("SYS402", f"POST is not allowed on {path}.", "None."))
    res, name = m.group("res"), m.group("name")
    body = _body(request)
    if isinstance(body, Response):
        return body
    handler = _POST_ACTIONS.get((res, name))
    faults = idrac.faults
    if faults.action_503_count >= 1:
        faults.action_503_count -= 1
        idrac.counters.errors_5xx += 1
        return Response(503, error("RAC0508", "The iDRAC is busy; retry the operation later.",
                                   "Retry the operation after a few seconds."), [("Retry-After", "1")])
    if handler is None:
        media = re.match(rf"^({SYSTEM}|{MANAGER})/VirtualMedia/(\w+)$", res)
        if media and name in ("VirtualMedia.InsertMedia", "VirtualMedia.EjectMedia"):
            return await _media(idrac, media.group(1), media.group(2), name, body)
        prefix = idrac.scp_action_prefix()
        if res == MANAGER and name.startswith(prefix + "."):
            return _scp(idrac, name.split(".", 1)[1], body)
        return Response(404, error("SYS403", f"The action {name} is not supported at {res}.", "None."))
    result = handler(idrac, body)  # some actions fetch over loopback and are coroutines
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, Response)
    if faults.drop_after_action:
        return Response(abort=True)  # done, but the answer is lost: the client cannot know
    return result


# --- power ---------------------------------------------------------------------------------------------


def _reset(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    reset_type = body.get("ResetType")
    if reset_type not in RESET_TYPES:
        return _bad(
            "SYS426",
            f"The value {reset_type} for ResetType is not in the list of acceptable values.",
            "Use one of " + ", ".join(RESET_TYPES) + ".",
        )
    idrac.counters.resets_received += 1
    problem = idrac.reset(reset_type)
    if problem:
        return Response(
            409, error("PSU501" if "ON" in problem else "PSU502", problem, "No response action is required.")
        )
    return Response(204)


def _manager_reset(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    if body.get("ResetType") != "GracefulRestart":
        return _bad("SYS426", "ResetType must be GracefulRestart.", "Use GracefulRestart.")
    idrac.sessions.clear()
    idrac.idrac_down_until = idrac.clock.now() + IDRAC_REBOOT_SECONDS
    return Response(204)


# --- virtual media ----------------------------------------------------------------------------------------


def _loopback_url(url: str) -> str | None:
    """The URL if it points at a loopback host over HTTP(S); the simulator never reaches anywhere else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if host == "localhost":
        return url
    try:
        return url if ipaddress.ip_address(host) in _LOOPBACK else None
    except ValueError:
        return None


async def _fetch(url: str) -> bytes | None:
    safe = _loopback_url(url)
    if safe is None:
        return None
    try:
        async with httpx.AsyncClient(verify=False, timeout=FETCH_TIMEOUT, trust_env=False) as client:
            response = await client.get(safe)
    except httpx.HTTPError:
        return None
    return response.content if response.status_code == 200 else None


async def _reachable(url: str) -> bool:
    safe = _loopback_url(url)
    if safe is None:
        return False
    try:
        async with (httpx.AsyncClient(verify=False, timeout=FETCH_TIMEOUT, trust_env=False) as client,
                    client.stream("GET", safe) as response):
            return response.status_code == 200
    except httpx.HTTPError:
        return False


async def _media(idrac: SimIdrac, base: str, slot: str, action: str, body: dict[str, Any]) -> Response:
    on_system = idrac.media_on_system()
    if (base == SYSTEM) != on_system or slot not in idrac.virtual_media:
        # iDRAC 9 ≥ 6.00 still lists the Manager path, but inserting there fails like this.
        return _bad(
            "RAC0904",
            "Unable to connect to the virtual media because the remote file location is not accessible.",
            "Use the VirtualMedia path under Systems and retry.",
        )
    state = idrac.virtual_media[slot]
    if action == "VirtualMedia.EjectMedia":
        if idrac.faults.media_attached_elsewhere:
            idrac.faults.media_attached_elsewhere = False  # the eject releases the other attachment
            state.update(empty_media())
            return Response(204)
        if not state["Inserted"]:
            return _bad(
                "VRM0009", "No Virtual Media devices are currently connected.", "No response action is required."
            )
        state.update(empty_media())
        idrac.log_lc("VRM0010", f"Virtual Media disconnected from {slot}.", "Configuration")
        return Response(204)
    image = body.get("Image")
    if not isinstance(image, str) or not image:
        return _bad("SYS406", "Image is required.", "Give the image URL.")
    if state["Inserted"]:
        return _bad("VRM0012", "The Virtual Media device is already connected.", "Eject the media first.")
    if idrac.faults.media_attached_elsewhere:
        return _bad("VRM0021", "The Virtual Media is already attached to another device or session.",
                    "Eject the virtual media and retry the operation.")
    if not await _reachable(image):
        return _bad(
            "RAC0904",
            "Unable to connect to the virtual media because the remote file location is not accessible.",
            "Make sure the image is reachable from the iDRAC and retry.",
        )
    state.update(
        {
            "Inserted": True,
            "Image": image,
            "ImageName": image.rsplit("/", 1)[-1],
            "ConnectedVia": "URI",
            "UserName": body.get("UserName"),
            "WriteProtected": bool(body.get("WriteProtected", True)),
            "TransferProtocolType": urlsplit(image).scheme.upper(),
        }
    )
    idrac.log_lc("VRM0011", f"Virtual Media connected to {state['ImageName']}.", "Configuration")
    return Response(204)


# --- BIOS and boot ------------------------------------------------------------------------------------------


def _patch(idrac: SimIdrac, request: Request, path: str) -> Response:
    body = _body(request)
    if isinstance(body, Response):
        return body
    if path == f"{SYSTEM}/Bios/Settings":
        return _bios_patch(idrac, body)
    boot_path = f"{SYSTEM}/Settings" if idrac.generation >= 10 else SYSTEM
    if path in (SYSTEM, f"{SYSTEM}/Settings"):
        if path != boot_path:
            return Response(
                405,
                error(
                    "SYS402", f"PATCH of Boot is done at {boot_path} on this iDRAC.", f"Send the PATCH to {boot_path}."
                ),
            )
        return _boot_patch(idrac, body)
    return Response(405, error("SYS402", f"PATCH is not allowed on {path}.", "None."))


def _bios_patch(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    attributes = body.get("Attributes")
    if not isinstance(attributes, dict) or not attributes:
        return _bad("SYS406", "Attributes is required.", "Send the attributes to change.")
    if idrac.bios_pending_job and idrac.bios_pending_job in idrac.jobs:
        return _bad(
            "SYS011",
            "Pending configuration values are already committed; a BIOS job is scheduled.",
            "Wait for the job to complete or delete it, then retry.",
        )
    problem = idrac.validate_bios(attributes)
    if problem:
        return _bad("SYS409", problem, "Check the BIOS attribute registry and retry.")
    idrac.stage_bios(attributes)
    apply_time = (body.get("@Redfish.SettingsApplyTime") or {}).get("ApplyTime")
    if apply_time is None:
        return Response(200, SUCCESS)
    if apply_time not in ("OnReset", "Immediate", "AtMaintenanceWindowStart", "InMaintenanceWindowOnReset"):
        return _bad("SYS426", f"ApplyTime {apply_time} is not supported.", "Use OnReset or Immediate.")
    job = idrac.schedule_bios_job()
    if apply_time == "Immediate":
        idrac.reset("ForceRestart" if idrac.power_state == "On" else "On")
    return _job_created(job.id, f"{MANAGER}/Jobs/{job.id}")


def _create_config_job(idrac: SimIdrac, request: Request) -> Response:
    body = _body(request)
    if isinstance(body, Response):
        return body
    if body.get("TargetSettingsURI") != f"{SYSTEM}/Bios/Settings":
        return _bad("SYS406", "TargetSettingsURI must name the BIOS settings resource.", f"Use {SYSTEM}/Bios/Settings.")
    if not idrac.bios_pending:
        return _bad("SUP0108", "There are no pending BIOS changes to apply.", "PATCH Bios/Settings first.")
    if idrac.bios_pending_job and idrac.bios_pending_job in idrac.jobs:
        return _bad("SYS011", "A BIOS configuration job is already scheduled.", "Wait or delete it.")
    job = idrac.schedule_bios_job()
    return Response(200, SUCCESS, [("Location", f"{MANAGER}/Jobs/{job.id}")])


def _clear_pending(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    if idrac.bios_pending_job:
        idrac.jobs.pop(idrac.bios_pending_job, None)
    idrac.bios_pending, idrac.bios_pending_job = {}, None
    return Response(200, SUCCESS)


def _boot_patch(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    boot = body.get("Boot")
    if not isinstance(boot, dict) or not boot:
        return _bad("SYS406", "Boot is required.", "Send a Boot object.")
    target = boot.get("BootSourceOverrideTarget")
    enabled = boot.get("BootSourceOverrideEnabled")
    mode = boot.get("BootSourceOverrideMode")
    order = boot.get("BootOrder")
    if target is not None and target not in BOOT_TARGETS:
        return _bad(
            "SYS426",
            f"The value {target} for BootSourceOverrideTarget is not in the list of acceptable values.",
            "Use one of " + ", ".join(BOOT_TARGETS) + ".",
        )
    if enabled is not None and enabled not in ("Disabled", "Once", "Continuous"):
        return _bad(
            "SYS426",
            f"The value {enabled} for BootSourceOverrideEnabled is not acceptable.",
            "Use Disabled, Once or Continuous.",
        )
    if mode is not None and mode not in ("UEFI", "Legacy"):
        return _bad("SYS426", f"The value {mode} for BootSourceOverrideMode is not acceptable.", "Use UEFI or Legacy.")
    if target == "UefiTarget" and not boot.get("UefiTargetBootSourceOverride"):
        return _bad("SYS406", "UefiTarget needs UefiTargetBootSourceOverride.", "Give the UEFI device path.")
    if order is not None:
        known = {b[0] for b in BOOT_OPTIONS}
        if not isinstance(order, list) or sorted(order) != sorted(known):
            return _bad("SYS426", "BootOrder must list every boot option once.", "Read BootOptions and retry.")
    if target is not None:
        idrac.boot_override_target = target
        if enabled is None and idrac.boot_override_enabled == "Disabled" and target != "None":
            idrac.boot_override_enabled = "Once"
    if enabled is not None:
        idrac.boot_override_enabled = enabled
    if mode is not None:
        idrac.boot_override_mode = mode
    if boot.get("UefiTargetBootSourceOverride"):
        idrac.uefi_target = str(boot["UefiTargetBootSourceOverride"])
    if order is not None:
        new_order = list(order)

        def apply() -> None:
            idrac.boot_order = new_order

        job = idrac.add_job(
            "BIOSConfiguration",
            "Configure: BIOS.Setup.1-1 BootOrder",
            CONFIG_JOB_SECONDS,
            on_reboot=True,
            on_complete=apply,
        )
        return _job_created(job.id, f"{MANAGER}/Jobs/{job.id}")
    return Response(200, SUCCESS)


# --- SCP -----------------------------------------------------------------------------------------------------


def _scp(idrac: SimIdrac, operation: str, body: dict[str, Any]) -> Response:
    share = body.get("ShareParameters") or {}
    targets = share.get("Target") or ["ALL"]
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",")]
    from dsm_sim.resources.manager import SCP_TARGETS

    bad = [t for t in targets if t not in SCP_TARGETS]
    if bad:
        return _bad("SYS426", f"The value {bad[0]} for Target is not acceptable.", "Use " + ", ".join(SCP_TARGETS))
    share_type = share.get("ShareType", "LOCAL")
    if share_type not in ("LOCAL", "Local"):
        return _bad(
            "SYS426",
            f"ShareType {share_type} is not simulated; export and import use LOCAL buffers.",
            "Use a local export (no share parameters).",
        )
    if operation == "ExportSystemConfiguration":
        fmt = body.get("ExportFormat", "XML")
        if fmt not in ("XML", "JSON"):
            return _bad("SYS426", f"ExportFormat {fmt} is not acceptable.", "Use XML or JSON.")
        job = idrac.add_job(
            "ExportConfiguration",
            "Export: System Configuration",
            EXPORT_JOB_SECONDS,
            success=("SYS043", "Successfully exported Server Configuration Profile"),
        )
        job.extra["targets"], job.extra["format"] = targets, fmt
        return _job_created(job.id)
    buffer = body.get("ImportBuffer")
    if not isinstance(buffer, str) or not buffer.strip():
        return _bad("SYS406", "ImportBuffer is required for a local import.", "Give the profile text.")
    try:
        profile = scp.parse_profile(buffer)
    except scp.ProfileError as exc:
        return _bad("SYS041", f"Unable to import the Server Configuration Profile: {exc}.", "Check the profile.")
    bios_changes = {
        k: _typed(v)
        for k, v in profile.get("BIOS.Setup.1-1", {}).items()
        if k not in ("SystemModelName", "SystemBiosVersion", "SystemServiceTag", "SystemManufacturer")
        and idrac.bios.get(k) != _typed(v)
    }
    # Each attribute on its own, as an iDRAC does: the good ones apply, a bad one is reported by name.
    results: list[dict[str, Any]] = []
    good: dict[str, Any] = {}
    for name, value in bios_changes.items():
        problem = idrac.validate_bios({name: value})
        results.append({"FQDD": "BIOS.Setup.1-1", "Name": name, "OldValue": str(idrac.bios.get(name, "")),
                        "NewValue": str(value), "Status": "Failure" if problem else "Success",
                        "ErrCode": 9999 if problem else 0, "Message": problem or "The value was applied."})
        if not problem:
            good[name] = value
    failed = [r for r in results if r["Status"] == "Failure"]
    if operation == "ImportSystemConfigurationPreview":
        job = idrac.add_job(
            "ImportConfiguration",
            "Preview Import from Local",
            EXPORT_JOB_SECONDS,
            success=("SYS081", "Successfully previewed Server Configuration Profile import operation."),
        )
        if failed:
            job.fail_with = ("SYS082", "Server Configuration Profile preview failed: "
                             + "; ".join(f"{r['Name']}: {r['Message']}" for r in failed))
        job.extra["results"] = results
        return _job_created(job.id)
    shutdown = body.get("ShutdownType", "Graceful")
    if shutdown not in ("Graceful", "Forced", "NoReboot"):
        return _bad("SYS426", f"ShutdownType {shutdown} is not acceptable.", "Use Graceful, Forced or NoReboot.")
    end_power = body.get("HostPowerState", "On")
    if end_power not in ("On", "Off"):
        return _bad("SYS426", f"HostPowerState {end_power} is not acceptable.", "Use On or Off.")
    if not bios_changes:
        job = idrac.add_job(
            "ImportConfiguration",
            "Import Configuration",
            EXPORT_JOB_SECONDS,
            success=(
                "SYS069",
                "No changes were applied since the current component configuration "
                "matched the requested configuration.",
            ),
        )
        return _job_created(job.id)

    def apply() -> None:
        idrac.bios.update(good)
        if end_power == "Off":
            idrac.reset("ForceOff")

    job = idrac.add_job(
        "ImportConfiguration",
        "Import Configuration",
        CONFIG_JOB_SECONDS * 2,
        on_complete=apply,
        on_reboot=shutdown == "NoReboot",
        success=("SYS053", "Successfully imported and applied Server Configuration Profile."),
    )
    job.extra["results"] = results
    if failed:
        job.with_errors = ("SYS055", f"{len(failed)} of {len(results)} attributes were not applied.")
        job.apply_with_errors = True
    if shutdown != "NoReboot" and idrac.power_state == "On":
        idrac.reset("ForceRestart" if shutdown == "Forced" else "GracefulRestart")
    return _job_created(job.id)


def _typed(value: str) -> Any:
    return int(value) if value.isdigit() else value


def finished_export(idrac: SimIdrac, job_id: str) -> Response | None:
    """A completed local export answers its task URI with the profile itself, as iDRACs do."""
    job = idrac.jobs.get(job_id)
    if job is None or job.job_type != "ExportConfiguration" or "format" not in job.extra:
        return None
    if job.state(idrac.clock.now())[0] != "Completed":
        return None
    text = scp.export_profile(idrac, job.extra["targets"], job.extra["format"])
    kind = "application/json" if job.extra["format"] == "JSON" else "application/xml"
    return Response(200, text, content_type=f"{kind};charset=utf-8")


# --- firmware ------------------------------------------------------------------------------------------------

_DUP = re.compile(
    r"^(?P<kind>[A-Za-z][A-Za-z0-9-]*?)(?:_Firmware)?_(?P<pkg>[A-Z0-9]{5})_(?:WN64|LN64|WN32|LN|LW64)"
    r"_(?P<version>[0-9][0-9A-Za-z.\-]*?)(?:_A\d{2})?\.(?:EXE|exe|BIN|bin)$"
)
_KINDS = {
    "BIOS": BIOS_COMPONENT_ID,
    "iDRAC": IDRAC_COMPONENT_ID,
    "iDRAC-with-Lifecycle-Controller": IDRAC_COMPONENT_ID,
    "Network": NIC_COMPONENT_ID,
    "SAS-RAID": RAID_COMPONENT_ID,
    "Power": PSU_COMPONENT_ID,
    "CPLD": CPLD_COMPONENT_ID,
    "Firmware": CPLD_COMPONENT_ID,
}


def dup_identity(filename: str) -> tuple[str, str] | None:
    """(ComponentID, version) from a Dell Update Package file name, e.g. BIOS_0T7N6_WN64_1.9.2.EXE."""
    m = _DUP.match(filename.rsplit("/", 1)[-1])
    if not m:
        return None
    kind = m.group("kind")
    cid = _KINDS.get(kind) or next((v for k, v in _KINDS.items() if kind.startswith(k)), None)
    return (cid, m.group("version")) if cid else None


def _firmware_job(
    idrac: SimIdrac,
    component: Component | None,
    version: str | None,
    apply_time: str,
    fail: tuple[str, str] | None = None,
) -> Response:
    name = f"Firmware Update: {component.name if component else 'unknown component'}"
    needs_reboot = component is not None and component.component_id in (BIOS_COMPONENT_ID, CPLD_COMPONENT_ID)

    def apply() -> None:
        assert component is not None and version is not None
        idrac.install(component, version)

    job = idrac.add_job(
        "FirmwareUpdate",
        name,
        FIRMWARE_JOB_SECONDS,
        on_reboot=needs_reboot or apply_time == "OnReset",
        on_complete=apply if component and version else None,
        success=("RED001", "Job completed successfully."),
    )
    idrac.counters.updates_received += 1
    if fail is not None:
        job.fail_with = fail
    elif component is not None and version == component.version:
        job.success = (
            "SUP029",
            "Firmware versions on server match catalog, applicable updates are not present in the repository.",
        )
        job.on_complete = None
    return _job_created(job.id)


def _resolve_image(idrac: SimIdrac, filename: str) -> tuple[Component | None, str | None, tuple[str, str] | None]:
    ident = dup_identity(filename)
    if ident is None:
        return (
            None,
            None,
            (
                "RED097",
                "Unable to update the firmware because the package is not compatible with this "
                "system or its components.",
            ),
        )
    component = idrac.component(ident[0])
    if component is None:
        return None, None, ("RED097", "The component of the update package is not in the inventory of this system.")
    return component, ident[1], None


async def _simple_update(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    uri = body.get("ImageURI")
    apply_time = body.get("@Redfish.OperationApplyTime", "Immediate")
    if not isinstance(uri, str) or not uri:
        return _bad("SYS406", "ImageURI is required.", "Give the URI of the update package.")
    if apply_time not in ("Immediate", "OnReset"):
        return _bad("SYS426", f"OperationApplyTime {apply_time} is not acceptable.", "Use Immediate or OnReset.")
    inv = re.match(r"^/redfish/v1/UpdateService/FirmwareInventory/(Available|Previous)-(\d+)-([^_]+)__(.+)$", uri)
    if inv:
        component = idrac.component(inv.group(2))
        if component is None:
            return _bad("RED097", "The component is not in the inventory of this system.", "Check the ImageURI.")
        return _firmware_job(idrac, component, inv.group(3), apply_time)
    data = await _fetch(uri)
    if data is None:
        return _firmware_job(
            idrac,
            None,
            None,
            apply_time,
            ("RED004", "Unable to download the update package from the specified location."),
        )
    component, version, fail = _resolve_image(idrac, urlsplit(uri).path)
    return _firmware_job(idrac, component, version, apply_time, fail)


async def _multipart_update(idrac: SimIdrac, request: Request) -> Response:
    parts = _multipart(request)
    if parts is None or "UpdateFile" not in parts:
        return _bad(
            "SYS406",
            "A multipart body with UpdateParameters and UpdateFile is required.",
            "Send multipart/form-data with both parts.",
        )
    try:
        params = json.loads(parts.get("UpdateParameters", (None, b"{}"))[1] or b"{}")
    except ValueError:
        return _bad("SYS405", "UpdateParameters is not JSON.", "Send a JSON object.")
    filename = parts["UpdateFile"][0] or ""
    component, version, fail = _resolve_image(idrac, filename)
    return _firmware_job(idrac, component, version, params.get("@Redfish.OperationApplyTime", "Immediate"), fail)


def _http_push(idrac: SimIdrac, request: Request) -> Response:
    """Older push mode: upload to FirmwareInventory, get an Available-<id>-<version> member back."""
    parts = _multipart(request)
    if parts is None or not parts:
        return _bad("SYS406", "A multipart body with the package file is required.", "Send multipart/form-data.")
    filename = next(iter(parts.values()))[0] or ""
    component, version, fail = _resolve_image(idrac, filename)
    if fail or component is None or version is None:
        return _bad(fail[0] if fail else "RED097", fail[1] if fail else "Unknown package.", "Check the package.")
    member = component.inventory_id("Available", version)
    return Response(
        201,
        {"Id": member, "Version": version, "@odata.id": f"/redfish/v1/UpdateService/FirmwareInventory/{member}"},
        [("Location", f"/redfish/v1/UpdateService/FirmwareInventory/{member}")],
    )


def _multipart(request: Request) -> dict[str, tuple[str | None, bytes]] | None:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.body)
    if not message.is_multipart():
        return None
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            out[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return out


async def _install_from_repository(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    share_type = str(body.get("ShareType", "")).upper()
    address = body.get("IPAddress")
    if share_type not in ("HTTP", "HTTPS", "NFS", "CIFS"):
        return _bad("SYS426", f"ShareType {share_type or '(none)'} is not acceptable.", "Use HTTP, HTTPS, NFS or CIFS.")
    if not address:
        return _bad("SYS406", "IPAddress is required.", "Give the repository address.")
    share = str(body.get("ShareName", "")).strip("/")
    catalog_file = body.get("CatalogFile") or "Catalog.xml"
    apply_update = str(body.get("ApplyUpdate", "True")).lower() == "true"
    reboot = bool(body.get("RebootNeeded", False))
    url = f"{share_type.lower()}://{address}/{share + '/' if share else ''}{catalog_file}"
    data = await _fetch(url) if share_type in ("HTTP", "HTTPS") else None
    updates: list[catalog.CatalogPackage] = []
    failure: tuple[str, str] | None = None
    if data is None:
        failure = ("RED004", f"Unable to download the catalog {catalog_file} from the repository.")
    else:
        try:
            installed = {c.component_id: c.version for c in idrac.components if c.updateable}
            updates = catalog.applicable_updates(catalog.decode_catalog(data), idrac.hw.system_id, installed)
        except Exception as exc:
            failure = ("SUP028", f"The catalog could not be read: {exc}.")
    staged: list[tuple[catalog.CatalogPackage, str, str]] = []
    if failure is None and apply_update:
        for pkg in updates:
            comp = idrac.component(pkg.component_id)
            assert comp is not None
            installed_version = comp.version
            response = _firmware_job(idrac, comp, pkg.version, "OnReset" if not reboot else "Immediate")
            jid = dict(response.headers)["Location"].rsplit("/", 1)[-1]
            staged.append((pkg, installed_version, jid))
    elif failure is None:
        staged = [(p, (idrac.component(p.component_id) or Component("", "", "", "")).version, "") for p in updates]
    idrac.counters.repository_updates += 1
    idrac.repo_update_list = None if failure else [{"package": p, "installed": v, "jid": j} for p, v, j in staged]
    job = idrac.add_job(
        "RepositoryUpdate",
        "Repository Update",
        60.0,
        success=("RED001", "Job completed successfully.")
        if updates
        else (
            "SUP029",
            "Firmware versions on server match catalog, applicable updates are not present in the repository.",
        ),
    )
    if failure:
        job.fail_with = failure
    if reboot and staged and apply_update and idrac.power_state == "On":
        idrac.reset("GracefulRestart")
    return _job_created(job.id)


def _repo_update_list(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    if not idrac.repo_update_list:
        return _bad(
            "SUP029",
            "Firmware versions on server match catalog, applicable updates are not present in the repository.",
            "No response action is required.",
        )
    packages = [(e["package"], e["installed"], e["jid"]) for e in idrac.repo_update_list]
    return Response(200, {"PackageList": catalog.package_list_xml(packages)})


# --- Dell services -------------------------------------------------------------------------------------------


def _delete_job_queue(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    job_id = body.get("JobID")
    if not isinstance(job_id, str):
        return _bad("SYS406", "JobID is required.", "Give a JID, JID_CLEARALL or JID_CLEARALL_FORCE.")
    problem = idrac.delete_jobs(job_id)
    return _bad("SUP011", problem, "Check the job id.") if problem else Response(200, SUCCESS)


def _remote_services_status(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    server = {"On": "OutOfPOST", "Off": "PoweredOff"}[idrac.power_state]
    if idrac.host_state == "posting":
        server = "InPOST"
    busy = any(j.state(idrac.clock.now())[0] == "Running" for j in idrac.jobs.values())
    body_out = envelope(f"{MANAGER}/Oem/Dell/DellLCService", "DellLCService.v1_3_0.DellLCService")
    body_out = {
        "@Message.ExtendedInfo": SUCCESS["@Message.ExtendedInfo"],
        "LCStatus": "Ready" if not busy else "InUse",
        "RTStatus": "Ready",
        "ServerStatus": server,
        "Status": "Ready" if not busy else "InUse",
    }
    return Response(200, body_out)


def _clear_sel(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    idrac.sel.clear()
    idrac.restart_log_ids("sel")  # as an iDRAC does: the next entry is number 1 again
    idrac.log_sel("OK", "Log cleared.", "SEL0001", "Event Logging Disabled", 114)
    return Response(200, SUCCESS)


def _reboot_job(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    kind = body.get("RebootJobType")
    if kind not in ("GracefulRebootWithForcedShutdown", "GracefulRebootWithoutForcedShutdown", "PowerCycle"):
        return _bad("SYS426", f"RebootJobType {kind} is not acceptable.", "See the allowable values.")
    job = idrac.add_job(
        "RebootNoForce" if "Without" in kind else "RebootForce", f"Reboot: {kind}", 1.0, on_reboot=True, prefix="RID"
    )
    job.extra["reboot"] = kind
    return Response(200, SUCCESS, [("Location", f"{MANAGER}/Jobs/{job.id}")])


def _setup_job_queue(idrac: SimIdrac, body: dict[str, Any]) -> Response:
    jobs = body.get("JobArray")
    if not isinstance(jobs, list) or not jobs:
        return _bad("SYS406", "JobArray is required.", "List the jobs to run.")
    missing = [j for j in jobs if j not in idrac.jobs]
    if missing:
        return _bad("SUP011", f"Job {missing[0]} does not exist.", "Check the job ids.")
    reboot = next((idrac.jobs[j] for j in jobs if j.startswith("RID_")), None)
    if reboot is not None and idrac.power_state == "On":
        idrac.reset("PowerCycle" if reboot.extra.get("reboot") == "PowerCycle" else "GracefulRestart")
    return Response(200, SUCCESS)


def system_settings(idrac: SimIdrac) -> dict[str, Any]:
    """iDRAC 10's System/Settings: where Boot is PATCHed (REDFISH.md §2.7)."""
    body = envelope(f"{SYSTEM}/Settings", "ComputerSystem.v1_16_0.ComputerSystem")
    body.update(
        {
            "Id": "Settings",
            "Name": "System Settings",
            "Boot": {
                "BootSourceOverrideEnabled": idrac.boot_override_enabled,
                "BootSourceOverrideTarget": idrac.boot_override_target,
            },
        }
    )
    return body


_POST_ACTIONS: dict[tuple[str, str], Any] = {
    (SYSTEM, "ComputerSystem.Reset"): _reset,
    (MANAGER, "Manager.Reset"): _manager_reset,
    ("/redfish/v1/UpdateService", "UpdateService.SimpleUpdate"): _simple_update,
    (
        f"{SYSTEM}/Oem/Dell/DellSoftwareInstallationService",
        "DellSoftwareInstallationService.InstallFromRepository",
    ): _install_from_repository,
    (
        f"{SYSTEM}/Oem/Dell/DellSoftwareInstallationService",
        "DellSoftwareInstallationService.GetRepoBasedUpdateList",
    ): _repo_update_list,
    (f"{MANAGER}/Oem/Dell/DellJobService", "DellJobService.DeleteJobQueue"): _delete_job_queue,
    (f"{MANAGER}/Oem/Dell/DellJobService", "DellJobService.CreateRebootJob"): _reboot_job,
    (f"{MANAGER}/Oem/Dell/DellJobService", "DellJobService.SetupJobQueue"): _setup_job_queue,
    (f"{MANAGER}/Oem/Dell/DellLCService", "DellLCService.GetRemoteServicesAPIStatus"): _remote_services_status,
    (f"{MANAGER}/LogServices/Sel", "LogService.ClearLog"): _clear_sel,
    (f"{SYSTEM}/Bios/Settings", "DellManager.ClearPending"): _clear_pending,
}
