"""DMTF's own validators judge the simulator: one iDRAC of each generation, 0 FAIL.

Run offline against the DSP8010 CSDL in ../shared/testbeds/redfish-csdl, with proxies pointing nowhere so
nothing can leave the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsm_sim.fleet import FleetThread
from tests.conftest import SHARED

CSDL = SHARED / "testbeds" / "redfish-csdl"
PROFILE = SHARED / "testbeds" / "profiles" / "IdracBasic.v1_0_0.json"
GENERATIONS = [(0, 8), (1, 9), (2, 10)]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed (it is in the test extra of pyproject.toml)"
    return found


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def _totals(output: str) -> dict[str, int]:
    """The PASS/WARN/FAIL/NOT TESTED table both validators print last."""
    rows = re.findall(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", output)
    assert rows, f"no result table in validator output:\n{output[-3000:]}"
    p, w, f, n = (int(x) for x in rows[-1])
    return {"pass": p, "warn": w, "fail": f, "not_tested": n}


@pytest.mark.parametrize(("index", "generation"), GENERATIONS, ids=["idrac8", "idrac9", "idrac10"])
def test_service_validator_reports_no_failure(gen_fleet: FleetThread, tmp_path: Path, index: int,
                                              generation: int) -> None:
    endpoint = gen_fleet.endpoints[index]
    assert gen_fleet.servers()[index]["idrac_generation"] == generation
    proc = subprocess.run(
        [_tool("rf_service_validator"), "--ip", f"https://{endpoint}", "-u", "root", "-p", "calvin",
         "--authtype", "Session", "--skipschema", "--schema_directory", str(CSDL),
         "--ext_http_proxy", "http://127.0.0.1:9", "--ext_https_proxy", "http://127.0.0.1:9",
         "--logdir", str(tmp_path), "--payload", "Tree", "/redfish/v1",
         "--collectionlimit", "LogEntry", "5", "SoftwareInventory", "4"],
        capture_output=True, text=True, env=_env(), timeout=120)
    totals = _totals(proc.stdout + proc.stderr)
    assert totals["fail"] == 0, proc.stdout[-4000:]
    assert proc.returncode == 0
    assert totals["pass"] > 1000  # the whole tree was walked, not just the root


@pytest.mark.parametrize(("index", "generation"), GENERATIONS, ids=["idrac8", "idrac9", "idrac10"])
def test_interop_validator_idrac_basic_profile(gen_fleet: FleetThread, tmp_path: Path, index: int,
                                               generation: int) -> None:
    proc = subprocess.run(
        [_tool("rf_interop_validator"), "--ip", f"https://{gen_fleet.endpoints[index]}", "-u", "root",
         "-p", "calvin", "--authtype", "Session", "--logdir", str(tmp_path), str(PROFILE)],
        capture_output=True, text=True, env=_env(), timeout=120)
    totals = _totals(proc.stdout + proc.stderr)
    assert totals["fail"] == 0, proc.stdout[-4000:]
    assert proc.returncode == 0
    assert totals["pass"] >= 20
