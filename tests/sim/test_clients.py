"""Independent clients use the simulator as they use an iDRAC: DMTF's `redfish` library and `redfishtool`.

Each logs in with a session, reads PowerState, resets, inserts virtual media and logs out; afterwards the
admin API must report no open session anywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import redfish

from dsm_sim.fleet import FleetThread
from tests.sim.conftest import FileServer


def _media_path(fleet: FleetThread, index: int) -> str:
    gen = fleet.servers()[index]["idrac_generation"]
    if gen == 8:
        return "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD"
    return "/redfish/v1/Systems/System.Embedded.1/VirtualMedia/1"


def test_dmtf_redfish_library(gen_fleet: FleetThread, files: FileServer) -> None:
    iso = files.put("esxi-8.0u3.iso", b"\0" * 4096)
    for index, endpoint in enumerate(gen_fleet.endpoints):
        gen_fleet.admin("POST", "/power", {"targets": [endpoint], "state": "On"})
        media = _media_path(gen_fleet, index)
        c = redfish.redfish_client(base_url=f"https://{endpoint}", username="root", password="calvin",
                                   default_prefix="/redfish/v1", timeout=10)
        c.login(auth="session")
        try:
            assert gen_fleet.servers()[index]["open_sessions"] == 1
            system = c.get("/redfish/v1/Systems/System.Embedded.1")
            assert system.status == 200 and system.dict["PowerState"] == "On"
            reset = c.post("/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset",
                           body={"ResetType": "ForceRestart"})
            assert reset.status == 204
            insert = c.post(f"{media}/Actions/VirtualMedia.InsertMedia", body={"Image": iso, "Inserted": True})
            assert insert.status == 204, insert.text
            assert c.get(media).dict["Image"] == iso
            eject = c.post(f"{media}/Actions/VirtualMedia.EjectMedia", body={})
            assert eject.status == 204
        finally:
            c.logout()
    assert gen_fleet.open_sessions() == 0


def _redfishtool(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("redfishtool", path=str(Path(sys.executable).parent))
    assert tool, "redfishtool is not installed (test extra)"
    return subprocess.run([tool, "-r", endpoint, "-u", "root", "-p", "calvin", "-S", "Always", "-A", "Session",
                           "-n", *args], capture_output=True, text=True, timeout=60)


def test_redfishtool(gen_fleet: FleetThread, files: FileServer) -> None:
    iso = files.put("rhel-9.iso", b"\1" * 4096)
    for index, endpoint in enumerate(gen_fleet.endpoints):
        gen_fleet.admin("POST", "/power", {"targets": [endpoint], "state": "On"})
        before = gen_fleet.servers()[index]["counters"]["logins"]
        got = _redfishtool(endpoint, "Systems", "-1", "get", "-P", "PowerState")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout) == {"PowerState": "On"}
        reset = _redfishtool(endpoint, "Systems", "-1", "reset", "GracefulRestart")
        assert reset.returncode == 0, reset.stderr
        media = _media_path(gen_fleet, index)
        insert = _redfishtool(endpoint, "raw", "POST", f"{media}/Actions/VirtualMedia.InsertMedia",
                              "-d", json.dumps({"Image": iso}))
        assert insert.returncode == 0, insert.stderr
        state = gen_fleet.servers()[index]
        assert iso in state["virtual_media"].values()
        assert state["counters"]["logins"] >= before + 3  # each call logged in with a session…
        assert state["counters"]["logouts"] == state["counters"]["logins"]  # …and logged out again
    assert gen_fleet.open_sessions() == 0
