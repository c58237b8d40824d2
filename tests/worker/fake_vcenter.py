"""A vCenter for the randomized rolling-update scenarios: the ``VcenterApi`` seam, with the faults vcsim cannot
inject on cue (a host that disconnects mid-run, an evacuation vCenter gives up on) and an exact judge.

It is not a stand-in for vCenter in general (pyvmomi against vcsim is tested on its own): it is the witness of every
maintenance-mode change DSM makes. At each ``enter_maintenance`` it checks the rule DSM must keep — after this host
goes down, at least the minimum of healthy hosts remain and no more than ``max_concurrent`` hosts are down — and
records any breach.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from dsm_core.vcenter.model import ClusterInfo, HostInfo, HostState, Inventory, TaskState


@dataclass
class _Host:
    moref: str
    name: str
    tag: str
    connected: bool = True
    maintenance: bool = False
    vms: list[str] = field(default_factory=list)


class FakeVcenter:
    def __init__(self, names: list[str], tags: list[str], *, minimum: int, max_concurrent: int) -> None:
        self.hosts = {f"host-{i}": _Host(f"host-{i}", name, tag, vms=[f"{name}-vm{j}" for j in range(2)])
                      for i, (name, tag) in enumerate(zip(names, tags, strict=True))}
        self.minimum = minimum
        self.max_concurrent = max_concurrent
        self.tasks: dict[str, TaskState] = {}
        self.violations: list[str] = []
        self.entered: list[str] = []
        self.evacuation_fails: set[str] = set()
        """Host names whose evacuation vCenter gives up on (the task ends in a Timedout fault)."""
        self.disconnect_at: tuple[int, str] | None = None
        """(n, host name): that host drops out of vCenter at the n-th inventory read."""
        self.inventory_reads = 0
        self._lock = threading.Lock()

    # --- what the test arranges ------------------------------------------------------------------------------

    def by_name(self, name: str) -> _Host:
        return next(h for h in self.hosts.values() if h.name == name)

    def heal(self) -> None:
        """The operator fixed the cause (before a retry): hosts reconnect, evacuations succeed."""
        with self._lock:
            self.evacuation_fails.clear()
            self.disconnect_at = None
            for h in self.hosts.values():
                h.connected = True

    def in_maintenance(self) -> list[str]:
        return sorted(h.name for h in self.hosts.values() if h.maintenance)

    # --- VcenterApi ------------------------------------------------------------------------------------------

    @property
    def about(self) -> dict[str, str]:
        return {"name": "fake vCenter (scenario judge)", "version": "8.0", "instance_uuid": "fake"}

    def inventory(self) -> Inventory:
        with self._lock:
            self.inventory_reads += 1
            if self.disconnect_at and self.disconnect_at[0] == self.inventory_reads:
                self.by_name(self.disconnect_at[1]).connected = False
            hosts = tuple(HostInfo(h.moref, h.name, "DC0", "domain-c1", "connected" if h.connected else
                                   "notResponding", h.maintenance, "poweredOn", "green", "8.0.2", "1", h.tag,
                                   len(h.vms)) for h in self.hosts.values())
        cluster = ClusterInfo("domain-c1", "prod", "DC0", True, "fullyAutomated", True, True,
                              tuple(self.hosts))
        return Inventory(self.about, ("DC0",), (cluster,), hosts, calls=3)

    def host_state(self, moref: str) -> HostState:
        with self._lock:
            h = self.hosts[moref]
            return HostState(moref, h.name, "connected" if h.connected else "notResponding", h.maintenance,
                             "poweredOn", "green", tuple(h.vms))

    def _task(self, state: str, error: str | None = None) -> str:
        moref = f"task-{len(self.tasks) + 1}"
        self.tasks[moref] = TaskState(moref, state, 100, error)
        return moref

    def enter_maintenance(self, moref: str, timeout_seconds: int, evacuate_powered_off: bool) -> str:
        with self._lock:
            h = self.hosts[moref]
            if h.maintenance:
                return self._task("error", "InvalidState: the host is already in maintenance mode")
            if h.name in self.evacuation_fails:
                return self._task("error", f"Timedout: VMs did not evacuate in {timeout_seconds} s")
            healthy_after = sum(o.connected and not o.maintenance for o in self.hosts.values()) - 1
            down_after = sum(o.maintenance for o in self.hosts.values()) + 1
            if healthy_after < self.minimum:
                self.violations.append(f"{h.name} taken down leaving {healthy_after} healthy < {self.minimum}")
            if down_after > self.max_concurrent:
                self.violations.append(f"{h.name} taken down with {down_after} hosts down > {self.max_concurrent}")
            h.maintenance, h.vms = True, []
            self.entered.append(h.name)
            return self._task("success")

    def exit_maintenance(self, moref: str, timeout_seconds: int) -> str:
        with self._lock:
            h = self.hosts[moref]
            if not h.maintenance:
                return self._task("error", "InvalidState: the host is not in maintenance mode")
            h.maintenance = False
            return self._task("success")

    def task_state(self, moref: str) -> TaskState:
        return self.tasks[moref]

    def cancel_task(self, moref: str) -> None:
        pass

    def close(self) -> None:
        pass
