"""BIOS baselines and drift on a group of 20 simulated servers: someone changes three attributes at the console
of four of them; drift lists exactly those (attribute, baseline, current); "apply baseline" writes exactly the
differing attributes, one job per drifting server, and drift returns to 0."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsm_cli.main import os_username
from dsm_core.services import groups
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates, ctx_for
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, block_of, drain, make_install

CHANGED = {"ProcTurboMode": "Disabled", "SriovGlobalEnable": "Enabled", "AcPwrRcvryUserDelay": 240}


@pytest.fixture
def fleet20() -> Iterator[FleetThread]:
    with FleetThread(fleet_spec(count=20, time_scale=600)) as f:
        yield f


def _json(install: Install, *args: str) -> Any:
    proc = install.home.run(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_drift_of_a_group_is_found_exactly_and_applying_the_baseline_clears_it(
        templates: Templates, tmp_path: Path, fleet20: FleetThread) -> None:
    install = make_install(templates, "sqlite", tmp_path, [block_of(fleet20)])
    worker = install.start_worker("--dell-job-poll", "0.2", "--scheduled-settle", "1", "--concurrency", "8")
    try:
        home = install.home
        endpoints = fleet20.endpoints
        csv = tmp_path / "web.csv"
        csv.write_text("ip_address,hostname\n" + "".join(f"{ep},web-{i:02d}\n" for i, ep in enumerate(endpoints)))
        home.run("servers", "import", str(csv), check=True)
        home.run("groups", "add", "web", check=True)
        admin = ctx_for(install.engine, os_username())  # 20 memberships in process (the command is tested alone)
        for i, ep in enumerate(endpoints):
            groups.add_member(admin, "web", ep, priority=i + 1)
        home.run("bios", "read", "--group", "web", check=True)
        drain(install)
        baseline = _json(install, "bios", "baseline", "set", "--group", "web")
        assert baseline["servers"] == 20 and baseline["drifting"] == 0, baseline
        assert baseline["source"] == endpoints[0]  # the group's first member by priority

        drifting = endpoints[3:20:5]  # four of them
        fleet20.set_bios(drifting, **CHANGED)
        home.run("bios", "read", "--group", "web", check=True)
        drain(install)
        drift = _json(install, "bios", "drift", "--group", "web")
        assert drift["drifting"] == 4 and drift["attributes"] == 12, drift
        by_server = {r["server"]: r for r in drift["servers"]}
        assert set(by_server) == set(endpoints)
        for ep in endpoints:
            expected = ([{"attribute": k, "baseline": {"ProcTurboMode": "Enabled", "SriovGlobalEnable": "Disabled",
                                                        "AcPwrRcvryUserDelay": 120}[k], "current": v}
                         for k, v in sorted(CHANGED.items())] if ep in drifting else [])
            assert by_server[ep]["drift"] == expected, (ep, by_server[ep])
            assert by_server[ep]["baseline"] == "group web"
        listed = _json(install, "servers", "list")
        assert sorted(s["bios_drift_count"] for s in listed) == [0] * 16 + [3] * 4

        applied = _json(install, "bios", "baseline", "apply", "--group", "web", "--reboot")
        assert sorted(j["server"] for j in applied["jobs"]) == sorted(drifting)
        assert all(j["attributes"] == sorted(CHANGED) for j in applied["jobs"]), applied
        drain(install)
        for j in applied["jobs"]:
            shown = _json(install, "jobs", "show", j["job_id"])
            assert shown["status"] == "completed", shown["error"]
            assert shown["details"]["attributes"] == {"ProcTurboMode": "Enabled", "SriovGlobalEnable": "Disabled",
                                                      "AcPwrRcvryUserDelay": 120}
        servers = {s["endpoint"]: s for s in fleet20.servers()}
        assert all(servers[ep]["bios"]["ProcTurboMode"] == "Enabled" for ep in drifting)
        drift = _json(install, "bios", "drift", "--group", "web")  # the writes' own read-back recomputed it
        assert drift["drifting"] == 0 and drift["attributes"] == 0, drift
        assert _json(install, "bios", "baseline", "apply", "--group", "web")["jobs"] == []
    finally:
        worker.terminate()
        assert worker.wait(60) == 0
        install.engine.dispose()
