"""Refresh issues just enough requests: ≤ 6 per iDRAC 9 ≥ 4.x / iDRAC 10 (session login and logout included),
with $expand where the service root advertises it, and per-member reads where it does not (iDRAC 8)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from dsm_core.models import FirmwareInventory, Server
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import block_of, make_install


def test_refresh_takes_at_most_six_requests_where_expand_is_supported(templates: Templates, tmp_path: Path) -> None:
    with FleetThread(fleet_spec(count=3, models=("R750", "R770", "R630"), time_scale=600)) as fleet:
        install = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
        install.home.run("servers", "import", "-", stdin="ip_address\n" + "\n".join(fleet.endpoints) + "\n",
                         check=True)
        fleet.admin("POST", "/counters/reset", {"targets": "all"})
        install.home.run("servers", "refresh", *fleet.endpoints, check=True)
        install.worker()
        sims = {f"{s['ip_address']}:{s['port']}" if "ip_address" in s else s["endpoint"]: s for s in fleet.servers()}
        with Session(install.engine) as s:
            servers = {f"{r.ip_address}:{r.port}": r for r in s.exec(select(Server)).all()}
            firmware = {sid: n for sid, n in ((sv.id, len(s.exec(select(FirmwareInventory).where(
                FirmwareInventory.server_id == sv.id)).all())) for sv in servers.values())}
    counts = {e: sims[e]["counters"]["requests"] for e in fleet.endpoints}
    r750, r770, r630 = fleet.endpoints
    print("requests per server:", counts)
    assert counts[r750] <= 6 and counts[r770] <= 6, counts
    assert counts[r630] > 6  # iDRAC 8 has no $expand: one read per member, still complete
    for endpoint, server in servers.items():
        assert server.model and server.idrac_firmware and server.storage_summary is not None, endpoint
        assert firmware[server.id] > 3, endpoint
        assert server.storage_summary["controllers"], endpoint
