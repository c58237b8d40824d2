"""Typed views of the Redfish payloads DSM reads: plain dataclasses, built tolerantly.

iDRACs differ by generation and firmware, and have quirks: dates like 2020-4-28T15:25:21+00:00, missing
@odata.type, nulls where a value is expected, OEM action keys in two spellings. A view never fails on
a missing field; it leaves it None and DSM shows "unknown".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?\s*(Z|[+-]\d{1,2}:?\d{2})?$"
)


def parse_time(value: Any) -> datetime | None:
    """Redfish timestamps, including Dell's non-zero-padded ones; no offset means UTC."""
    if not isinstance(value, str):
        return None
    m = _DATE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, tz = m.groups()
    if tz in (None, "Z"):
        zone = UTC
    else:
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:-2]), minutes=int(digits[-2:])))
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None


def dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else (str(value) if isinstance(value, int | float) else None)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ServiceRootView:
    redfish_version: str | None
    vendor: str | None
    product: str | None
    service_tag: str | None
    manager_mac: str | None
    sessions_link: str | None
    oem_dell: bool = False
    expand_levels: bool = False
    """ProtocolFeaturesSupported.ExpandQuery says $expand with $levels works (iDRAC 9 from 4.x, iDRAC 10)."""
    expand_links: bool = False
    """… and ``~`` (expand what is under Links) too."""

    @property
    def is_dell(self) -> bool:
        text = f"{self.vendor or ''} {self.product or ''}".lower()
        # Older iDRAC 8 roots may carry neither Vendor nor Product, but always an Oem.Dell section.
        return "dell" in text or "idrac" in text or self.oem_dell

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ServiceRootView:
        return cls(
            _str(data.get("RedfishVersion")),
            _str(data.get("Vendor")),
            _str(data.get("Product")),
            _str(dig(data, "Oem", "Dell", "ServiceTag")),
            _str(dig(data, "Oem", "Dell", "ManagerMACAddress")),
            _str(dig(data, "Links", "Sessions", "@odata.id")),
            isinstance(dig(data, "Oem", "Dell"), dict),
            dig(data, "ProtocolFeaturesSupported", "ExpandQuery", "Levels") is True
            and (_int(dig(data, "ProtocolFeaturesSupported", "ExpandQuery", "MaxLevels")) or 0) >= 1,
            dig(data, "ProtocolFeaturesSupported", "ExpandQuery", "Links") is True,
        )


def idrac_generation(manager_model: str | None, firmware: str | None) -> int | None:
    """13G and older → iDRAC 8; 14G-16G → iDRAC 9; 17G → iDRAC 10 (REDFISH.md §2.0)."""
    if manager_model:
        m = re.match(r"\s*(\d+)\s*G", manager_model)
        if m:
            gen = int(m.group(1))
            return 8 if gen <= 13 else (9 if gen <= 16 else 10)
    if firmware:
        major = _int(firmware.split(".")[0])
        if major is not None:
            return 8 if major == 2 else (9 if major >= 3 else None)
    return None


@dataclass(frozen=True)
class ManagerView:
    firmware_version: str | None
    model: str | None
    generation: int | None
    virtual_media_link: str | None
    oem_actions: dict[str, str]  # action name's last segment → target

    def action(self, name: str) -> str | None:
        return self.oem_actions.get(name)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ManagerView:
        actions: dict[str, str] = {}
        for key, value in (dig(data, "Actions", "Oem") or {}).items():
            target = dig(value, "target") if isinstance(value, dict) else None
            if isinstance(target, str):
                # "#OemManager.v1_4_0.OemManager#OemManager.ExportSystemConfiguration" and
                # "#OemManager.ExportSystemConfiguration" both name ExportSystemConfiguration.
                actions[key.rsplit(".", 1)[-1]] = target
        firmware = _str(data.get("FirmwareVersion"))
        model = _str(data.get("Model"))
        return cls(
            firmware, model, idrac_generation(model, firmware), _str(dig(data, "VirtualMedia", "@odata.id")), actions
        )


@dataclass(frozen=True)
class BootView:
    override_target: str | None
    override_enabled: str | None
    override_mode: str | None
    order: list[str]
    allowed_targets: list[str]


@dataclass(frozen=True)
class SystemView:
    service_tag: str | None
    model: str | None
    manufacturer: str | None
    serial_number: str | None
    uuid: str | None
    power_state: str | None
    bios_version: str | None
    health: str | None
    health_rollup: str | None
    hostname: str | None
    cpu_count: int | None
    cpu_model: str | None
    memory_gib: float | None
    memory_health: str | None
    boot: BootView
    rollups: dict[str, str]  # DellSystem *RollupStatus by subsystem
    system_generation: str | None
    system_id: int | None
    virtual_media_link: str | None
    reset_types: list[str]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> SystemView:
        dell = dig(data, "Oem", "Dell", "DellSystem") or {}
        rollups = (
            {
                k.removesuffix("RollupStatus"): str(v)
                for k, v in dell.items()
                if k.endswith("RollupStatus") and isinstance(v, str)
            }
            if isinstance(dell, dict)
            else {}
        )
        boot = data.get("Boot") if isinstance(data.get("Boot"), dict) else {}
        assert isinstance(boot, dict)
        order = boot.get("BootOrder") if isinstance(boot.get("BootOrder"), list) else []
        allowed = boot.get("BootSourceOverrideTarget@Redfish.AllowableValues")
        reset = dig(data, "Actions", "#ComputerSystem.Reset", "ResetType@Redfish.AllowableValues")
        return cls(
            service_tag=_str(data.get("SKU")) or _str(dell.get("NodeID") if isinstance(dell, dict) else None),
            model=_str(data.get("Model")),
            manufacturer=_str(data.get("Manufacturer")),
            serial_number=_str(data.get("SerialNumber")),
            uuid=_str(data.get("UUID")),
            power_state=_str(data.get("PowerState")),
            bios_version=_str(data.get("BiosVersion")),
            health=_str(dig(data, "Status", "Health")),
            health_rollup=_str(dig(data, "Status", "HealthRollup")),
            hostname=_str(data.get("HostName")),
            cpu_count=_int(dig(data, "ProcessorSummary", "Count")),
            cpu_model=_str(dig(data, "ProcessorSummary", "Model")),
            memory_gib=_float(dig(data, "MemorySummary", "TotalSystemMemoryGiB")),
            memory_health=_str(dig(data, "MemorySummary", "Status", "HealthRollup"))
            or _str(dig(data, "MemorySummary", "Status", "Health"))
            or (_str(dell.get("SysMemPrimaryStatus")) if isinstance(dell, dict) else None),
            boot=BootView(
                _str(boot.get("BootSourceOverrideTarget")),
                _str(boot.get("BootSourceOverrideEnabled")),
                _str(boot.get("BootSourceOverrideMode")),
                [str(x) for x in order or []],
                [str(x) for x in allowed] if isinstance(allowed, list) else [],
            ),
            rollups=rollups,
            system_generation=_str(dell.get("SystemGeneration")) if isinstance(dell, dict) else None,
            system_id=_int(dell.get("SystemID")) if isinstance(dell, dict) else None,
            virtual_media_link=_str(dig(data, "VirtualMedia", "@odata.id")),
            reset_types=[str(x) for x in reset] if isinstance(reset, list) else [],
        )


@dataclass(frozen=True)
class FirmwareItem:
    inventory_id: str
    name: str | None
    version: str | None
    component_id: str | None
    component_type: str | None
    status: str | None  # Installed / Previous / Available / Current
    updateable: bool | None
    fqdd: str | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> FirmwareItem | None:
        inv_id = _str(data.get("Id"))
        if not inv_id:
            return None
        dell = dig(data, "Oem", "Dell", "DellSoftwareInventory") or {}
        prefix = inv_id.split("-", 1)[0] if "-" in inv_id else None
        fqdd = inv_id.split("__", 1)[1] if "__" in inv_id else None
        updateable = data.get("Updateable")
        return cls(
            inv_id,
            _str(data.get("Name")),
            _str(data.get("Version")),
            _str(data.get("SoftwareId")) or _str(dell.get("ComponentID") if isinstance(dell, dict) else None),
            _str(dell.get("ComponentType")) if isinstance(dell, dict) else None,
            prefix,
            updateable if isinstance(updateable, bool) else None,
            fqdd,
            data,
        )


@dataclass(frozen=True)
class LogEntryView:
    entry_id: str
    created: datetime | None
    severity: str | None
    message: str | None
    message_id: str | None
    sensor_type: str | None
    sensor_number: str | None
    category: str | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> LogEntryView | None:
        entry_id = _str(data.get("Id"))
        if entry_id is None:
            return None
        return cls(
            entry_id,
            parse_time(data.get("Created")),
            _str(data.get("Severity")),
            _str(data.get("Message")),
            _str(data.get("MessageId")),
            _str(data.get("SensorType")),
            _str(data.get("SensorNumber")),
            _str(dig(data, "Oem", "Dell", "Category")),
            data,
        )


def members(collection: dict[str, Any]) -> list[dict[str, Any]]:
    items = collection.get("Members")
    return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []
