"""Server Configuration Profiles: export to the worker, import and preview from a buffer, the profile parser
and the per-attribute results of an import (REDFISH.md §2.10).

The action names come from the Manager's ``Actions.Oem`` (``EID_674_Manager.*`` on iDRAC 8/9,
``OemManager.*`` on iDRAC 10), detected at refresh. A profile is outside data: XML is read with expat, any
DOCTYPE or entity declaration refused, sizes capped; JSON is parsed with a depth-safe reader and checked
for shape. An import that ends ``CompletedWithErrors`` is never a success: every failed attribute is named.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.parsers import expat

import httpx

from dsm_core.redfish.client import IdracClient, RedfishError
from dsm_core.redfish.dell import MANAGER
from dsm_core.redfish.jobs import job_paths
from dsm_core.redfish.models import dig
from dsm_core.redfish.update import Started, _refusing, _started

MAX_PROFILE_BYTES = 32 * 1024 * 1024
MAX_COMPONENTS = 5000
MAX_ATTRIBUTES = 200_000
MAX_RESULTS = 5000
Format = Literal["XML", "JSON"]


class ProfileError(ValueError):
    """Not a Server Configuration Profile DSM will read; the message says where and why."""


@dataclass
class Profile:
    format: Format
    model: str | None
    service_tag: str | None
    components: dict[str, dict[str, str]] = field(default_factory=dict)
    """FQDD → {attribute: value}; nested components (RAID disks) flattened by their own FQDD."""

    def attribute_count(self) -> int:
        return sum(len(a) for a in self.components.values())

    def summary(self) -> dict[str, Any]:
        return {"format": self.format, "model": self.model, "service_tag": self.service_tag,
                "components": {k: len(v) for k, v in self.components.items()}}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)[:4096]


def _parse_json(text: str) -> Profile:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProfileError(f"JSON profile is not valid JSON ({str(exc)[:200]})") from None
    root = data.get("SystemConfiguration") if isinstance(data, dict) else None
    if not isinstance(root, dict):
        raise ProfileError("JSON profile has no SystemConfiguration object")
    comps = root.get("Components")
    if not isinstance(comps, list):
        raise ProfileError("JSON profile's SystemConfiguration has no Components list")
    profile = Profile("JSON", _str(root.get("Model")), _str(root.get("ServiceTag")))
    stack: list[Any] = list(comps)
    count = 0
    while stack:
        comp = stack.pop(0)
        if not isinstance(comp, dict) or not isinstance(comp.get("FQDD"), str):
            raise ProfileError("a JSON profile component has no FQDD")
        attrs = comp.get("Attributes", [])
        if not isinstance(attrs, list):
            raise ProfileError(f"component {comp['FQDD'][:100]}: Attributes is not a list")
        values = profile.components.setdefault(comp["FQDD"][:200], {})
        for attr in attrs:
            if not isinstance(attr, dict) or not isinstance(attr.get("Name"), str):
                raise ProfileError(f"component {comp['FQDD'][:100]}: an attribute has no Name")
            values[attr["Name"][:200]] = _value(attr.get("Value"))
            count += 1
        nested = comp.get("Components")
        if isinstance(nested, list):
            stack.extend(nested)
        if len(profile.components) > MAX_COMPONENTS or count > MAX_ATTRIBUTES:
            raise ProfileError("profile has more components or attributes than DSM reads")
    return profile


def _str(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _parse_xml(text: str) -> Profile:
    profile: Profile | None = None
    stack: list[str | None] = []
    current: list[Any] = []  # [fqdd, name, chunks] while inside an Attribute
    count = 0

    def refuse(*_: object) -> None:
        raise ProfileError("the profile declares a DOCTYPE or an entity; DSM refuses DTDs in profiles")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal profile
        if profile is None:
            if tag != "SystemConfiguration":
                raise ProfileError(f"root element is <{tag[:60]}>, not <SystemConfiguration>")
            profile = Profile("XML", _str(attrs.get("Model")), _str(attrs.get("ServiceTag")))
            return
        if tag == "Component":
            fqdd = attrs.get("FQDD")
            if not fqdd:
                raise ProfileError(f"a <Component> at line {parser.CurrentLineNumber} has no FQDD")
            stack.append(fqdd[:200])
            profile.components.setdefault(fqdd[:200], {})
            if len(profile.components) > MAX_COMPONENTS:
                raise ProfileError("profile has more components than DSM reads")
        elif tag == "Attribute":
            if not stack:
                raise ProfileError(f"an <Attribute> at line {parser.CurrentLineNumber} is outside any <Component>")
            name = attrs.get("Name")
            if not name:
                raise ProfileError(f"an <Attribute> at line {parser.CurrentLineNumber} has no Name")
            current[:] = [stack[-1], name[:200], []]

    def end(tag: str) -> None:
        nonlocal count
        if tag == "Component" and stack:
            stack.pop()
        elif tag == "Attribute" and current and profile is not None:
            profile.components[current[0]][current[1]] = "".join(current[2])[:4096]
            current.clear()
            count += 1
            if count > MAX_ATTRIBUTES:
                raise ProfileError("profile has more attributes than DSM reads")

    def chars(data: str) -> None:
        if current:
            current[2].append(data)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise ProfileError(f"XML profile is not well-formed XML: {expat.errors.messages[exc.code]} at line "
                           f"{exc.lineno}, column {exc.offset}") from None
    except (LookupError, ValueError) as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"XML profile cannot be read: {str(exc)[:200]}") from None
    if profile is None:
        raise ProfileError("the profile is empty")
    return profile


def parse_profile(text: str | bytes) -> Profile:
    """A profile from its text (XML or JSON, as exported); ProfileError for anything else."""
    if isinstance(text, bytes):
        if len(text) > MAX_PROFILE_BYTES:
            raise ProfileError(f"profile is over {MAX_PROFILE_BYTES // 2**20} MiB")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProfileError(f"profile is not UTF-8 text (byte {exc.start})") from None
    if len(text) > MAX_PROFILE_BYTES:
        raise ProfileError(f"profile is over {MAX_PROFILE_BYTES // 2**20} MiB")
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise ProfileError("the profile is empty")
    if stripped.startswith("{"):
        return _parse_json(stripped)
    if stripped.startswith("<"):
        return _parse_xml(stripped)
    raise ProfileError("the profile is neither XML (<SystemConfiguration>) nor JSON ({\"SystemConfiguration\"…})")


# What an operator may not touch through a profile: passwords (DSM would keep them in the profile in clear) and,
# on the iDRAC itself, its accounts, network and certificates (who can log in to the iDRAC, and where it is).
_SECRET_WORDS = ("password", "passphrase", "community", "privatekey", "secret", "psk")
_IDRAC_ADMIN_GROUPS = ("users.", "ipv4", "ipv6", "nic.", "nicstatic.", "dns", "ssl", "security.", "webserver.",
                       "activedirectory.", "ldap.", "radius", "snmp", "ssh", "remotehosts.", "certificate",
                       "autoconfig", "ipmilan", "ipblocking", "serialcapture")


def is_secret_attribute(attribute: str) -> bool:
    """An attribute that holds a password or key (Users.3#Password, SysPassword, SNMP community…)."""
    name = attribute.rsplit("#", 1)[-1].lower().replace("_", "")
    return any(word in name for word in _SECRET_WORDS)


def admin_attribute(fqdd: str, attribute: str) -> str | None:
    """Why changing ``attribute`` of ``fqdd`` through a profile is an admin's: a secret anywhere, or an iDRAC
    account, network or certificate setting. None for the rest (BIOS, NIC, RAID settings of the host)."""
    if is_secret_attribute(attribute):
        return "a password or key"
    if fqdd.lower().startswith("idrac.") and attribute.lower().startswith(_IDRAC_ADMIN_GROUPS):
        return "an iDRAC account, network or certificate setting"
    return None


def admin_attributes(profile: Profile) -> list[str]:
    """``FQDD:ATTRIBUTE`` of every attribute of ``profile`` an import would set that is an admin's."""
    return [f"{fqdd}:{name}" for fqdd, attrs in profile.components.items() for name in attrs
            if admin_attribute(fqdd, name)]


_XML_SECRET = re.compile(r'(<Attribute\s+Name="(?P<name>[^"]*)"\s*>)(?P<value>[^<]*)(</Attribute>)')


def redact_profile(text: str) -> str:
    """The profile as shown and audited: the value of every password or key attribute replaced by ``******``
    (Dell's own export shows them so), XML or JSON, comments and order kept."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return text

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("Name"), str) and "Value" in node and is_secret_attribute(node["Name"]):
                    node["Value"] = "******"
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(data)
        return json.dumps(data, indent=2)

    def hide(match: re.Match[str]) -> str:
        if is_secret_attribute(match.group("name")) and match.group("value").strip():
            return f"{match.group(1)}******{match.group(4)}"
        return match.group(0)

    return _XML_SECRET.sub(hide, text)


def edit_profile(text: str, changes: dict[tuple[str, str], str]) -> str:
    """The profile with ``(fqdd, attribute) → value`` set (an attribute the profile lacks is added to its
    component); comments (Dell comments out read-only attributes) and order are kept."""
    profile = parse_profile(text)  # refuses DTDs and bad shapes before anything else reads it
    missing = [f for f, _ in changes if f not in profile.components]
    if missing:
        raise ProfileError(f"the profile has no component {missing[0]}; it has "
                           + ", ".join(list(profile.components)[:10]))
    if profile.format == "JSON":
        data = json.loads(text.lstrip("\ufeff"))

        def walk(comps: list[Any]) -> None:
            for comp in comps:
                todo = {a: v for (f, a), v in changes.items() if f == comp.get("FQDD")}
                attrs = comp.setdefault("Attributes", [])
                for attr in attrs:
                    if attr.get("Name") in todo:
                        attr["Value"] = todo.pop(attr["Name"])
                attrs.extend({"Name": a, "Value": v} for a, v in todo.items())
                walk(comp.get("Components") or [])

        walk(data["SystemConfiguration"]["Components"])
        return json.dumps(data, indent=2)
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.fromstring(text.lstrip("\ufeff"), parser=parser)
    for comp in root.iter("Component"):
        todo = {a: v for (f, a), v in changes.items() if f == comp.get("FQDD")}
        for attr in comp.findall("Attribute"):
            if attr.get("Name") in todo:
                attr.text = todo.pop(attr.get("Name", ""))
        for name, value in todo.items():
            ET.SubElement(comp, "Attribute", Name=name).text = value
    return ET.tostring(root, encoding="unicode")


# --- actions -----------------------------------------------------------------------------------------------


def share_parameters(targets: list[str]) -> dict[str, Any]:
    return {"Target": targets if len(targets) > 1 else targets[0]}


async def export(client: IdracClient, action: str | None, targets: list[str], fmt: Format,
                 export_use: str = "Default") -> Started:
    """A local export: the profile comes back on the task monitor when the job completes."""
    target = action or f"{MANAGER}/Actions/Oem/EID_674_Manager.ExportSystemConfiguration"
    body = {"ExportFormat": fmt, "ShareParameters": share_parameters(targets), "ExportUse": export_use,
            "IncludeInExport": "Default"}
    response = await _refusing(client.post(client.resolve(target), body))
    return _started(client, response, "SCP export")


async def fetch_export(client: IdracClient, job_id: str, task_uri: str | None) -> bytes:
    """The exported profile: the task monitor answers with the profile itself once the export is done."""
    last = ""
    for path in [p for p in job_paths(job_id, task_uri) if "/Jobs/" not in p]:
        try:
            response: httpx.Response = await client.request("GET", path, any_body=True)
        except RedfishError as exc:
            if exc.status in (400, 404, 405):
                last = f"{path}: {exc.message[:200]}"
                continue
            raise
        body = response.content
        head = body.lstrip()[:200]
        if head.startswith(b"<") or b"SystemConfiguration" in head:
            return body
        last = f"{path} answered {len(body)} bytes without a profile"
    raise ProfileError(f"the export completed but no profile came back ({last or 'no task monitor'})")


async def import_profile(client: IdracClient, action: str | None, buffer: str, targets: list[str],
                         shutdown_type: str, host_power_state: str, *, preview: bool = False,
                         preview_action: str | None = None) -> Started:
    if preview:
        target = preview_action or f"{MANAGER}/Actions/Oem/EID_674_Manager.ImportSystemConfigurationPreview"
        body: dict[str, Any] = {"ShareParameters": share_parameters(targets), "ImportBuffer": buffer}
    else:
        target = action or f"{MANAGER}/Actions/Oem/EID_674_Manager.ImportSystemConfiguration"
        body = {"ShareParameters": share_parameters(targets), "ImportBuffer": buffer,
                "ShutdownType": shutdown_type, "HostPowerState": host_power_state}
    response = await _refusing(client.post(client.resolve(target), body))
    return _started(client, response, "SCP preview" if preview else "SCP import")


@dataclass(frozen=True)
class AttributeResult:
    component: str | None
    attribute: str
    old: str | None
    new: str | None
    status: str  # Success | Failure | as the iDRAC says
    message: str | None
    message_id: str | None

    @property
    def failed(self) -> bool:
        return self.status.lower() not in ("success", "completed", "ok")

    def as_dict(self) -> dict[str, Any]:
        return {"component": self.component, "attribute": self.attribute, "old": self.old, "new": self.new,
                "status": self.status, "message": self.message, "message_id": self.message_id}


def _cap(value: Any, limit: int = 500) -> str | None:
    return str(value)[:limit] if value is not None and not isinstance(value, dict | list) else None


def attribute_results(task: dict[str, Any]) -> list[AttributeResult]:
    """Per-attribute results from an import's task (``Messages[].Oem.Dell``: Name, OldValue, NewValue, Status,
    ErrCode — the shape Dell's scripts print); messages without an attribute are not results."""
    messages = task.get("Messages")
    if not isinstance(messages, list):
        return []
    out = []
    for msg in messages[:MAX_RESULTS]:
        if not isinstance(msg, dict):
            continue
        dell = dig(msg, "Oem", "Dell")
        if not isinstance(dell, dict) or not isinstance(dell.get("Name"), str):
            continue
        status = dell.get("Status")
        if not isinstance(status, str):
            code = dell.get("ErrCode")
            status = "Success" if code in (0, "0", None) else "Failure"
        out.append(AttributeResult(
            _cap(dell.get("FQDD"), 200), dell["Name"][:200], _cap(dell.get("OldValue")), _cap(dell.get("NewValue")),
            status[:32], _cap(msg.get("Message"), 1000), _cap(msg.get("MessageId"), 64)))
    return out
