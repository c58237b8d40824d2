"""UpdateService: the four ways REDFISH.md §2.11 installs firmware, each ending in a Dell job to follow.

A. multipart push (``MultipartHttpPushUri``), B. HTTP push to ``HttpPushUri`` then SimpleUpdate of the
``Available-…`` member (older firmware), C. SimpleUpdate from an image URI the iDRAC pulls, D. the Dell
``InstallFromRepository`` with a DRM catalog (apply, or compare-only and ``GetRepoBasedUpdateList``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit
from xml.parsers import expat

import httpx

from dsm_core.redfish.client import IdracClient, RedfishError
from dsm_core.redfish.jobs import ALREADY_COMPLIANT_IDS, job_id_from
from dsm_core.redfish.models import dig

UPDATE_SERVICE = "/redfish/v1/UpdateService"
SYSTEM = "/redfish/v1/Systems/System.Embedded.1"
MANAGER = "/redfish/v1/Managers/iDRAC.Embedded.1"
INSTALL_SERVICE = f"{SYSTEM}/Oem/Dell/DellSoftwareInstallationService"
INSTALL_FROM_REPOSITORY = f"{INSTALL_SERVICE}/Actions/DellSoftwareInstallationService.InstallFromRepository"
REPO_UPDATE_LIST = f"{INSTALL_SERVICE}/Actions/DellSoftwareInstallationService.GetRepoBasedUpdateList"
LC_STATUS = f"{MANAGER}/Oem/Dell/DellLCService/Actions/DellLCService.GetRemoteServicesAPIStatus"
MAX_PACKAGE_LIST = 4 * 1024 * 1024
ApplyTime = Literal["Immediate", "OnReset"]


class UpdateRefused(Exception):
    """The iDRAC would not start the update; the message is Dell's (RED097: not for this system, ...)."""

    def __init__(self, message: str, message_id: str | None = None) -> None:
        super().__init__(message)
        self.message_id = message_id


@dataclass(frozen=True)
class UpdateServiceView:
    multipart_uri: str | None
    http_push_uri: str | None
    simple_update: str | None
    protocols: tuple[str, ...]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> UpdateServiceView:
        action = dig(data, "Actions", "#UpdateService.SimpleUpdate") or {}
        protocols = action.get("TransferProtocol@Redfish.AllowableValues") if isinstance(action, dict) else None
        target = action.get("target") if isinstance(action, dict) else None
        mp, hp = data.get("MultipartHttpPushUri"), data.get("HttpPushUri")
        return cls(
            mp if isinstance(mp, str) and mp else None,
            hp if isinstance(hp, str) and hp else None,
            target if isinstance(target, str) and target else None,
            tuple(str(p).upper() for p in protocols) if isinstance(protocols, list) else (),
        )


async def update_service(client: IdracClient) -> UpdateServiceView:
    return UpdateServiceView.parse(await client.get(UPDATE_SERVICE))


@dataclass(frozen=True)
class Started:
    """An update the iDRAC accepted: its Dell job and where the 202 said to watch it."""

    job_id: str
    task_uri: str | None
    refused_location: str | None = None
    """A Location off the iDRAC's own origin: never followed (the job is read from the iDRAC's own queue)."""


def _started(client: IdracClient, response: httpx.Response, what: str) -> Started:
    location = response.headers.get("Location")
    task_uri, refused = None, None
    if location:
        try:
            task_uri = client.resolve(location)
        except RedfishError as exc:
            refused = f"{location[:200]} ({exc.message})"
    job_id = job_id_from(location)
    if job_id is None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            job_id = job_id_from(str(body.get("Id") or body.get("@odata.id") or ""))
    if job_id is None:
        raise UpdateRefused(f"{what}: the iDRAC accepted it but named no Dell job (Location {location!r:.200})")
    return Started(job_id, task_uri, refused)


async def _refusing(call: Awaitable[httpx.Response]) -> httpx.Response:
    """The request, with a 4xx answer turned into UpdateRefused (Dell's message and MessageId): the iDRAC
    would not start the update, which is not the same as not answering (that stays a RedfishError)."""
    try:
        return await call
    except RedfishError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            raise UpdateRefused(exc.message, exc.message_id) from None
        raise


async def push_multipart(client: IdracClient, uri: str, filename: str, payload: bytes,
                         apply_time: ApplyTime) -> Started:
    """A. One request carries the parameters and the DUP; the 202 names the update job."""
    params: dict[str, Any] = {"Targets": [], "@Redfish.OperationApplyTime": apply_time, "Oem": {}}
    files = {
        "UpdateParameters": (None, json.dumps(params).encode(), "application/json"),
        "UpdateFile": (filename, payload, "application/octet-stream"),
    }
    response = await _refusing(client.request("POST", uri, files=files))
    return _started(client, response, f"multipart upload of {filename}")


async def push_http(client: IdracClient, push_uri: str, simple_target: str, filename: str, payload: bytes,
                    apply_time: ApplyTime) -> Started:
    """B. Upload to HttpPushUri with the collection's ETag, then install the ``Available-…`` member."""
    response = await client.request("GET", push_uri)
    etag = response.headers.get("ETag")
    uploaded = await _refusing(client.request("POST", push_uri,
                                              files={"file": (filename, payload, "application/octet-stream")},
                                              headers={"If-Match": etag} if etag else None))
    try:
        body = uploaded.json()
    except ValueError:
        body = {}
    member = (body.get("@odata.id") if isinstance(body, dict) else None) or uploaded.headers.get("Location")
    if not isinstance(member, str) or "Available" not in member:
        raise UpdateRefused(f"upload of {filename}: the iDRAC did not name the uploaded package ({member!r})")
    return await simple_update(client, simple_target, client.resolve(member), apply_time)


async def simple_update(client: IdracClient, target: str, image_uri: str, apply_time: ApplyTime,
                        protocol: str | None = None) -> Started:
    """C. The iDRAC pulls ``image_uri`` (or installs an ``Available-…`` member it already holds)."""
    body: dict[str, Any] = {"ImageURI": image_uri, "@Redfish.OperationApplyTime": apply_time}
    if protocol:
        body["TransferProtocol"] = protocol
    response = await _refusing(client.post(target, body))
    return _started(client, response, f"SimpleUpdate of {image_uri}")


@dataclass(frozen=True)
class RepoShare:
    """A DRM repository as the iDRAC reaches it (its own network, not the worker's)."""

    url: str
    catalog_file: str
    username: str | None = None
    password: str | None = None

    def body(self) -> dict[str, Any]:
        parts = urlsplit(self.url)
        share_type = parts.scheme.upper()
        body: dict[str, Any] = {
            "IPAddress": parts.hostname or "",
            "ShareType": share_type,
            "ShareName": parts.path.rstrip("/") or "/",
            "CatalogFile": self.catalog_file,
        }
        if parts.port:
            body["IPAddress"] = f"{parts.hostname}:{parts.port}"
        if share_type == "HTTPS":
            body["IgnoreCertWarning"] = "On"
        if self.username:
            body["UserName"] = self.username
        if self.password:
            body["Password"] = self.password
        return body


async def install_from_repository(client: IdracClient, share: RepoShare, *, apply: bool, reboot: bool) -> Started:
    """D. The iDRAC reads the catalog and decides; with ``apply`` False it only compares."""
    body = {**share.body(), "ApplyUpdate": "True" if apply else "False", "RebootNeeded": reboot}
    response = await _refusing(client.post(INSTALL_FROM_REPOSITORY, body))
    return _started(client, response, "InstallFromRepository")


@dataclass(frozen=True)
class RepoUpdate:
    """One line of GetRepoBasedUpdateList: what the iDRAC would (or did) update from the catalog."""

    component_id: str | None
    name: str | None
    installed: str | None
    version: str | None
    package_path: str | None
    criticality: str | None
    reboot_type: str | None
    job_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_package_list(text: str) -> list[RepoUpdate]:
    """The PackageList CIM-XML (``DCIM_RepoUpdateSWID`` instances), read with expat, DTDs refused."""
    if len(text) > MAX_PACKAGE_LIST:
        raise UpdateRefused("GetRepoBasedUpdateList answered more than 4 MiB; refusing to read it")
    rows: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    prop: str | None = None
    buf: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current, prop, buf
        if tag == "INSTANCE":
            current = {}
        elif tag == "PROPERTY" and current is not None:
            prop, buf = attrs.get("NAME"), []

    def end(tag: str) -> None:
        nonlocal current, prop
        if tag == "PROPERTY" and current is not None and prop:
            current[prop] = "".join(buf).strip()
            prop = None
        elif tag == "INSTANCE" and current is not None:
            rows.append(current)
            current = None

    def chars(data: str) -> None:
        if prop is not None:
            buf.append(data)

    def refuse(*_: object) -> None:
        raise UpdateRefused("GetRepoBasedUpdateList answered XML with a DOCTYPE; refused")

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise UpdateRefused(f"GetRepoBasedUpdateList answered malformed XML: {exc}") from None
    crit = {"1": "Recommended", "2": "Urgent", "3": "Optional"}
    return [
        RepoUpdate(
            r.get("ComponentID") or None, r.get("DisplayName") or None, r.get("ComponentInstalledVersion") or None,
            r.get("PackageVersion") or None, r.get("PackagePath") or None,
            crit.get(r.get("Criticality", ""), r.get("Criticality") or None), r.get("RebootType") or None,
            r.get("JobID") or None,
        )
        for r in rows
    ]


async def repo_update_list(client: IdracClient) -> list[RepoUpdate]:
    """What the last InstallFromRepository found; empty when the server matches the catalog (SUP029)."""
    try:
        response = await client.post(REPO_UPDATE_LIST, {})
    except RedfishError as exc:
        if exc.message_id and exc.message_id.rsplit(".", 1)[-1] in ALREADY_COMPLIANT_IDS:
            return []
        raise
    try:
        body = response.json()
    except ValueError:
        raise UpdateRefused("GetRepoBasedUpdateList did not answer JSON") from None
    text = body.get("PackageList") if isinstance(body, dict) else None
    return parse_package_list(text) if isinstance(text, str) and text.strip() else []


async def lc_status(client: IdracClient) -> str | None:
    """The Lifecycle Controller's readiness ("Ready"), or None where the iDRAC does not offer the action."""
    try:
        response = await client.post(LC_STATUS, {})
    except RedfishError as exc:
        if exc.status in (400, 404, 405):
            return None
        raise
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get("LCStatus") if isinstance(body, dict) else None
    return str(value)[:32] if value is not None else None
