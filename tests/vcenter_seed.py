"""A vCenter inventory recorded without a vCenter: for service, RBAC and console tests (the sync itself is tested
against vcsim). Servers get the hosts' service tags so that the recorded sync links them."""

from __future__ import annotations

import uuid

from dsm_core.credentials.secret import Secret
from dsm_core.db import session_scope
from dsm_core.models import Server
from dsm_core.services import servers, vcenter
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.vcenter.model import ClusterInfo, HostInfo, Inventory


def inventory(clusters: int = 1, hosts: int = 3, *, maintenance: tuple[str, ...] = (),
              disconnected: tuple[str, ...] = (), drs: bool = True) -> Inventory:
    cluster_rows, host_rows = [], []
    n = 0
    for c in range(clusters):
        morefs = []
        for h in range(hosts):
            name = f"esx-{c}-{h}"
            moref = f"host-{c}{h:02d}"
            morefs.append(moref)
            host_rows.append(HostInfo(
                moref=moref, name=name, datacenter="DC0", cluster=f"domain-c{c}",
                connection_state="disconnected" if name in disconnected else "connected",
                maintenance_mode=name in maintenance, power_state="poweredOn", overall_status="green",
                esxi_version="8.0.2", esxi_build="22380479", service_tag=f"VCS{n:04d}", vm_count=4))
            n += 1
        cluster_rows.append(ClusterInfo(f"domain-c{c}", f"prod-{c}", "DC0", drs, "fullyAutomated", True, True,
                                        tuple(morefs)))
    return Inventory({"name": "VMware vCenter Server 8.0.2", "instance_uuid": "seed"}, ("DC0",),
                     tuple(cluster_rows), tuple(host_rows), calls=5)


def seed_vcenter(admin: ServiceContext, inv: Inventory | None = None, *, servers_for_hosts: bool = True,
                 name: str = "vc1") -> uuid.UUID:
    """A vCenter ``name`` whose last sync recorded ``inv``; with ``servers_for_hosts``, a server per host first."""
    inv = inv or inventory()
    if servers_for_hosts:
        for i, host in enumerate(inv.hosts):
            view = servers.add_server(admin, f"127.0.20.{i + 1}:8443", hostname=host.name.replace("esx", "idrac"))
            with session_scope(admin.engine) as s:
                row = s.get(Server, uuid.UUID(str(view["id"])))
                assert row is not None
                row.service_tag = host.service_tag
                row.connection_status, row.power_state, row.overall_health = "connected", "On", "OK"
                s.add(row)
    added = vcenter.add_vcenter(admin, name, "https://127.0.0.1:8989", "administrator@vsphere.local", Secret("pw"))
    vc_id = uuid.UUID(str(added["id"]))
    vcenter.record_sync(ServiceContext(admin.engine, SYSTEM), vc_id, inv)
    return vc_id
