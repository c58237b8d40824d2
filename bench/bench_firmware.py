"""Firmware benchmark: fleet compliance, the :firmware view, and parsing Dell's catalog.

1. Compliance of 10,000 servers x 25 components against a 2,000-package catalog, computed and stored (one
   transaction, SQLite) — target ≤ 2 s; baseline in the same run: the same comparison done the naive way
   (every component against every package), timed on 200 servers and scaled.
2. The :firmware view's first paint with 10,000 servers — target ≤ 300 ms; baseline: the :servers view's first
   paint of the same fleet in the same run.
3. A 30 MB UTF-16 catalog parsed — target ≤ 3 s and peak RSS ≤ 200 MB, in a child process of its own; baseline:
   ElementTree building the whole tree of the same file.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVERS = 10_000
COMPONENTS = 25
PACKAGES = 2_000
SIZE = (160, 48)
SYSTEMS = tuple((format(0x0900 + k, "04X"), f"R{700 + k}") for k in range(20))


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _engine(directory: Path, servers: int) -> Any:
    from dsm_core.db import make_engine, migrate
    from dsm_core.services.context import SYSTEM, ServiceContext
    from dsm_core.services.users import add_user
    from tests.tui.seed import seed

    engine = make_engine(f"sqlite:///{directory / 'bench.db'}")
    migrate.upgrade(engine)
    add_user(ServiceContext(engine, SYSTEM), "bench", "admin")
    seed(engine, servers, activity=0, jobs=False)
    return engine


def _catalog_packages() -> list[Any]:
    """2,000 packages over 20 platforms: 25 component ids, 2 PCI devices, versions spread around installed."""
    from dsm_sim.repository import Pkg

    out = []
    for k in range(PACKAGES):
        cid = str(100_000 + k % 80)
        platforms = tuple(SYSTEMS[(k // 80 + j) % 20] for j in range(10))
        pci = ((("14E4", "165F", "1028", f"{k % 50:04X}"),) if k % 40 == 0 else ())
        out.append(Pkg(f"P{k:04d}", f"Component {cid}", f"{1 + k % 3}.{k % 10}.{k % 7}", f"F{k}/1/P{k}.EXE", (cid,),
                       pci=pci, systems=platforms, criticality=str(1 + k % 3), reboot=k % 5 == 0))
    return out


def compliance() -> dict[str, Any]:
    import sqlalchemy as sa
    from sqlmodel import Session

    from dsm_core.firmware.catalog import parse_catalog
    from dsm_core.firmware.compliance import Platform, classify
    from dsm_core.firmware.versions import version_key
    from dsm_core.models import FirmwareInventory, FirmwareRepository
    from dsm_core.services.firmware import recompute_compliance, store_catalog
    from dsm_sim.repository import catalog_bytes
    from tests.tui.seed import NOW, sid

    with tempfile.TemporaryDirectory(prefix="dsm-bench-fw-") as tmp:
        engine = _engine(Path(tmp), SERVERS)
        catalog = parse_catalog(catalog_bytes(_catalog_packages()))
        with engine.begin() as conn:
            rows: list[dict[str, Any]] = []
            for i in range(SERVERS):
                for c in range(COMPONENTS):
                    cid = "0" if c == COMPONENTS - 1 else str(100_000 + (i + c) % 80)
                    rows.append({"id": uuid.UUID(int=(20 << 96) | (i * COMPONENTS + c)), "server_id": sid(i),
                                 "inventory_id": f"Installed-{cid}-1.{c}__Comp.{c}", "name": f"Component {cid}",
                                 "version": f"{1 + c % 3}.{(i + c) % 10}.{c % 7}", "component_id": cid,
                                 "status": "Installed", "updateable": True, "fqdd": f"Comp.{c}",
                                 "pci_vendor_id": "14E4" if cid == "0" else None,
                                 "pci_device_id": "165F" if cid == "0" else None,
                                 "pci_subvendor_id": "1028" if cid == "0" else None,
                                 "pci_subdevice_id": f"{i % 50:04X}" if cid == "0" else None,
                                 "collected_at": NOW, "created_at": NOW})
                if len(rows) >= 50_000:
                    conn.execute(sa.insert(FirmwareInventory.__table__), rows)
                    rows = []
            if rows:
                conn.execute(sa.insert(FirmwareInventory.__table__), rows)
            # a spread of platforms: server i is system 0x0900 + i % 20 (matches the catalog's 20 platforms)
            conn.execute(sa.text("UPDATE servers SET system_id = 2304 + (CAST(substr(hostname, 5) AS INTEGER) % 20)"))
        with Session(engine) as s:
            repo = FirmwareRepository(name="drm", url="http://10.0.0.5/r", share_type="http", host="10.0.0.5")
            s.add(repo)
            s.commit()
            store_catalog(s, repo.id, catalog)
            s.commit()
            repo_id = repo.id
        with Session(engine) as s:
            t0 = time.perf_counter()
            if os.environ.get("DSM_BENCH_PROFILE"):
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
            written = recompute_compliance(s, repository_ids=[repo_id])
            s.commit()
            elapsed = time.perf_counter() - t0
            if os.environ.get("DSM_BENCH_PROFILE"):
                prof.disable()
                pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        with engine.connect() as conn:
            states = dict(conn.execute(sa.text(
                "SELECT 'upgrade', SUM(upgrades) FROM firmware_compliance UNION ALL SELECT 'compliant', SUM(compliant) "
                "FROM firmware_compliance UNION ALL SELECT 'downgrade', SUM(downgrades) FROM firmware_compliance "
                "UNION ALL SELECT 'not_in_catalog', SUM(not_in_catalog) FROM firmware_compliance")).all())
        # Baseline: the naive comparison (every installed component against every package), 200 servers.
        packages = catalog.packages
        sample = 200
        with engine.connect() as conn:
            inv = conn.execute(sa.text("SELECT s.system_id, f.component_id, f.version FROM firmware_inventory f "
                                       "JOIN servers s ON s.id = f.server_id")).all()[: sample * COMPONENTS]
        t0 = time.perf_counter()
        for system_id, cid, version in inv:
            platform = Platform(system_id, None).keys()[0]
            best = None
            for p in packages:
                if platform in p.systems and any(d.component_id == cid for d in p.devices) and (
                        best is None or version_key(p.vendor_version) > version_key(best.vendor_version)):
                    best = p
            classify(version, best.vendor_version if best else None)
        naive = (time.perf_counter() - t0) * SERVERS / sample
        engine.dispose()
    return {"seconds": elapsed, "servers": written, "states": states, "naive_seconds": naive}


async def _first_paint(engine: Any, view: str, n: int) -> float:
    from dsm_core.services.context import actor_for
    from dsm_tui.app import DsmApp
    from dsm_tui.widgets.table import VirtualTable
    from tests.tui.seed import NOW

    painted: dict[str, float] = {}
    original = VirtualTable.render_line

    def render_line(self: VirtualTable[Any], y: int) -> Any:
        strip = original(self, y)
        if y >= 1 and self.shown:
            painted["at"] = time.perf_counter()
        return strip

    setattr(VirtualTable, "render_line", render_line)  # noqa: B010 - instrument the paint, this run only
    app = DsmApp(engine, actor_for(engine, "bench"), start_view=view, clock=lambda: NOW, poll_seconds=3600)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        while "at" not in painted or len(app.screen.table.rows) < n:
            await asyncio.sleep(0.001)
        elapsed = painted["at"] - started
        await pilot.pause()
    setattr(VirtualTable, "render_line", original)  # noqa: B010
    return elapsed


def view_child(view: str) -> None:
    """One view's first paint, in a process of its own (each starts as cold as an operator's console, which has
    imported its modules before it reads anything: so here, before the seeding)."""
    import dsm_tui.app  # noqa: F401
    from tests.tui.seed import seed_firmware

    with tempfile.TemporaryDirectory(prefix="dsm-bench-fwview-") as tmp:
        engine = _engine(Path(tmp), SERVERS)
        seed_firmware(engine, SERVERS, COMPONENTS)
        gc.collect()  # the seeding's garbage is this benchmark's, not the console's: collected before the clock starts
        seconds = asyncio.run(_first_paint(engine, view, SERVERS))
        engine.dispose()
    print(json.dumps({"seconds": seconds, "rss_mb": _peak_rss_mb()}))


def write_big_catalog(path: Path, target_mb: int = 30) -> int:
    """A UTF-16 catalog of about ``target_mb`` MB in Dell's shape (many platforms and devices per package)."""
    from dsm_sim.repository import Pkg, catalog_xml

    pkgs = []
    k = 0
    size = 0
    systems = tuple((format(0x0600 + s, "04X"), f"R{600 + s}") for s in range(30))
    while size < target_mb * 1024 * 1024:
        batch = [Pkg(f"B{k + j:05d}", f"Package {k + j} firmware for many devices", f"{j % 9}.{k % 50}.{j}",
                     f"FOLDER{k + j:07d}/1/Pkg_{k + j}_WN64_{j}.EXE", (str(100000 + j),), systems=systems,
                     extra_devices=6, pci=(("14E4", "165F", "1028", f"{j:04X}"),)) for j in range(500)]
        pkgs += batch
        k += 500
        size = 2 * len(catalog_xml(pkgs[-500:])) * (len(pkgs) // 500)
    text = catalog_xml(pkgs)
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    return len(pkgs)


def parse_child(path: str, mode: str) -> None:
    t0 = time.perf_counter()
    if mode == "dsm":
        from dsm_core.firmware.catalog import parse_catalog

        with open(path, "rb") as f:
            count = len(parse_catalog(f).packages)
    else:
        from xml.etree import ElementTree as ET

        count = sum(1 for _ in ET.parse(path).getroot().iter("SoftwareComponent"))
    print(json.dumps({"seconds": time.perf_counter() - t0, "packages": count, "rss_mb": _peak_rss_mb()}))


def _child(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"bench_firmware child {args} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    comp = _child("--compliance")
    print(f"compliance of {SERVERS:,} servers x {COMPONENTS} components against {PACKAGES:,} packages, computed and "
          f"stored: {comp['seconds']:.2f} s ({comp['states']}); naive comparison (every package for every "
          f"component) {comp['naive_seconds']:.1f} s → {comp['naive_seconds'] / comp['seconds']:.0f}x faster")
    firmware = _child("--view", "firmware")
    servers = _child("--view", "servers")
    print(f":firmware first paint with {SERVERS:,} servers: {firmware['seconds'] * 1000:.0f} ms (the :servers view "
          f"of the same fleet: {servers['seconds'] * 1000:.0f} ms, "
          f"ratio {firmware['seconds'] / servers['seconds']:.2f})")
    with tempfile.TemporaryDirectory(prefix="dsm-bench-catalog-") as tmp:
        path = Path(tmp) / "Catalog.xml"
        count = write_big_catalog(path)
        mb = path.stat().st_size / 2**20
        ours = _child("--parse", str(path), "dsm")
        tree = _child("--parse", str(path), "etree")
    assert ours["packages"] == count == tree["packages"], (ours, tree, count)
    print(f"catalog of {mb:.0f} MB UTF-16 ({count:,} packages): parsed in {ours['seconds']:.2f} s, peak RSS "
          f"{ours['rss_mb']:.0f} MB; ElementTree's whole tree {tree['seconds']:.2f} s, {tree['rss_mb']:.0f} MB "
          f"(RSS ratio {tree['rss_mb'] / ours['rss_mb']:.1f}x)")
    print(f"targets: compliance ≤ 2 s {_verdict(comp['seconds'] <= 2)}; :firmware first paint ≤ 300 ms "
          f"{_verdict(firmware['seconds'] <= 0.3)}; 30 MB catalog ≤ 3 s {_verdict(ours['seconds'] <= 3)} with RSS "
          f"≤ 200 MB {_verdict(ours['rss_mb'] <= 200)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--compliance":
        print(json.dumps(compliance()))
    elif len(sys.argv) > 2 and sys.argv[1] == "--view":
        view_child(sys.argv[2])
    elif len(sys.argv) > 3 and sys.argv[1] == "--parse":
        parse_child(sys.argv[2], sys.argv[3])
    else:
        main()
