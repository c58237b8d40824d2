"""A fleet of simulated iDRACs in one asyncio process, with its admin API; runnable in a thread or a subprocess.

Use from tests:
    with FleetThread(FleetSpec(count=3, time_scale=600)) as fleet:   # in-process
        fleet.endpoints → ["127.0.10.1:8443", ...]; fleet.admin_url
    with FleetProcess(FleetSpec(count=1000)) as fleet: ...             # `dsm sim` as a child process
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

import httpx

from dsm_sim.admin import AdminApp
from dsm_sim.clock import SimClock
from dsm_sim.http import start_listener
from dsm_sim.router import IdracApp
from dsm_sim.spec import FleetSpec
from dsm_sim.state import SimIdrac
from dsm_sim.tls import CertificateStore


class Fleet:
    def __init__(self, spec: FleetSpec) -> None:
        spec.validate()
        self.spec = spec
        self.clock = SimClock(spec.time_scale)
        self.idracs = [SimIdrac(s, self.clock) for s in spec.servers()]
        self._by_endpoint = {i.spec.endpoint: i for i in self.idracs}
        for key, settings in spec.faults.items():
            for idrac in self.idracs:
                if key in ("all", idrac.spec.endpoint, idrac.spec.address, str(idrac.spec.index)):
                    idrac.faults.update(settings)
        self._servers: list[asyncio.Server] = []
        self._certs: CertificateStore | None = None
        self.admin_port = 0

    def get(self, endpoint: str) -> SimIdrac | None:
        return self._by_endpoint.get(endpoint)

    async def start(self) -> None:
        self._certs = CertificateStore()
        shared = (
            self._certs.context("idrac-sim", [i.spec.address for i in self.idracs[:1]])
            if self.spec.shared_certificate
            else None
        )
        try:
            for idrac in self.idracs:
                ctx = shared or self._certs.context(f"idrac-{idrac.spec.service_tag}", [idrac.spec.address])
                server = await start_listener(idrac.spec.address, idrac.spec.port, IdracApp(idrac).handle, ctx)
                self._servers.append(server)
            admin = AdminApp(self)
            admin_server = await start_listener("127.0.0.1", self.spec.admin_port, admin.handle, None)
            self._servers.append(admin_server)
            self.admin_port = admin_server.sockets[0].getsockname()[1]
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()
        if self._certs is not None:
            self._certs.close()
            self._certs = None

    def ready_info(self) -> dict[str, Any]:
        return {
            "ready": True,
            "admin": f"http://127.0.0.1:{self.admin_port}",
            "count": len(self.idracs),
            "endpoints": [i.spec.endpoint for i in self.idracs],
            "username": self.spec.username,
            "time_scale": self.spec.time_scale,
        }


class _Handle:
    """What tests use, whichever way the fleet runs: endpoints, admin URL, admin calls."""

    admin_url: str
    endpoints: list[str]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.admin_url}{path}", json=body, timeout=30, trust_env=False)
        response.raise_for_status()
        return response.json()

    def servers(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/fleet")["servers"])

    def set_faults(self, targets: list[str] | str = "all", **faults: Any) -> Any:
        return self.admin("POST", "/faults", {"targets": targets, "set": faults})

    def clear_faults(self, targets: list[str] | str = "all") -> Any:
        return self.admin("POST", "/faults", {"targets": targets, "clear": True})

    def set_bios(self, targets: list[str] | str, **values: Any) -> Any:
        return self.admin("POST", "/bios", {"targets": targets, "set": values})

    def set_health(self, targets: list[str] | str, faults: list[str]) -> Any:
        return self.admin("POST", "/health", {"targets": targets, "faults": faults})

    def open_sessions(self) -> int:
        return sum(s["open_sessions"] for s in self.servers())


class FleetThread(_Handle):
    """Runs a Fleet on an event loop in a daemon thread of this process."""

    def __init__(self, spec: FleetSpec) -> None:
        self.fleet = Fleet(spec)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dsm-sim", daemon=True)

    def start(self) -> FleetThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fleet.start(), self._loop).result(timeout=120)
        info = self.fleet.ready_info()
        self.admin_url, self.endpoints = info["admin"], info["endpoints"]
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.fleet.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> FleetThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spec_to_args(spec: FleetSpec) -> list[str]:
    args = [
        "--count",
        str(spec.count),
        "--start",
        spec.start,
        "--port",
        str(spec.port),
        "--models",
        ",".join(spec.models),
        "--seed",
        str(spec.seed),
        "--tag-scheme",
        spec.tag_scheme,
        "--username",
        spec.username,
        "--time-scale",
        str(spec.time_scale),
        "--random-faults",
        str(spec.random_faults),
    ]
    for key, faults in spec.health_faults.items():
        args += ["--fault", f"{key}={','.join(faults)}"]
    for model, version in spec.firmware.items():
        args += ["--firmware", f"{model}={version}"]
    for key, settings in spec.faults.items():
        args += ["--inject", f"{key}:" + ",".join(f"{k}={v}" for k, v in settings.items())]
    if spec.shared_certificate:
        args.append("--shared-certificate")
    return args


class FleetProcess(_Handle):
    """Runs `python -m dsm_sim` as a child process and waits for its ready line."""

    def __init__(self, spec: FleetSpec, startup_timeout: float = 120.0) -> None:
        self.spec = spec
        self.timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> FleetProcess:
        env = dict(os.environ, DSM_SIM_PASSWORD=self.spec.password)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dsm_sim", *spec_to_args(self.spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                info = json.loads(line)
                if info.get("ready"):
                    self.admin_url, self.endpoints = info["admin"], info["endpoints"]
                    self.pid = self.proc.pid
                    return self
        err = self.proc.stderr.read() if self.proc.stderr else ""
        self.stop()
        raise RuntimeError(f"dsm sim did not become ready: {line!r} {err[-2000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        self.proc = None

    def __enter__(self) -> FleetProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["Fleet", "FleetProcess", "FleetSpec", "FleetThread", "asdict"]
