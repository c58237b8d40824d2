"""A change is never sent twice, and a busy iDRAC is never missed: a real worker against the simulator,
which counts the ``ComputerSystem.Reset`` requests it carried out; and a SIGTERM that cannot hang on an
iDRAC that never answers a logout."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.integration.cli import dsm_executable
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, block_of, make_install, wait_until
from tests.worker.hostile import Behaviour, HostileIdrac

# The hostile iDRAC listens on fixed 127.0.50.x addresses: under pytest-xdist these tests share one worker.
pytestmark = pytest.mark.xdist_group("hostile-127.0.50")


@pytest.fixture
def one_idrac() -> Iterator[FleetThread]:
    # time_scale 4: a graceful shutdown (30 simulated s) takes ~7.5 real seconds, long enough to pause in.
    with FleetThread(fleet_spec(count=1, models=("R750",), time_scale=4)) as fleet:
        yield fleet


def _install(templates: Templates, backend: str, tmp_path: Path, fleet: FleetThread) -> Install:
    install = make_install(templates, backend, tmp_path, [block_of(fleet)])
    install.home.run("servers", "add", fleet.endpoints[0], check=True)
    return install


def _resets(fleet: FleetThread) -> int:
    return int(fleet.servers()[0]["counters"]["resets_received"])


def _job(install: Install) -> dict[str, Any]:
    listed = json.loads(install.home.run("jobs", "list", "--json", check=True).stdout)
    return dict(json.loads(install.home.run("jobs", "show", listed[0]["id"], "--json", check=True).stdout))


@pytest.mark.parametrize("fault", ["drop_after_action", "action_503_count"])
def test_a_reset_whose_answer_is_lost_or_refused_is_received_exactly_once(
        templates: Templates, backend: str, tmp_path: Path, one_idrac: FleetThread, fault: str) -> None:
    install = _install(templates, backend, tmp_path, one_idrac)
    install.home.run("settings", "set", "network.max_retry_attempts", "3", check=True)
    one_idrac.set_faults(one_idrac.endpoints, **({fault: True} if fault == "drop_after_action" else {fault: 1}))
    install.home.run("power", "ForceOff", one_idrac.endpoints[0], "--yes", check=True)
    install.worker()
    job = _job(install)
    assert _resets(one_idrac) == 1, "the Reset reached the iDRAC more or less than once"
    assert job["status"] == "completed", job
    assert one_idrac.servers()[0]["power_state"] == "Off"
    if fault == "drop_after_action":
        assert "not sending it again" in (job["tasks"][0]["log"] or "") or \
            "instead of resending" in (job["tasks"][0]["log"] or "")
    assert one_idrac.open_sessions() == 0


def test_a_pause_in_the_middle_of_a_shutdown_does_not_send_it_again(
        templates: Templates, backend: str, tmp_path: Path, one_idrac: FleetThread) -> None:
    install = _install(templates, backend, tmp_path, one_idrac)
    install.home.run("power", "GracefulShutdown", one_idrac.endpoints[0], "--power-timeout", "120", check=True)
    worker = install.start_worker()
    try:
        wait_until(lambda: _resets(one_idrac) == 1, what="the shutdown to be sent")
        install.home.run("settings", "set", "activity.pause_idrac_operations", "true", check=True)
        time.sleep(4)  # the task's next power-state poll meets the pause; the task goes back to pending
        install.home.run("settings", "set", "activity.pause_idrac_operations", "false", check=True)
        job = wait_until(lambda: (j := _job(install))["status"] in ("completed", "failed") and j, what="the job")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    assert job["status"] == "completed", job
    assert _resets(one_idrac) == 1, "the shutdown was sent again after the pause"
    assert "already sent" in (job["tasks"][0]["log"] or "")
    assert one_idrac.open_sessions() == 0


SCANS = 6  # each scan is about a dozen requests: half of them 503s, waited out every time


def test_discovery_finds_an_idrac_that_answers_503_half_the_time_every_time(
        templates: Templates, tmp_path: Path) -> None:
    # time_scale 30: the iDRAC's 30-minute idle session timeout is a minute here, longer than the scans wait
    # out its 503s (at 600 it would be 3 s, and sessions would expire between a retry and the next request).
    with FleetThread(fleet_spec(count=1, models=("R750",), time_scale=30)) as fleet:
        install = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
        install.home.run("settings", "set", "network.max_retry_attempts", "3", check=True)
        install.home.run("settings", "set", "network.retry_delay_seconds", "1", check=True)
        fleet.set_faults(fleet.endpoints, error_503_rate=0.5)
        address, port = fleet.endpoints[0].rsplit(":", 1)
        for _ in range(SCANS):  # scans run by one worker, two at a time (the iDRAC's per-host cap is two)
            install.home.run("discover", address, "--port", port, check=True)
        install.worker("--concurrency", "2")
        scans = json.loads(install.home.run("jobs", "list", "--json", "--type", "discovery_scan", check=True).stdout)
        assert len(scans) == SCANS
        for scan in scans:
            job = json.loads(install.home.run("jobs", "show", scan["id"], "--json", check=True).stdout)
            assert job["status"] == "completed", (job["error"], [(t["error"], t["log"]) for t in job["tasks"]])
            assert job["details"]["result"]["idracs"] == 1, job["details"]
        assert fleet.servers()[0]["counters"]["errors_5xx"] > 5  # the fault really fired
        assert fleet.open_sessions() == 0


def test_sigterm_with_an_idrac_that_never_answers_a_logout_ends_within_grace_plus_12s(
        templates: Templates, tmp_path: Path) -> None:
    install = make_install(templates, "sqlite", tmp_path, ["127.0.50.0/24"])
    with HostileIdrac("127.0.50.1", 8443, Behaviour(hang_delete=True, offhost_links=False,
                                                    offhost_session_location=False)) as idrac:
        install.home.run("servers", "add", idrac.endpoint, check=True)
        install.home.run("servers", "health", idrac.endpoint, check=True)
        log = install.home.home / "worker-term.log"
        with open(log, "w") as err:
            worker = subprocess.Popen([*dsm_executable(), "worker", "--grace", "2"], stderr=err,
                                      stdout=subprocess.DEVNULL, env=install.home.env())
            wait_until(lambda: _job(install)["status"] in ("completed", "failed"), what="the health job")
            started = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(60)
            took = time.monotonic() - started
    print(f"SIGTERM to exit: {took:.1f} s (grace 2 s + logout deadline 10 s)")
    assert code == 0
    assert took <= 2 + 12, f"the worker took {took:.1f} s to stop"
    assert any(m == "DELETE" for m, _, _ in idrac.requests), "the logout was attempted"
    text = log.read_text()
    assert "not closed" in text and idrac.endpoint in text
