"""Safety verdicts for clusters and server groups (DESIGN.md §3): pure functions, no database, no network.

A cluster is safe to update when DRS is enabled and fully automated (entering maintenance evacuates only
then), HA is enabled, no host is already in maintenance, every host is connected, and the healthy hosts minus
the ones about to go down still meet the minimum. A server group is safe when its healthy, powered-on,
reachable servers minus one meet its minimum.

Every reason carries a stable ``code`` (what scripts and tests match), a ``message`` (what an operator reads,
naming the object and the fix) and the ``subject`` it is about. The verdict records its inputs, so a stored
check can be read back months later and explained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

HEALTHY_STATUSES = ("green", "yellow")
"""vSphere overallStatus values of a host that still carries VMs (yellow: a warning, still in service)."""
HEALTHY_SERVER = ("OK", "Warning")


@dataclass(frozen=True)
class HostFacts:
    name: str
    connection_state: str
    maintenance_mode: bool
    overall_status: str
    power_state: str | None = "poweredOn"

    @property
    def healthy(self) -> bool:
        return (self.connection_state == "connected" and not self.maintenance_mode
                and self.power_state in (None, "poweredOn") and self.overall_status in HEALTHY_STATUSES)


@dataclass(frozen=True)
class ClusterFacts:
    name: str
    drs_enabled: bool
    drs_automation: str | None
    ha_enabled: bool
    hosts: tuple[HostFacts, ...]


@dataclass(frozen=True)
class ServerFacts:
    name: str
    connection_status: str
    power_state: str | None
    overall_health: str | None

    @property
    def healthy(self) -> bool:
        return (self.connection_status == "connected" and (self.power_state or "").lower() == "on"
                and self.overall_health in HEALTHY_SERVER)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    subject: str | None = None


@dataclass(frozen=True)
class Verdict:
    safe: bool
    total: int
    healthy: int
    minimum: int
    reasons: tuple[Reason, ...] = ()
    warnings: tuple[Reason, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "safe" if self.safe else "unsafe"

    @property
    def margin(self) -> int:
        """Healthy members left above the minimum once one more goes down (negative: below it)."""
        return self.healthy - 1 - self.minimum

    def details(self) -> dict[str, Any]:
        """What is stored with the check: the verdict, its reasons and warnings, and the inputs it judged."""
        return {
            "verdict": self.status,
            "reasons": [asdict(r) for r in self.reasons],
            "warnings": [asdict(w) for w in self.warnings],
            "margin": self.margin,
            **self.inputs,
        }


def cluster_verdict(
    cluster: ClusterFacts,
    min_required_hosts: int,
    *,
    going_down: int = 1,
    ours_in_maintenance: Iterable[str] = (),
) -> Verdict:
    """May ``going_down`` more hosts of ``cluster`` leave service now?

    ``ours_in_maintenance``: hosts a running rolling update put in maintenance itself (with ``max_concurrent`` > 1):
    they are down, counted as such, but are not a reason to refuse. Any other host in maintenance is.
    """
    ours = set(ours_in_maintenance)
    reasons: list[Reason] = []
    warnings: list[Reason] = []
    if not cluster.drs_enabled:
        reasons.append(Reason("drs_disabled", f"DRS is disabled on cluster {cluster.name}: entering maintenance "
                              "would not evacuate its VMs; enable DRS (fully automated)", cluster.name))
    elif (cluster.drs_automation or "fullyAutomated") != "fullyAutomated":
        reasons.append(Reason("drs_not_fully_automated", f"DRS on cluster {cluster.name} is "
                              f"{cluster.drs_automation}: VMs would wait for manual migration; set it to fully "
                              "automated", cluster.name))
    if not cluster.ha_enabled:
        reasons.append(Reason("ha_disabled", f"HA is not enabled on cluster {cluster.name}: a host failure during the "
                              "update would not restart its VMs; enable vSphere HA", cluster.name))
    if not cluster.hosts:
        reasons.append(Reason("no_hosts", f"cluster {cluster.name} has no hosts: run a vCenter sync", cluster.name))
    for host in cluster.hosts:
        if host.connection_state != "connected":
            reasons.append(Reason("host_disconnected", f"host {host.name} is {host.connection_state}: reconnect it "
                                  "in vCenter before updating the cluster", host.name))
        if host.maintenance_mode and host.name not in ours:
            reasons.append(Reason("host_in_maintenance", f"host {host.name} is already in maintenance mode: finish "
                                  "its work and exit maintenance first", host.name))
        if host.connection_state == "connected" and host.overall_status not in HEALTHY_STATUSES:
            reasons.append(Reason("host_unhealthy", f"host {host.name} reports status {host.overall_status}: fix its "
                                  "alarms first", host.name))
        elif host.overall_status == "yellow":
            warnings.append(Reason("host_warning", f"host {host.name} reports a warning (yellow)", host.name))
    healthy = sum(h.healthy for h in cluster.hosts)
    if cluster.hosts and healthy - going_down < min_required_hosts:
        reasons.append(Reason(
            "too_few_healthy_hosts",
            f"cluster {cluster.name} has {healthy} healthy host(s): taking {going_down} down leaves "
            f"{healthy - going_down}, below the minimum of {min_required_hosts}; lower --min-hosts only if the "
            "remaining hosts can carry the load, or add hosts", cluster.name))
    inputs = {
        "drs_enabled": cluster.drs_enabled, "drs_automation": cluster.drs_automation,
        "ha_enabled": cluster.ha_enabled, "going_down": going_down,
        "hosts_in_maintenance": sum(h.maintenance_mode for h in cluster.hosts),
        "host_statuses": [{"name": h.name, "status": h.connection_state, "health": h.overall_status,
                           "maintenance": h.maintenance_mode, "power": h.power_state, "healthy": h.healthy}
                          for h in cluster.hosts],
    }
    return Verdict(not reasons, len(cluster.hosts), healthy, min_required_hosts, tuple(reasons), tuple(warnings),
                   inputs)


def group_verdict(name: str, servers: Sequence[ServerFacts], min_healthy_servers: int) -> Verdict:
    reasons: list[Reason] = []
    warnings: list[Reason] = []
    for server in servers:
        if server.connection_status != "connected":
            warnings.append(Reason("server_unreachable", f"{server.name} is {server.connection_status} through its "
                                   "iDRAC", server.name))
        elif (server.power_state or "").lower() != "on":
            warnings.append(Reason("server_powered_off", f"{server.name} is powered {server.power_state or 'unknown'}",
                                   server.name))
        elif server.overall_health not in HEALTHY_SERVER:
            warnings.append(Reason("server_unhealthy", f"{server.name} health is {server.overall_health or 'unknown'}",
                                   server.name))
    healthy = sum(s.healthy for s in servers)
    if not servers:
        reasons.append(Reason("no_servers", f"group {name} has no servers", name))
    elif healthy - 1 < min_healthy_servers:
        reasons.append(Reason(
            "too_few_healthy_servers",
            f"group {name} has {healthy} healthy server(s) of {len(servers)}: taking one down leaves "
            f"{healthy - 1}, below the minimum of {min_healthy_servers}", name))
    inputs = {"server_statuses": [{"name": s.name, "connection": s.connection_status, "power": s.power_state,
                                   "health": s.overall_health, "healthy": s.healthy} for s in servers]}
    return Verdict(not reasons, len(servers), healthy, min_healthy_servers, tuple(reasons), tuple(warnings), inputs)


def status_change(previous: str | None, current: str) -> bool:
    """A change worth telling: a verdict that differs from the last stored one (the first check is not a change)."""
    return previous is not None and previous != current
