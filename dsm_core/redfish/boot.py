"""Boot: the one-time override, the persistent boot order and the boot options (REDFISH.md §2.7).

Where the PATCH goes depends on the generation (System on iDRAC 8/9, System/Settings on iDRAC 10): the
capability detected at refresh names it. The override is allowed only to a target the iDRAC lists in
``BootSourceOverrideTarget@Redfish.AllowableValues``; the order only as a permutation of its BootOptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsm_core.redfish.client import IdracClient
from dsm_core.redfish.dell import SYSTEM, get_collection
from dsm_core.redfish.models import SystemView, members
from dsm_core.redfish.update import Started, _refusing, _started

MAX_OPTIONS = 256


@dataclass(frozen=True)
class BootOption:
    option_id: str
    name: str | None
    uefi_path: str | None
    enabled: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.option_id, "name": self.name, "uefi_path": self.uefi_path, "enabled": self.enabled}


def _text(value: Any, limit: int = 300) -> str | None:
    return value[:limit] if isinstance(value, str) else None


async def read_boot_options(client: IdracClient, expand: bool = True) -> list[BootOption]:
    data = await get_collection(client, f"{SYSTEM}/BootOptions", expand)
    out = []
    for member in members(data)[:MAX_OPTIONS]:
        if "Id" not in member and isinstance(member.get("@odata.id"), str):
            member = await client.get(client.resolve(member["@odata.id"]))
        oid = _text(member.get("Id") or member.get("BootOptionReference"), 64)
        if not oid:
            continue
        enabled = member.get("BootOptionEnabled")
        out.append(BootOption(oid, _text(member.get("DisplayName") or member.get("Name")),
                              _text(member.get("UefiDevicePath"), 1000),
                              enabled if isinstance(enabled, bool) else None))
    return out


async def read_system(client: IdracClient) -> SystemView:
    return SystemView.parse(await client.get(SYSTEM))


async def set_override(client: IdracClient, patch_uri: str, target: str | None, enabled: str,
                       uefi_path: str | None = None, mode: str | None = None) -> Started | None:
    """The override (``target`` None: only its mode, UEFI or Legacy, for the next override)."""
    boot: dict[str, Any] = {}
    if target is not None:
        boot.update({"BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": enabled})
    if target == "UefiTarget" and uefi_path:
        boot["UefiTargetBootSourceOverride"] = uefi_path
    if mode:
        boot["BootSourceOverrideMode"] = mode
    response = await _refusing(client.patch(patch_uri, {"Boot": boot}))
    return _started(client, response, "boot override") if response.headers.get("Location") else None


async def set_order(client: IdracClient, patch_uri: str, order: list[str]) -> Started | None:
    """The new order; iDRACs answer with a configuration job that applies at the next reboot."""
    response = await _refusing(client.patch(patch_uri, {"Boot": {"BootOrder": order}}))
    return _started(client, response, "boot order") if response.headers.get("Location") else None
