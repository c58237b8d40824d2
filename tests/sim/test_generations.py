"""URI and capability variants by iDRAC generation (REDFISH.md §2.0), as a client detecting them sees them."""

from __future__ import annotations

import httpx

from dsm_sim.fleet import FleetThread
from tests.sim.conftest import FileServer, client

S = "/redfish/v1/Systems/System.Embedded.1"
M = "/redfish/v1/Managers/iDRAC.Embedded.1"
CH = "/redfish/v1/Chassis/System.Embedded.1"


def _get(c: httpx.Client, path: str) -> int:
    return c.get(path).status_code


def test_generation_detection_data(gen_fleet: FleetThread) -> None:
    expected = [("13G Monolithic", "1.4.0"), ("15G Monolithic", "1.13.1"), ("17G Monolithic", "1.20.1")]
    for endpoint, (model, redfish) in zip(gen_fleet.endpoints, expected, strict=True):
        with client(endpoint) as c:
            assert c.get(M, params={"$select": "Model"}).json()["Model"] == model
            assert c.get("/redfish/v1").json()["RedfishVersion"] == redfish
            selected = c.get(S, params={"$select": "Oem/Dell/DellSystem/SystemGeneration"}).json()
            assert selected["Oem"]["Dell"]["DellSystem"] == {"SystemGeneration": model}
            assert "PowerState" not in selected


def test_idrac8_paths(gen_fleet: FleetThread, files: FileServer) -> None:
    with client(gen_fleet.endpoints[0], auth=None) as c:
        login = c.post("/redfish/v1/Sessions", json={"UserName": "root", "Password": "calvin"})  # the old path
        assert login.status_code == 201
        token = {"X-Auth-Token": login.headers["X-Auth-Token"]}
        assert c.get(f"{M}/VirtualMedia/CD", headers=token).status_code == 200
        assert c.get(f"{S}/VirtualMedia", headers=token).status_code == 404
        assert c.get(f"{CH}/ThermalSubsystem", headers=token).status_code == 404
        assert c.get(f"{CH}/Thermal", headers=token).status_code == 200
        assert "MultipartHttpPushUri" not in c.get("/redfish/v1/UpdateService", headers=token).json()
        targets = [a["target"] for a in c.get(M, headers=token).json()["Actions"]["Oem"].values()]
        assert all("/EID_674_Manager." in t for t in targets)
        # HTTP push then SimpleUpdate of the Available- member: the older update path.
        push = c.post("/redfish/v1/UpdateService/FirmwareInventory", headers=token,
                      files={"file": ("BIOS_ABCDE_WN64_2.20.0.EXE", b"MZ", "application/octet-stream")})
        assert push.status_code == 201 and push.json()["Id"].startswith("Available-159-2.20.0__")
        assert c.delete(login.headers["Location"], headers=token).status_code == 200


def test_idrac10_paths(gen_fleet: FleetThread) -> None:
    with client(gen_fleet.endpoints[2]) as c:
        assert _get(c, f"{CH}/Thermal") == 404 and _get(c, f"{CH}/ThermalSubsystem") == 200
        assert _get(c, f"{S}/VirtualMedia/1") == 200 and "VirtualMedia" not in c.get(M).json()
        targets = [a["target"] for a in c.get(M).json()["Actions"]["Oem"].values()]
        assert all("/OemManager." in t for t in targets)
        assert c.post(f"{M}/Actions/Oem/EID_674_Manager.ExportSystemConfiguration",
                      json={"ExportFormat": "XML"}).status_code == 404
        assert c.patch(S, json={"Boot": {"BootSourceOverrideTarget": "Pxe"}}).status_code == 405
        assert c.patch(f"{S}/Settings", json={"Boot": {"BootSourceOverrideTarget": "Pxe"}}).status_code == 200
        assert c.get(S).json()["Boot"]["BootSourceOverrideTarget"] == "Pxe"
