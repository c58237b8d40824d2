"""Worker benchmark: discovery of a loopback /22 and a refresh of 1,000 servers, through a real `dsm worker`.

- Discovery: 127.0.8.0/22 (1,022 host addresses), 256 simulated iDRACs answering with 50 ms latency.
  Baseline in the same run: the same worker with one discovery thread on a 64-address slice.
  Target: ≤ 15 s.
- Refresh: 1,000 simulated iDRACs at 100 ms latency per request (a real iDRAC averages ~190 ms: see the
  capture's README). Baseline in the same run: a sequential loop doing the same reads with DMTF's `redfish`
  library, timed on 20 servers and scaled to 1,000 (a sequential loop is linear by construction).
  Target: ≥ 20x faster than that loop.
- Peak concurrent requests on any one iDRAC (from the simulator's counters) and the worker's peak RSS
  (VmHWM; target ≤ 300 MB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dsm_sim.fleet import FleetProcess
from dsm_sim.spec import FleetSpec

DSM = [str(Path(sys.executable).parent / "dsm")]
SAMPLE = int(os.environ.get("DSM_BENCH_BASELINE_SERVERS", "20"))


class Home:
    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="dsm-bench-")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DSM_")}
        self.env["DSM_HOME"] = self.dir.name
        self.env["DSM_LOGGING_LEVEL"] = "WARNING"

    def run(self, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run([*DSM, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=600)
        if proc.returncode:
            raise RuntimeError(f"dsm {' '.join(args)}: {proc.stderr[-2000:]}")
        return proc.stdout

    def setup(self, cidr: str, threads: int = 256) -> None:
        self.run("init")
        self.run(
            "credentials", "add", "lab", "--username", "root", "--password-stdin", "--range", cidr, stdin="calvin\n"
        )
        for key, value in (
            ("activity.global_max_concurrent", "256"),
            ("activity.discovery_max_threads", str(threads)),
            ("activity.log_level", "all"),
        ):
            self.run("settings", "set", key, value)

    def worker(self) -> tuple[float, float]:
        """Run `dsm worker --exit-when-idle`; (wall seconds, peak RSS in MB)."""
        started = time.monotonic()
        proc = subprocess.Popen(
            [*DSM, "worker", "--exit-when-idle", "--concurrency", "4"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak = 0.0
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                peak = max(peak, int(status.split("VmHWM:")[1].split()[0]) / 1024)
            except (OSError, IndexError):
                pass
            time.sleep(0.1)
        if proc.returncode:
            raise RuntimeError("worker failed")
        return time.monotonic() - started, peak


def bench_discovery() -> None:
    spec = FleetSpec(count=256, start="127.0.8.1", models=("R650", "R750", "R660"), faults={"all": {"latency_ms": 50}})
    with FleetProcess(spec) as fleet:
        slow = Home()
        slow.setup("127.0.8.0/22", threads=1)
        slow.run("discover", "127.0.8.0/26", "--port", "8443")
        base_seconds, _ = slow.worker()
        fast = Home()
        fast.setup("127.0.8.0/22")
        fast.run("discover", "127.0.8.0/22", "--port", "8443")
        seconds, rss = fast.worker()
        found = fast.run("servers", "list", "--json").count('"ip_address"')
        peak = max(s["counters"]["peak_concurrent"] for s in fleet.servers())
        open_sessions = fleet.open_sessions()
    per_address_base = base_seconds / 62
    print(
        f"discovery 127.0.8.0/22 (1,022 addresses, 256 iDRACs @ 50 ms): {seconds:6.1f} s (target <= 15 s) "
        f"{'ok' if seconds <= 15 else 'MISSED'}; found {found}/256"
    )
    print(
        f"  baseline, one thread on 62 addresses: {base_seconds:.1f} s = {per_address_base * 1000:.0f} ms/address; "
        f"speed-up {per_address_base * 1022 / seconds:.0f}x"
    )
    print(
        f"  peak concurrent requests on one iDRAC: {peak} (cap 2); open sessions after: {open_sessions}; "
        f"worker peak RSS {rss:.0f} MB"
    )


def dmtf_sequential(endpoints: list[str]) -> float:
    """The same reads as refresh_server_info, one server after the other, with DMTF's redfish library."""
    import redfish

    started = time.monotonic()
    for endpoint in endpoints:
        c = redfish.redfish_client(
            base_url=f"https://{endpoint}", username="root", password="calvin", default_prefix="/redfish/v1", timeout=30
        )
        c.login(auth="session")
        try:
            c.get("/redfish/v1")
            c.get("/redfish/v1/Managers/iDRAC.Embedded.1")
            c.get("/redfish/v1/Systems/System.Embedded.1")
            c.get("/redfish/v1/Chassis/System.Embedded.1")
            c.get("/redfish/v1/UpdateService/FirmwareInventory?$expand=*($levels=1)")
            storage = c.get("/redfish/v1/Systems/System.Embedded.1/Storage?$expand=*($levels=1)").dict
            for ctrl in storage.get("Members", []):
                for drive in ctrl.get("Drives", []):
                    c.get(drive["@odata.id"])
        finally:
            c.logout()
    return time.monotonic() - started


def bench_refresh() -> None:
    spec = FleetSpec(count=1000, start="127.0.16.1", faults={"all": {"latency_ms": 100}})
    with FleetProcess(spec) as fleet:
        base = dmtf_sequential(fleet.endpoints[:SAMPLE])
        per_server = base / SAMPLE
        home = Home()
        home.setup("127.0.16.0/20")
        home.run("servers", "import", "-", stdin="ip_address\n" + "\n".join(fleet.endpoints) + "\n")
        fleet.admin("POST", "/counters/reset", {"targets": "all"})
        home.run("servers", "refresh", *fleet.endpoints)
        seconds, rss = home.worker()
        import json

        job_status = json.loads(home.run("jobs", "list", "--json"))[0]["status"]
        sims = fleet.servers()
        peak = max(s["counters"]["peak_concurrent"] for s in sims)
        requests = sum(s["counters"]["requests"] for s in sims)
        open_sessions = fleet.open_sessions()
        # iDRAC 9 from 4.x and iDRAC 10 advertise $expand; the rest are read member by member.
        modern = [s["counters"]["requests"] for s in sims
                  if s["idrac_generation"] >= 10 or (s["idrac_generation"] == 9
                                                     and int(s["idrac_firmware"].split(".")[0]) >= 4)]
    ratio = per_server * 1000 / seconds
    print(f"refresh of 1,000 servers (@ 100 ms per request): {seconds:6.1f} s, {requests} requests, job {job_status}")
    print(
        f"  baseline, DMTF redfish library sequentially: {per_server:.2f} s/server on {SAMPLE} servers "
        f"-> {per_server * 1000:.0f} s for 1,000"
    )
    per = requests / 1000
    modern_per = sum(modern) / len(modern) if modern else float("nan")
    print(f"  requests per server: {per:.1f} overall; {modern_per:.1f} on the {len(modern)} iDRAC 9 >= 4.x / "
          f"iDRAC 10 (target <= 6) {'ok' if modern and max(modern) <= 6 else 'MISSED'}")
    print(f"  speed-up {ratio:.0f}x against the DMTF-library loop (was ~58x at 14.6 requests per server; "
          f"target >= 20x) {'ok' if ratio >= 20 else 'MISSED'}")
    print(
        f"  peak concurrent requests on one iDRAC: {peak} (cap 2) {'ok' if peak <= 2 else 'MISSED'}; "
        f"open sessions after: {open_sessions}"
    )
    print(f"  worker peak RSS {rss:.0f} MB (target <= 300 MB) {'ok' if rss <= 300 else 'MISSED'}")
    calls, size = activity_bytes(Path(home.dir.name) / "dsm.db")
    per_call = size / calls
    with FleetProcess(FleetSpec(count=SAMPLE * 5, start="127.0.32.1", faults={"all": {"latency_ms": 20}})) as small:
        full = Home()
        full.setup("127.0.32.0/24")
        full.run("settings", "set", "activity.max_read_body_kb", "10240")  # every body whole, as before 0009
        full.run("servers", "import", "-", stdin="ip_address\n" + "\n".join(small.endpoints) + "\n")
        full.run("servers", "refresh", *small.endpoints)
        full.worker()
        old_calls, old_size = old_layout_bytes(Path(full.dir.name) / "dsm.db")
    old_per_call = old_size / old_calls
    print(f"  activity log after the refresh, log_level all: {calls:,} calls, {per_call:.0f} bytes per call (table and "
          f"its indexes; target <= 1,024) {'ok' if per_call <= 1024 else 'MISSED'}")
    print(f"  baseline, the same refresh of {SAMPLE * 5} servers stored as before (every body whole, JSON columns): "
          f"{old_per_call:.0f} bytes per call -> {old_per_call / per_call:.1f}x smaller")


def _activity_pages(conn: Any) -> int:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'idrac_commands'")]
    marks = ",".join("?" * len(names))
    return int(conn.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0])


def activity_bytes(db: Path) -> tuple[int, int]:
    """Calls in the activity log and the bytes its table and indexes take in the SQLite file (dbstat)."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM idrac_commands").fetchone()[0]), _activity_pages(conn)
    finally:
        conn.close()


def old_layout_bytes(db: Path) -> tuple[int, int]:
    """The same rows stored as before migration 0009: headers and bodies as three JSON columns, uncompressed."""
    import json
    import shutil
    import sqlite3

    from dsm_core.redfish.redaction import unpack

    copy = db.with_name("old-layout.db")
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    try:
        rows = conn.execute("SELECT id, bodies FROM idrac_commands").fetchall()
        for row_id, blob in rows:
            kept = unpack(blob)
            values = [None if kept[k] is None else json.dumps(kept[k]) for k in ("headers", "request", "response")]
            conn.execute("UPDATE idrac_commands SET request_headers = ?, request_body = ?, response_body = ?, "
                         "bodies = NULL WHERE id = ?", (*values, row_id))
        conn.commit()
        conn.execute("VACUUM")
        return len(rows), _activity_pages(conn)
    finally:
        conn.close()


def main() -> None:
    bench_discovery()
    bench_refresh()


if __name__ == "__main__":
    main()
