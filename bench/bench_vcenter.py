"""vCenter benchmark: inventory sync and the rolling update's own overhead.

1. Sync of a vcsim with 50 clusters x 20 hosts (1,000 hosts): DSM's PropertyCollector inventory — target ≤ 10 s and
   ≥ 10x faster than the baseline measured in the same run: the naive pyvmomi traversal of the same inventory
   (datacenter → clusters → hosts, reading each property as an attribute: a round trip per property).
2. DSM's own overhead per host in a rolling update — target ≤ 1 s: the CPU time of the process running the worker
   code (handler, step engine, firmware steps, SQLite writes, TLS on DSM's side), with the simulated iDRACs in a
   separate process and the vCenter a witness that answers at once; the wall time of the same run is the baseline
   it is a share of. Waiting on an iDRAC or vCenter costs no CPU, so it is not counted.
3. The randomized rolling-update scenarios at 200 (``make test`` runs 50).
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _naive(host: str, port: int, user: str, password: str) -> tuple[float, int]:
    from pyVim.connect import Disconnect, SmartConnect

    started = time.perf_counter()
    si = SmartConnect(host=host, port=port, user=user, pwd=password, sslContext=ssl._create_unverified_context())
    hosts = 0
    try:
        content = si.RetrieveContent()
        for dc in content.rootFolder.childEntity:
            for cluster in dc.hostFolder.childEntity:
                cfg = cluster.configurationEx
                _ = (cluster.name, cfg.drsConfig.enabled, cfg.drsConfig.defaultVmBehavior, cfg.dasConfig.enabled)
                for h in cluster.host:
                    _ = (h.name, h.runtime.connectionState, h.runtime.inMaintenanceMode, h.runtime.powerState,
                         h.overallStatus, h.config.product.version, h.config.product.build,
                         h.hardware.systemInfo.serialNumber, h.summary.hardware.otherIdentifyingInfo, len(h.vm))
                    hosts += 1
    finally:
        Disconnect(si)
    return time.perf_counter() - started, hosts


def sync_benchmark() -> None:
    from dsm_core.credentials.secret import Secret
    from dsm_core.redfish.tls import TlsPolicy
    from dsm_core.vcenter.pyvmomi_client import connect
    from tests.vcsim import running

    with running("-cluster", "50", "-host", "20", "-vm", "1") as vc:
        calls: list[object] = []
        started = time.perf_counter()
        client = connect(vc.host, vc.port, vc.username, Secret(vc.password), TlsPolicy("pin"), calls.append)
        inventory = client.inventory()
        client.close()
        dsm = time.perf_counter() - started
        naive, counted = _naive(vc.host, vc.port, vc.username, vc.password)
    print(f"sync of {len(inventory.clusters)} clusters x {len(inventory.hosts) // max(1, len(inventory.clusters))} "
          f"hosts ({len(inventory.hosts)} hosts): DSM {dsm:.2f} s in {inventory.calls} inventory calls "
          f"({len(calls)} SOAP calls with login) — target ≤ 10 s: {'OK' if dsm <= 10 else 'MISSED'}")
    print(f"baseline, naive attribute traversal of the same {counted} hosts: {naive:.2f} s; "
          f"DSM is {naive / dsm:.1f}x faster — target ≥ 10x: {'OK' if naive / dsm >= 10 else 'MISSED'}")


def overhead_benchmark() -> None:
    code = """
import asyncio, os, sys, tempfile, time, uuid
sys.path.insert(0, %(root)r)
from pathlib import Path
from dsm_core.db import make_engine, migrate, session_scope
from dsm_core.credentials.sealing import create_key_file, encode_public_key, key_id
from dsm_core.credentials.secret import Secret
from dsm_core.models import Server, Job
from dsm_core.services import credentials, rolling, servers, settings
from dsm_core.services.bootstrap import register_worker_key
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.users import add_user
from dsm_core.services.vcenter import add_vcenter, record_sync
from dsm_worker import store
from dsm_worker.handlers import vcenter as vh
from dsm_worker.main import Worker, WorkerOptions
from tests.worker.fake_vcenter import FakeVcenter

HOSTS = %(hosts)d
endpoints = %(endpoints)r
image = %(image)r
tmp = Path(tempfile.mkdtemp())
engine = make_engine(f"sqlite:///{tmp / 'b.db'}")
migrate.upgrade(engine)
key, _ = create_key_file(tmp / "w.key")
system = ServiceContext(engine, SYSTEM)
register_worker_key(system, encode_public_key(key.public_key()), key_id(key.public_key()))
add_user(system, "bench", "admin")
from dsm_core.services.context import actor_for
admin = ServiceContext(engine, actor_for(engine, "bench"))
credentials.add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=["127.0.0.0/8"])
settings.set_setting(admin, "activity.scp_backup_before_change", "false")
settings.set_setting(admin, "network.max_requests_per_minute", "100000")
tags = [f"VCS{i:04d}" for i in range(HOSTS)]
for ep, tag in zip(endpoints, tags):
    view = servers.add_server(admin, ep)
    with session_scope(engine) as s:
        row = s.get(Server, uuid.UUID(str(view["id"])))
        row.service_tag, row.model = tag, "PowerEdge R750"
        s.add(row)
vc = FakeVcenter([f"esx-{i}" for i in range(HOSTS)], tags, minimum=1, max_concurrent=1)
vh.CONNECT = lambda *a, **k: vc
vc_id = add_vcenter(admin, "vc", "https://127.0.0.1:9", "u", Secret("p"))["id"]
record_sync(system, uuid.UUID(str(vc_id)), vc.inventory())
job = rolling.start_rolling_update(admin, "prod", image_uri=image, min_required_hosts=1)

async def run():
    worker = Worker(engine, key, WorkerOptions(dell_job_poll_seconds=0.2, scheduled_settle_seconds=1, scheduler=False))
    claimed = store.claim_jobs(engine, worker.id, 1, 600.0, ["rolling_cluster_update"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await worker._execute(claimed[0], asyncio.Event())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await worker.pool.close_all(5)
    with session_scope(engine) as s:
        status = s.get(Job, uuid.UUID(job["id"])).status
    print(f"RESULT {status} {cpu:.3f} {wall:.3f}")

asyncio.run(run())
"""
    from dsm_sim.fleet import FleetThread
    from dsm_sim.repository import serve_repo
    from dsm_sim.spec import FleetSpec
    from tests.worker.firmware_repo import BIOS_R750, PACKAGES

    hosts = 8
    spec = FleetSpec(count=hosts, start="127.201.3.1", models=("R750",), tag_scheme="vcsim", time_scale=600)
    import tempfile

    # the simulated iDRACs run in this process; the worker code runs in a child whose CPU time is DSM's own
    with FleetThread(spec) as fleet, serve_repo(Path(tempfile.mkdtemp()), "127.0.0.1", PACKAGES) as repo:
        script = code % {"root": str(ROOT), "hosts": hosts, "endpoints": list(fleet.endpoints),
                         "image": repo.uri(BIOS_R750)}
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        print("overhead benchmark failed:", proc.stderr[-2000:])
        return
    _, status, cpu, wall = line.split()
    per_host = float(cpu) / hosts
    print(f"rolling update of {hosts} hosts ({status}): wall {float(wall):.1f} s (baseline: mostly waiting on the "
          f"iDRACs), DSM's own CPU {float(cpu):.2f} s = {per_host:.2f} s per host, {float(cpu) / float(wall):.0%} of "
          f"the wall time — target ≤ 1 s per host: {'OK' if per_host <= 1.0 else 'MISSED'}")


def scenarios_benchmark() -> None:
    """200 randomized scenarios (DSM_SCENARIOS overrides the count) at normal speed, then again with every simulated
    latency doubled (DSM_SCENARIO_STRETCH=2): a race that needs a slower machine shows in one run or the other."""
    count = os.environ.get("DSM_SCENARIOS", "200")
    for stretch in ("1", "2"):
        env = {**os.environ, "DSM_SCENARIOS": count, "DSM_SCENARIO_STRETCH": stretch}
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/worker/test_rolling_scenarios.py", "-k", "randomized"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=7200)
        tail = (proc.stdout.strip().splitlines() or ["?"])[-1]
        print(f"{count} randomized rolling-update scenarios, latencies x{stretch}: {tail} in "
              f"{time.perf_counter() - started:.0f} s ({'OK' if proc.returncode == 0 else 'FAILED'})")
        if proc.returncode:
            print(proc.stdout[-3000:])


def main() -> None:
    sync_benchmark()
    overhead_benchmark()
    scenarios_benchmark()


if __name__ == "__main__":
    main()
