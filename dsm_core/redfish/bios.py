"""BIOS: the attribute registry (compacted for validation at job creation), current and pending attributes,
and a write staged with an apply time or a Dell configuration job (REDFISH.md §2.8).

The registry decides what DSM sends: an attribute it does not list, a read-only one, a value of the wrong
type, outside the allowed values or out of range is refused with the attribute named before any request
leaves, so an operator never learns of a typo from a failed Dell job at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dsm_core.redfish.client import IdracClient, RedfishError
from dsm_core.redfish.dell import SYSTEM
from dsm_core.redfish.jobs import MANAGER, list_jobs
from dsm_core.redfish.models import dig
from dsm_core.redfish.update import Started, _refusing, _started

BIOS = f"{SYSTEM}/Bios"
BIOS_SETTINGS = f"{SYSTEM}/Bios/Settings"
BIOS_REGISTRY = f"{SYSTEM}/Bios/BiosRegistry"
MAX_ATTRIBUTES = 5000
MAX_NAME = 128
MAX_VALUE = 1024
MAX_ALLOWED = 256
SECRET_WORDS = ("password", "secret", "passphrase")
"""String attributes named like these (IscsiDev1Con1ChapSecret) are secrets in all but type."""
TYPES = ("Enumeration", "String", "Integer", "Boolean", "Password")
ApplyTime = Literal["OnReset", "Immediate", "AtMaintenanceWindowStart", "InMaintenanceWindowOnReset"]


def _clip(value: Any, limit: int = MAX_VALUE) -> str:
    return str(value)[:limit]


def _bound(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def compact_registry(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``RegistryEntries.Attributes`` as {name: rule}: type ``t``, read-only ``ro``, allowed values ``v``,
    bounds ``lo``/``hi``/``inc``, lengths ``min``/``max``, display name ``d``. Help texts and menus are dropped
    (a real registry is over 1 MB, the rules about 60 kB); counts and lengths are capped (hostile iDRAC)."""
    entries = dig(data, "RegistryEntries", "Attributes")
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(entries, list):
        return out
    for entry in entries[:MAX_ATTRIBUTES]:
        if not isinstance(entry, dict):
            continue
        name = entry.get("AttributeName")
        kind = entry.get("Type")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME or kind not in TYPES:
            continue
        rule: dict[str, Any] = {"t": kind, "ro": bool(entry.get("ReadOnly")) or bool(entry.get("Immutable"))}
        if isinstance(entry.get("DisplayName"), str):
            rule["d"] = _clip(entry["DisplayName"], 200)
        if kind == "Enumeration":
            listed = entry.get("Value")
            values: list[Any] = listed if isinstance(listed, list) else []
            rule["v"] = [_clip(v.get("ValueName"), 200) for v in values[:MAX_ALLOWED]
                         if isinstance(v, dict) and isinstance(v.get("ValueName"), str)]
        elif kind == "Integer":
            for key, short in (("LowerBound", "lo"), ("UpperBound", "hi"), ("ScalarIncrement", "inc")):
                if _bound(entry.get(key)) is not None:
                    rule[short] = entry[key]
        elif kind == "String":
            for key, short in (("MinLength", "min"), ("MaxLength", "max")):
                if _bound(entry.get(key)) is not None:
                    rule[short] = entry[key]
        out[name] = rule
    return out


@dataclass(frozen=True)
class AttributeProblem:
    """One refused attribute: which, what is wrong, and what to do instead."""

    attribute: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.attribute}: {self.problem}; {self.fix}"


def _allowed(rule: dict[str, Any]) -> str:
    values = rule.get("v") or []
    shown = ", ".join(values[:20]) + (f" … ({len(values)} in all)" if len(values) > 20 else "")
    return f"allowed values: {shown}" if values else "the registry lists no allowed values"


def coerce_value(name: str, rule: dict[str, Any], value: Any) -> tuple[Any, AttributeProblem | None]:
    """``value`` in the registry's type (an Integer sent as text by the CLI becomes an int), or the problem."""
    kind = rule.get("t")
    if rule.get("ro"):
        return value, AttributeProblem(name, "is read-only", "leave it out; the iDRAC sets it")
    if kind == "Password" or (kind == "String" and any(s in name.lower() for s in SECRET_WORDS)):
        return value, AttributeProblem(
            name, "is a BIOS password or secret", "DSM does not set BIOS secrets (they would rest in the job's "
            "details and its audit entry); set it at the console or with racadm")
    if kind == "Enumeration":
        if isinstance(value, bool) or not isinstance(value, str | int):
            return value, AttributeProblem(name, f"takes one of its values, not {type(value).__name__}",
                                           _allowed(rule))
        if str(value) not in (rule.get("v") or []):
            return value, AttributeProblem(name, f"{_clip(value, 100)!r} is not an allowed value", _allowed(rule))
        return str(value), None
    if kind == "Integer":
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) <= 20:
            number = int(value.strip())
        lo, hi, inc = rule.get("lo"), rule.get("hi"), rule.get("inc")
        span = f"an integer from {lo if lo is not None else '…'} to {hi if hi is not None else '…'}"
        if number is None:
            return value, AttributeProblem(name, f"takes an integer, not {_clip(value, 100)!r}", f"give {span}")
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            return value, AttributeProblem(name, f"{number} is out of range", f"give {span}")
        if inc and lo is not None and (number - lo) % inc:
            return value, AttributeProblem(name, f"{number} is not a step of {inc} from {lo}",
                                           f"give {lo} plus a multiple of {inc}")
        return number, None
    if kind == "Boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true", None
        return value, AttributeProblem(name, f"takes true or false, not {_clip(value, 100)!r}", "give true or false")
    # String
    if isinstance(value, bool) or not isinstance(value, str | int):
        return value, AttributeProblem(name, f"takes text, not {type(value).__name__}", "give the text")
    text = str(value)
    low, high = rule.get("min"), rule.get("max")
    if (text and (low is not None and len(text) < low)) or (high is not None and len(text) > high):
        return value, AttributeProblem(name, f"is {len(text)} characters long",
                                       f"give {low or 0} to {high if high is not None else 'any number of'} "
                                       "characters (or an empty value to clear it)")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return value, AttributeProblem(name, "contains control characters", "give printable text")
    return text, None


def validate_attributes(
    registry: dict[str, dict[str, Any]], attributes: dict[str, Any]
) -> tuple[dict[str, Any], list[AttributeProblem]]:
    """Every attribute checked against the registry: (typed values, problems). Any problem refuses the write."""
    typed: dict[str, Any] = {}
    problems: list[AttributeProblem] = []
    for name, value in attributes.items():
        rule = registry.get(name)
        if rule is None:
            near = [n for n in registry if n.lower() == str(name).lower()]
            fix = f"did you mean {near[0]}?" if near else "`dsm bios show REF` lists this server's attributes"
            problems.append(AttributeProblem(_clip(name, MAX_NAME), "is not an attribute of this server's BIOS", fix))
            continue
        coerced, problem = coerce_value(name, rule, value)
        if problem:
            problems.append(problem)
        else:
            typed[name] = coerced
    return typed, problems


def scalar_attributes(data: dict[str, Any]) -> dict[str, Any]:
    """``Attributes`` of a Bios resource: scalar values only, names and texts capped."""
    attrs = data.get("Attributes")
    out: dict[str, Any] = {}
    if not isinstance(attrs, dict):
        return out
    for name, value in list(attrs.items())[:MAX_ATTRIBUTES]:
        if not isinstance(name, str) or len(name) > MAX_NAME:
            continue
        if value is None or isinstance(value, bool | int | float):
            out[name] = value
        elif isinstance(value, str):
            out[name] = value[:MAX_VALUE]
    return out


@dataclass(frozen=True)
class BiosReading:
    attributes: dict[str, Any]
    registry_name: str | None
    apply_times: list[str]
    settings_uri: str


async def read_bios(client: IdracClient) -> BiosReading:
    data = await client.get(BIOS)
    times = dig(data, "@Redfish.Settings", "SupportedApplyTimes")
    settings = dig(data, "@Redfish.Settings", "SettingsObject", "@odata.id")
    uri = client.resolve(settings) if isinstance(settings, str) else BIOS_SETTINGS
    registry = data.get("AttributeRegistry")
    return BiosReading(
        scalar_attributes(data),
        registry[:64] if isinstance(registry, str) else None,
        [str(t)[:40] for t in times] if isinstance(times, list) else [],
        uri,
    )


async def read_registry(client: IdracClient) -> tuple[dict[str, dict[str, Any]], str | None]:
    data = await client.get(BIOS_REGISTRY)
    version = data.get("RegistryVersion") or data.get("Id")
    return compact_registry(data), str(version)[:64] if version else None


async def pending_attributes(client: IdracClient, settings_uri: str = BIOS_SETTINGS) -> dict[str, Any]:
    return scalar_attributes(await client.get(settings_uri))


async def pending_bios_jobs(client: IdracClient) -> list[str]:
    """Dell BIOS configuration jobs still waiting (Scheduled/New): only one may be pending at a time."""
    out = []
    for job in await list_jobs(client):
        kind = f"{job.job_type or ''} {job.name or ''}".lower()
        if ("bios" in kind) and job.outcome in ("scheduled", "running"):
            out.append(job.job_id)
    return out


async def write_settings(
    client: IdracClient, attributes: dict[str, Any], apply_time: ApplyTime, *, settings_uri: str = BIOS_SETTINGS,
    supported: list[str] | None = None, window: dict[str, Any] | None = None,
) -> Started:
    """Stage ``attributes`` and get the Dell job that applies them. Where the iDRAC takes
    ``@Redfish.SettingsApplyTime`` (iDRAC 9 ≥ 4.x lists SupportedApplyTimes) one PATCH does both; otherwise the
    classic way: PATCH, then POST a configuration job for Bios/Settings. ``Immediate`` is the classic job too:
    the caller restarts the host at once (BIOS settings apply only during POST)."""
    if supported and apply_time in supported and apply_time != "Immediate":
        response = await _refusing(client.patch(settings_uri, {
            "@Redfish.SettingsApplyTime": {"ApplyTime": apply_time, **(window or {})}, "Attributes": attributes}))
        if response.headers.get("Location"):
            return _started(client, response, "BIOS settings")
    else:
        await _refusing(client.patch(settings_uri, {"Attributes": attributes}))
    response = await _refusing(client.post(f"{MANAGER}/Jobs", {"TargetSettingsURI": settings_uri}))
    return _started(client, response, "BIOS configuration job")


async def clear_pending(client: IdracClient, settings_uri: str = BIOS_SETTINGS) -> None:
    try:
        await client.post(f"{settings_uri}/Actions/Oem/DellManager.ClearPending", {})
    except RedfishError as exc:
        if exc.status not in (400, 404, 405):
            raise
