"""`dsm demo` (what `make demo` runs): a throwaway DSM with a simulated fleet, a worker and the console.

Everything lives under a temporary DSM_HOME on SQLite: `dsm init`, a simulated fleet of 40 iDRACs
on loopback (a few with health faults, one answering 503s, one slow, one whose password differs
from the lab credential set), a credential set for them, a `dsm worker`, a local firmware repository
(a Dell Repository Manager catalog and DUPs served over HTTP on loopback), and a discovery of the
fleet followed by a refresh, a health check and a sync of the repository's catalog (so :firmware shows
the fleet's compliance). When govmomi's vCenter simulator has been built (``.testbeds/vcsim``, as ``make test``
builds it, or ``vcsim`` on the PATH), it runs too: two clusters of four ESXi hosts whose service tags are the
first eight iDRACs', added as a vCenter, synced and safety-checked (``:clusters``, ``u`` for a rolling update).
Then the console opens. Quitting it stops the worker, the repository and the
fleet and removes the temporary home (``--keep`` leaves it for a look).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

DEMO_SERVERS = 40
SIM_PASSWORD = "calvin"


def _dsm(*args: str) -> list[str]:
    return [sys.executable, "-m", "dsm_cli.main", *args]


class Demo:
    def __init__(self, count: int, keep: bool) -> None:
        self.count = count
        self.keep = keep
        self.home = Path(tempfile.mkdtemp(prefix="dsm-demo-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DSM_")}
        self.env["DSM_HOME"] = str(self.home)
        self.procs: list[subprocess.Popen[str]] = []
        self.stopping = threading.Event()
        self.follow_up: threading.Thread | None = None
        third = random.randint(100, 250)
        self.start = f"127.77.{third}.1"
        self.block = f"127.77.{third}.0/24"
        self.repo_host = f"127.77.{third}.254"
        self.admin = ""
        self.vcenter = False
        self.resources = contextlib.ExitStack()

    def say(self, text: str) -> None:
        print(f"demo: {text}", flush=True)

    def run(self, *args: str, stdin: str | None = None) -> str:
        if self.stopping.is_set():
            raise RuntimeError("the demo is stopping")
        proc = subprocess.run(_dsm(*args), env=self.env, input=stdin, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"`dsm {' '.join(args)}` failed: {proc.stderr.strip()}")
        return proc.stdout

    def start_fleet(self) -> None:
        last = self.start.rsplit(".", 1)[0]
        args = [
            "sim", "--count", str(self.count), "--start", self.start, "--port", "8443", "--time-scale", "30",
            "--seed", "7", "--shared-certificate", "--tag-scheme", "vcsim",
            "--fault", "3=psu,fan", "--fault", "8=disk", "--fault", "15=dimm", "--fault", "27=temp",
            "--random-faults", "0.05",
            "--inject", f"{last}.6:8443:error_503_rate=0.5",
            "--inject", f"{last}.12:8443:latency_ms=900,jitter_ms=300",
            "--inject", f"{last}.21:8443:unauthorized_rate=1",
        ]
        log = open(self.home / "sim.log", "w")  # noqa: SIM115 - closed with the process at exit
        env = dict(self.env, DSM_SIM_PASSWORD=SIM_PASSWORD)
        proc = subprocess.Popen(_dsm(*args), env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulated fleet did not start; see {self.home / 'sim.log'}")
        info = json.loads(line)
        self.admin = str(info["admin"])
        self.say(f"{len(info['endpoints'])} simulated iDRACs on {self.start}… port 8443 (admin API {info['admin']})")
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained

    def start_vcenter(self) -> None:
        """govmomi's vcsim, when it has been built: a simulator, said as such, never a vCenter made up here."""
        found = shutil.which("vcsim")
        built = Path(__file__).resolve().parent.parent / ".testbeds" / "vcsim"
        binary = found or (str(built) if built.is_file() else None)
        if binary is None:
            self.say("no vCenter in this demo: build govmomi's simulator with "
                     "`bash ../shared/testbeds/vcsim/build.sh .testbeds/vcsim` (Debian's Go and govmomi packages)")
            return
        log = open(self.home / "vcsim.log", "w")  # noqa: SIM115 - closed with the process at exit
        proc = subprocess.Popen([binary, "-l", "127.0.0.1:0", "-cluster", "2", "-host", "4", "-vm", "3"],
                                stdout=subprocess.PIPE, stderr=log, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("URL "):
            self.say(f"vcsim did not start; see {self.home / 'vcsim.log'}")
            return
        from urllib.parse import unquote, urlsplit

        url = urlsplit(line.split(" ", 1)[1].strip())
        self.run("vcenter", "add", "demo-vc", "--url", f"https://{url.hostname}:{url.port}", "--username",
                 unquote(url.username or ""), "--password-stdin", stdin=unquote(url.password or "") + "\n")
        self.vcenter = True
        self.say(f"vCenter simulator (govmomi vcsim) at https://{url.hostname}:{url.port}: 2 clusters x 4 hosts")

    def start_worker(self) -> None:
        log = open(self.home / "worker.log", "w")  # noqa: SIM115 - closed with the process at exit
        self.procs.append(subprocess.Popen(_dsm("worker", "--concurrency", "4"), env=self.env,
                                           stdout=subprocess.DEVNULL, stderr=log, text=True))
        self.say(f"worker started (log: {self.home / 'worker.log'})")

    def start_repository(self) -> None:
        """A local repository as DRM writes one, for every model the simulator knows; the worker syncs it."""
        from dsm_sim.repository import demo_packages, serve_repo

        repo = self.resources.enter_context(serve_repo(self.home / "repo", self.repo_host, demo_packages()))
        self.run("firmware", "repo", "add", "demo-repo", "--url", repo.url)
        self.say(f"firmware repository demo-repo at {repo.url} (Catalog.xml and DUPs)")

    def setup(self) -> None:
        self.say(f"temporary DSM_HOME {self.home}")
        self.run("init")
        self.run("credentials", "add", "lab", "--username", "root", "--password-stdin", "--range", self.block,
                 stdin=SIM_PASSWORD + "\n")
        for key, value in (("network.read_timeout_seconds", "10"), ("network.connection_timeout_seconds", "3"),
                           ("network.max_retry_attempts", "1")):
            self.run("settings", "set", key, value)
        self.start_fleet()
        self.start_repository()
        self.start_vcenter()
        self.start_worker()
        last = self.start.rsplit(".", 1)[0]
        self.run("discover", f"{self.start}-{last}.{self.count}", "--port", "8443")
        self.say("discovery queued; a refresh and a health check of what it finds follow")
        self.follow_up = threading.Thread(target=self._health_after_discovery, daemon=True)
        self.follow_up.start()

    def _health_after_discovery(self) -> None:
        """Once discovery has found the fleet, check its health (what an operator would do next)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                jobs = json.loads(self.run("jobs", "list", "--json"))
            except (RuntimeError, ValueError):
                return
            if any(j["job_type"] == "discovery_scan" and j["status"] in ("completed", "failed") for j in jobs):
                break
            if self.stopping.wait(1):
                return
        try:
            servers = json.loads(self.run("servers", "list", "--json"))
            refs = [s["id"] for s in servers]
            targets = [arg for ref in refs for arg in ("--server", ref)]
            if refs:
                self.run("jobs", "create", "refresh_server_info", *targets)
                self.run("jobs", "create", "health_check", *targets)
            # compliance is computed when the catalog arrives and again as each refresh lands
            self.run("firmware", "repo", "sync", "demo-repo")
            if self.vcenter:  # hosts link to servers by the service tags the refresh reads
                self._wait_idle("refresh_server_info")
                self.run("vcenter", "sync")
                self._wait_idle("vcenter_sync")
                self.run("safety", "check", "--cluster", "DC0_C0", "--cluster", "DC0_C1")
                self._windows()
            self._bios_drift(refs[:8])
        except (RuntimeError, ValueError):
            pass

    def _windows(self) -> None:
        """The calendar: safety checked every ten minutes from now on, and a rolling update of DC0_C0 planned for
        tomorrow 02:00 awaiting approval (four eyes is off: the demo has one user, who may approve it with `a`)."""
        from datetime import UTC, datetime, timedelta

        self.run("safety", "schedule", "--enable", "--cron", "*/10 * * * *")
        self.run("settings", "set", "maintenance.four_eyes", "false")
        start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
        self.run("windows", "create", "--title", "BIOS and NIC firmware on DC0_C0", "--cluster", "DC0_C0",
                 "--type", "rolling_cluster_update", "--start", start.isoformat(),
                 "--end", (start + timedelta(hours=4)).isoformat(), "--requires-approval",
                 "--detail", "repository=demo-repo", "--detail", "min_required_hosts=2")

    def _wait_idle(self, job_type: str) -> None:
        for _ in range(120):
            jobs = json.loads(self.run("jobs", "list", "--json", "--type", job_type))
            if not any(j["status"] in ("pending", "running") for j in jobs) or self.stopping.wait(1):
                return

    def _bios_drift(self, refs: list[str]) -> None:
        """A group held to a BIOS baseline, and two of its servers changed at their console: drift to see
        (`:servers` DRIFT column, `/drift:>0`, the BIOS tab of the detail)."""
        if len(refs) < 4:
            return
        self.run("groups", "add", "bios-baseline")
        for ref in refs:
            self.run("groups", "add-member", "bios-baseline", ref)
        self.run("bios", "read", "--group", "bios-baseline")
        self._wait_idle("bios_config_read")
        self.run("bios", "baseline", "set", "--group", "bios-baseline")
        servers = {s["id"]: f"{s['ip_address']}:{s['port']}" for s in json.loads(self.run("servers", "list", "--json"))}
        import httpx

        httpx.post(f"{self.admin}/bios", json={"targets": [servers[r] for r in refs[2:4]],
                                              "set": {"ProcTurboMode": "Disabled", "SriovGlobalEnable": "Enabled"}},
                   timeout=10, trust_env=False)
        self.run("bios", "read", "--group", "bios-baseline")

    def console(self, extra: Sequence[str]) -> int:
        return subprocess.run(_dsm(*extra), env=self.env).returncode

    def stop(self) -> None:
        # The worker first (it logs out of every iDRAC session it holds), then the fleet it talks to.
        # A second Ctrl+C or SIGTERM must not cut this short and leave them running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # The follow-up thread may be running a `dsm` command: let it finish, or it could recreate
        # the home after it is removed.
        self.stopping.set()
        if self.follow_up is not None:
            self.follow_up.join(130)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.resources.close()  # the repository's HTTP server
        if self.keep:
            self.say(f"kept {self.home} (DSM_HOME={self.home} dsm … to look again)")
        else:
            shutil.rmtree(self.home, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dsm demo", description="DSM with a simulated fleet, a worker and the console, "
                                                              "all under a temporary DSM_HOME; quitting stops it all.")
    p.add_argument("--count", type=int, default=DEMO_SERVERS, help=f"simulated iDRACs (default {DEMO_SERVERS})")
    p.add_argument("--keep", action="store_true", help="keep the temporary DSM_HOME when you quit")
    p.add_argument("--no-console", action="store_true", help="set everything up, wait for Ctrl+C (for scripts)")
    args, console_args = p.parse_known_args(argv)
    if not 1 <= args.count <= 250:
        print("dsm demo: --count must be 1 to 250 (one loopback /24)", file=sys.stderr)
        return 2
    demo = Demo(args.count, args.keep)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # a stopped demo still stops what it started
    try:
        demo.setup()
        if args.no_console:
            demo.say("ready; Ctrl+C stops everything")
            while True:
                time.sleep(3600)
        return demo.console(console_args)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"dsm demo: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.stop()
