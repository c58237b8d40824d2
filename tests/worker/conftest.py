"""Fixtures for worker tests: a DSM installation (SQLite or PostgreSQL) and a simulated fleet to manage."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from dsm_cli.main import os_username
from dsm_core.credentials.secret import Secret
from dsm_core.db import make_engine
from dsm_core.services import credentials, settings
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates, ctx_for, fresh_database
from tests.integration.cli import DsmHome, dsm_executable
from tests.sim.conftest import fleet_spec


@dataclass
class Install:
    home: DsmHome
    engine: Engine
    url: str

    def worker(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """`dsm worker --exit-when-idle` to the end, as a real process."""
        proc = subprocess.run(
            [*dsm_executable(), "worker", "--exit-when-idle", *args],
            capture_output=True,
            text=True,
            env=self.home.env(),
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    def start_worker(self, *args: str) -> subprocess.Popen[str]:
        """A worker in the background; its log goes to a file (a pipe nobody reads would block it)."""
        self.home.home.mkdir(parents=True, exist_ok=True)
        log = open(self.home.home / f"worker-{len(list(self.home.home.glob('worker-*.log')))}.log", "w")  # noqa: SIM115
        return subprocess.Popen(
            [*dsm_executable(), "worker", *args], stdout=subprocess.DEVNULL, stderr=log, text=True, env=self.home.env()
        )


def make_install(templates: Templates, backend: str, tmp_path: Path, ranges: list[str]) -> Install:
    url = None if backend == "sqlite" else fresh_database(templates, backend, tmp_path, empty=True)
    home = DsmHome(tmp_path / "home", url, {})
    home.run("init", check=True)
    db_url = url or f"sqlite:///{home.home / 'dsm.db'}"
    engine = make_engine(db_url)
    # The credential set and the settings go through the service layer in this process: the same validation,
    # sealing and audit as `dsm credentials add` and `dsm settings set` (tested as commands elsewhere),
    # without a process start each.
    admin = ctx_for(engine, os_username())
    credentials.add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=ranges)
    # Fast failure in tests: short timeouts, one quick retry.
    for key, value in (
        ("network.read_timeout_seconds", "5"),
        ("network.connection_timeout_seconds", "3"),
        ("network.max_retry_attempts", "1"),
        ("network.retry_delay_seconds", "0"),
        # The per-iDRAC rate limit (60 a minute by default) is tested on its own; here it would only make
        # tests that read one simulated iDRAC many times wait out minutes.
        ("network.max_requests_per_minute", "100000"),
    ):
        settings.set_setting(admin, key, value)
    return Install(home, engine, db_url)


@pytest.fixture
def fleet() -> Iterator[FleetThread]:
    with FleetThread(
        fleet_spec(
            count=4, models=("R750", "R630", "R770", "R660"), time_scale=600, health_faults={"2": ("psu", "fan")}
        )
    ) as f:
        yield f


def block_of(fleet: FleetThread) -> str:
    first = fleet.endpoints[0].split(":")[0]
    return first.rsplit(".", 1)[0] + ".0/24"


@pytest.fixture
def install(templates: Templates, backend: str, tmp_path: Path, fleet: FleetThread) -> Iterator[Install]:
    inst = make_install(templates, backend, tmp_path, [block_of(fleet)])
    yield inst
    inst.engine.dispose()


def wait_until(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``check`` until it is truthy (returning its value), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def drain(install: Install, timeout: float = 240) -> None:
    """Until the worker has ended every job created so far (several may run side by side)."""
    from sqlmodel import Session, col, select

    from dsm_core.models import Job

    deadline = time.monotonic() + timeout
    while True:
        with Session(install.engine) as s:
            if s.exec(select(Job.id).where(col(Job.status).in_(("pending", "running")))).first() is None:
                return
        assert time.monotonic() < deadline, "the worker did not end the jobs in time"
        time.sleep(0.2)
