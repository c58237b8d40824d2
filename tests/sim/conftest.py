"""Fixtures for simulator tests: fleets on their own loopback blocks, and a loopback HTTP file server."""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dsm_sim.fleet import FleetThread
from dsm_sim.spec import FleetSpec

_blocks = itertools.count(0)


def fleet_spec(**kwargs: Any) -> FleetSpec:
    """A FleetSpec on a /24 no other fleet of this test run uses (127.<pid-derived>.<n>.1)."""
    n = next(_blocks)
    second = 100 + (os.getpid() % 100) + n // 250
    kwargs.setdefault("start", f"127.{second}.{n % 250 + 1}.1")
    return FleetSpec(**kwargs)


def client(endpoint: str, **kwargs: Any) -> httpx.Client:
    kwargs.setdefault("auth", ("root", "calvin"))
    kwargs.setdefault("timeout", 10)
    return httpx.Client(base_url=f"https://{endpoint}", verify=False, trust_env=False, **kwargs)


@pytest.fixture(scope="module")
def gen_fleet() -> Iterator[FleetThread]:
    """One iDRAC of each generation: iDRAC 8 (R630), 9 (R750, the captured one), 10 (R770)."""
    with FleetThread(fleet_spec(count=3, models=("R630", "R750", "R770"), time_scale=600)) as fleet:
        yield fleet


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class FileServer:
    root: Path
    url: str

    def put(self, name: str, data: bytes) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.url}/{name}"


@pytest.fixture
def files(tmp_path: Path) -> Iterator[FileServer]:
    """A plain HTTP server on 127.0.0.1 serving tmp_path (ISOs, DUPs, catalogs)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FileServer(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
