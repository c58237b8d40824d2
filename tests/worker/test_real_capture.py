"""DSM against real iDRACs' data: every Redfish-Mockup-Creator capture in ../shared/testbeds/mockups (today a
PowerEdge R750 / iDRAC 9 6.00.30.00), served read-only over HTTPS. Expected values are read from each
capture's files, never from our simulator, so another capture dropped in that folder is tested the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from dsm_core.models import BiosConfiguration, BiosRegistry, FirmwareInventory, Job, Server, ServerHealth
from tests.conftest import SHARED, Templates
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, make_install
from tests.worker.mockup_server import MockupServer

MOCKUPS = SHARED / "testbeds" / "mockups"
CAPTURES = sorted(p for p in MOCKUPS.iterdir() if (p / "redfish/v1/Systems/System.Embedded.1/index.json").exists())
R750 = MOCKUPS / "dell-r750-idrac9-6.00"


class Capture:
    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, path: str) -> dict[str, Any]:
        file = self.root / "redfish/v1" / path / "index.json"
        return json.loads(file.read_text()) if file.exists() else {}


@pytest.fixture(params=CAPTURES, ids=[c.name for c in CAPTURES])
def capture(request: pytest.FixtureRequest) -> Capture:
    return Capture(request.param)


@pytest.fixture
def capture_server(capture: Capture) -> Iterator[MockupServer]:
    address = fleet_spec().start  # a loopback address no other test uses
    with MockupServer(capture.root, address, 8443) as server:
        yield server


@pytest.fixture
def capture_install(
    templates: Templates, backend: str, tmp_path: Path, capture_server: MockupServer
) -> Iterator[Install]:
    inst = make_install(templates, backend, tmp_path, [capture_server.address + "/32"])
    yield inst
    inst.engine.dispose()


def test_the_r750_capture_is_there() -> None:
    assert R750 in CAPTURES  # the capture issue 4 names; more may be added beside it


def test_refresh_and_health_store_what_the_real_idrac_reports(
    capture: Capture, capture_install: Install, capture_server: MockupServer
) -> None:
    system = capture.get("Systems/System.Embedded.1")
    manager = capture.get("Managers/iDRAC.Embedded.1")
    chassis = capture.get("Chassis/System.Embedded.1")
    home = capture_install.home
    home.run("servers", "add", capture_server.endpoint, check=True)
    home.run("servers", "refresh", capture_server.endpoint, check=True)
    home.run("servers", "health", capture_server.endpoint, check=True)
    capture_install.worker()
    with Session(capture_install.engine) as s:
        jobs = {j.job_type: j for j in s.exec(select(Job)).all()}
        assert jobs["refresh_server_info"].status == "completed", jobs["refresh_server_info"].error
        assert jobs["health_check"].status == "completed", jobs["health_check"].error
        server = s.exec(select(Server)).one()
        tag = system.get("SKU") or system["Oem"]["Dell"]["DellSystem"]["NodeID"]
        assert server.service_tag == tag
        assert server.model == system["Model"]
        assert server.idrac_firmware == manager["FirmwareVersion"]
        assert server.bios_version == system["BiosVersion"]
        assert server.power_state == system["PowerState"]
        assert server.overall_health == system["Status"].get("HealthRollup") or system["Status"]["Health"]
        if capture.root == R750:  # the values issue 4 names
            assert (server.service_tag, server.model, server.idrac_firmware) == (
                "F54P1G3",
                "PowerEdge R750",
                "6.00.30.00",
            )
            assert server.idrac_generation == 9
        caps = server.supported_endpoints or {}
        export = next(
            (
                v["target"]
                for k, v in manager.get("Actions", {}).get("Oem", {}).items()
                if k.endswith("ExportSystemConfiguration")
            ),
            None,
        )
        assert caps["scp_export"] == export  # found whatever the key's spelling (the R750's is non-conformant)
        media = system.get("VirtualMedia", {}).get("@odata.id") or manager.get("VirtualMedia", {}).get("@odata.id")
        assert caps["virtual_media_path"] == media
        installed = {f.inventory_id for f in s.exec(select(FirmwareInventory)).all()}
        served = {
            m["@odata.id"].rsplit("/", 1)[-1]
            for m in capture.get("UpdateService/FirmwareInventory")["Members"]
            if capture.get(m["@odata.id"].removeprefix("/redfish/v1/"))
        }
        assert installed == served
        health = s.exec(select(ServerHealth)).one()
        assert health.overall_health == server.overall_health
        assert health.power_state == system["PowerState"]
        if "Thermal" in chassis:
            thermal = capture.get("Chassis/System.Embedded.1/Thermal")
            assert len(health.sensors["fans"]) == len(thermal["Fans"])
            worst = {f["Status"].get("Health") for f in thermal["Fans"]}
            assert health.fan_health == (
                "Critical" if "Critical" in worst else "Warning" if "Warning" in worst else "OK"
            )
    assert capture_server.tokens == {}  # the session was deleted


def test_a_bios_read_stores_the_real_registry_and_values_and_checks_a_write_against_them(
    capture: Capture, capture_install: Install, capture_server: MockupServer
) -> None:
    """bios_config_read against the captured iDRAC over HTTPS: its values and registry as served; a write is
    then checked at creation against that registry (refused values name the allowed ones)."""
    bios = capture.get("Systems/System.Embedded.1/Bios")["Attributes"]
    registry = capture.get("Systems/System.Embedded.1/Bios/BiosRegistry")["RegistryEntries"]["Attributes"]
    home = capture_install.home
    home.run("servers", "add", capture_server.endpoint, check=True)
    home.run("servers", "refresh", capture_server.endpoint, check=True)
    home.run("bios", "read", capture_server.endpoint, check=True)
    capture_install.worker()
    with Session(capture_install.engine) as s:
        jobs = {j.job_type: j for j in s.exec(select(Job)).all()}
        assert jobs["bios_config_read"].status == "completed", jobs["bios_config_read"].error
        stored = s.exec(select(BiosConfiguration)).one()
        assert stored.attributes == {k: v for k, v in bios.items() if not isinstance(v, dict | list)}
        rules = s.exec(select(BiosRegistry)).one().entries
    assert set(rules) == {e["AttributeName"] for e in registry if e.get("Type") in
                          ("Enumeration", "String", "Integer", "Boolean", "Password")}
    enum = next(e for e in registry if e.get("Type") == "Enumeration" and not e.get("ReadOnly")
                and len(e.get("Value", [])) > 1 and e["AttributeName"] in bios)
    proc = home.run("bios", "set", capture_server.endpoint, f"{enum['AttributeName']}=NotAValue")
    assert proc.returncode == 2 and enum["AttributeName"] in proc.stderr
    assert enum["Value"][0]["ValueName"] in proc.stderr
    other = next(v["ValueName"] for v in enum["Value"] if v["ValueName"] != bios[enum["AttributeName"]])
    proc = home.run("bios", "set", capture_server.endpoint, f"{enum['AttributeName']}={other}", "--json")
    assert proc.returncode == 0, proc.stderr  # a value the real registry allows is queued
