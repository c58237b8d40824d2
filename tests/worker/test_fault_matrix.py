"""Every simulator fault against every job type: each job ends completed or failed with a message that
says what happened, within its timeout; none is left running; afterwards every simulated iDRAC has no open
session and never saw more than 2 requests at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from dsm_core.models import Job
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, block_of, make_install

FAULTS: dict[str, dict[str, Any]] = {
    "latency": {"latency_ms": 150, "jitter_ms": 100},
    "http_503": {"error_503_rate": 0.5},
    "connection_reset": {"reset_rate": 0.4},
    "hang": {"hang_rate": 1.0, "hang_seconds": 2},
    "unauthorized_mid_session": {"unauthorized_rate": 0.5},
    "malformed_json": {"malformed_json_rate": 0.4},
    "session_exhaustion": {"session_exhaustion": True},
    "job_failure": {"job_failure": True},
}
JOB_COMMANDS = [
    ("refresh_server_info", ["servers", "refresh"]),
    ("health_check", ["servers", "health"]),
    ("fetch_event_logs", ["servers", "fetch-logs"]),
    ("test_credentials", ["servers", "test-credentials"]),
    ("network_diagnostics", ["servers", "diagnose"]),
    ("power_action", ["power", "PowerCycle", "--yes"]),
]


@pytest.fixture(scope="module")
def matrix_fleet() -> Iterator[FleetThread]:
    with FleetThread(fleet_spec(count=3, models=("R750", "R630", "R770"), time_scale=600)) as f:
        yield f


@pytest.fixture
def sqlite_install(templates: Templates, tmp_path: Path, matrix_fleet: FleetThread) -> Iterator[Install]:
    inst = make_install(templates, "sqlite", tmp_path, [block_of(matrix_fleet)])
    for ep in matrix_fleet.endpoints:
        inst.home.run("servers", "add", ep, check=True)
    yield inst
    inst.engine.dispose()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_against_every_job_type(fault: str, sqlite_install: Install, matrix_fleet: FleetThread) -> None:
    fleet, home = matrix_fleet, sqlite_install.home
    fleet.clear_faults()
    fleet.admin("POST", "/counters/reset", {"targets": "all"})
    fleet.admin("POST", "/power", {"targets": "all", "state": "On"})
    fleet.set_faults("all", **FAULTS[fault])
    net = block_of(fleet).replace(".0/24", ".0/30")
    home.run("discover", net, "--port", "8443", check=True)
    for _, command in JOB_COMMANDS:
        home.run(*command, *fleet.endpoints, check=True)
    try:
        sqlite_install.worker("--concurrency", "8", timeout=300)
    finally:
        fleet.clear_faults()
    with Session(sqlite_install.engine) as s:
        jobs = list(s.exec(select(Job)).all())
    assert len(jobs) == len(JOB_COMMANDS) + 1
    for job in jobs:
        assert job.status in ("completed", "failed"), (fault, job.job_type, job.status)
        if job.status == "failed":
            assert job.error and len(job.error) > 20, (fault, job.job_type, job.error)
    servers = fleet.servers()
    assert sum(s["open_sessions"] for s in servers) == 0, fault
    assert max(s["counters"]["peak_concurrent"] for s in servers) <= 2, fault
    if fault in ("latency", "session_exhaustion", "job_failure"):  # these slow or hinder, never break
        assert all(j.status == "completed" for j in jobs), [(j.job_type, j.error) for j in jobs]
    if fault == "hang":
        assert all(j.status == "failed" for j in jobs if j.job_type != "discovery_scan")
