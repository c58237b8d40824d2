"""What DSM knows of a vCenter, as plain values, and the Protocol every vCenter client implements.

The values are already cleaned: a compromised vCenter's names are text (control characters are kept for the
console to make visible, never interpreted), lengths are capped to the columns they go to, and a service tag is
only ever letters and digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

NAME_MAX = 255
_TAG = re.compile(r"[^A-Za-z0-9]")
# Keys of HostSystemIdentificationInfo that carry a Dell service tag, best first (REDFISH.md §4).
SERVICE_TAG_KEYS = ("ServiceTag", "EnclosureSerialNumberTag", "SerialNumberTag")


class VcenterError(Exception):
    """A vCenter call failed; the message is what an operator reads (a fault's text, never a repr)."""


def clean_name(value: object, limit: int = NAME_MAX) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return text[:limit]


def clean_tag(value: object) -> str | None:
    """A service tag as the iDRAC reports it (``ComputerSystem.SKU``): letters and digits, upper case."""
    if not isinstance(value, str):
        return None
    tag = _TAG.sub("", value).upper()[:64]
    return tag or None


def service_tag(identifiers: list[tuple[str, str]], serial_number: object) -> str | None:
    """The host's Dell service tag from its identifying info (``(key, value)`` pairs) or its serial number."""
    by_key = {key: value for key, value in identifiers}
    for key in SERVICE_TAG_KEYS[:1]:
        if (tag := clean_tag(by_key.get(key))) is not None:
            return tag
    if (tag := clean_tag(serial_number)) is not None:
        return tag
    for key in SERVICE_TAG_KEYS[1:]:
        if (tag := clean_tag(by_key.get(key))) is not None:
            return tag
    return None


@dataclass(frozen=True)
class ClusterInfo:
    moref: str
    name: str
    datacenter: str | None
    drs_enabled: bool
    drs_automation: str | None
    """``fullyAutomated`` | ``partiallyAutomated`` | ``manual``; vSphere's default when unset is fully automated."""
    ha_enabled: bool
    admission_control: bool | None
    hosts: tuple[str, ...] = ()
    """The member hosts' morefs."""


@dataclass(frozen=True)
class HostInfo:
    moref: str
    name: str
    datacenter: str | None
    cluster: str | None
    """The cluster's moref (None for a standalone host)."""
    connection_state: str
    maintenance_mode: bool
    power_state: str | None
    overall_status: str
    esxi_version: str | None
    esxi_build: str | None
    service_tag: str | None
    vm_count: int


@dataclass(frozen=True)
class Inventory:
    about: dict[str, str]
    datacenters: tuple[str, ...]
    clusters: tuple[ClusterInfo, ...]
    hosts: tuple[HostInfo, ...]
    calls: int = 0
    """Round trips the sync cost (the benchmark compares it with a naive traversal)."""


@dataclass(frozen=True)
class HostState:
    """One host's state, read fresh before a step decides anything."""

    moref: str
    name: str
    connection_state: str
    maintenance_mode: bool
    power_state: str | None
    overall_status: str
    running_vms: tuple[str, ...] = field(default_factory=tuple)
    """Names of the powered-on VMs on the host (what an evacuation has yet to move)."""

    @property
    def connected(self) -> bool:
        return self.connection_state == "connected"


@dataclass(frozen=True)
class TaskState:
    moref: str
    state: str
    """``queued`` | ``running`` | ``success`` | ``error``."""
    progress: int | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.state in ("success", "error")


class VcenterApi(Protocol):
    """What DSM asks of a vCenter. Blocking calls: the worker runs them in a thread."""

    @property
    def about(self) -> dict[str, str]:
        """Product name, version, build, instance UUID, API version."""
        ...

    def inventory(self) -> Inventory: ...

    def host_state(self, moref: str) -> HostState: ...

    def enter_maintenance(self, moref: str, timeout_seconds: int, evacuate_powered_off: bool) -> str:
        """Starts entering maintenance mode; returns the task's moref."""
        ...

    def exit_maintenance(self, moref: str, timeout_seconds: int) -> str: ...

    def task_state(self, moref: str) -> TaskState: ...

    def cancel_task(self, moref: str) -> None: ...

    def close(self) -> None: ...
