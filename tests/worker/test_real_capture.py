"""DSM against a real iDRAC's data: the PowerEdge R750 / iDRAC 9 6.00.30.00 capture in ../shared/testbeds,
served read-only over HTTPS. Expected values are read from the capture files, never from our simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dsm_core.models import FirmwareInventory, Job, Server, ServerHealth
from tests.conftest import SHARED, Templates
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, make_install
from tests.worker.mockup_server import MockupServer

CAPTURE = SHARED / "testbeds" / "mockups" / "dell-r750-idrac9-6.00"


def _capture(path: str) -> dict:  # type: ignore[type-arg]
    return json.loads((CAPTURE / path / "index.json").read_text())


@pytest.fixture
def capture_server() -> Iterator[MockupServer]:
    address = fleet_spec().start  # a loopback address no other test uses
    with MockupServer(CAPTURE, address, 8443) as server:
        yield server


@pytest.fixture
def capture_install(
    templates: Templates, backend: str, tmp_path: Path, capture_server: MockupServer
) -> Iterator[Install]:
    inst = make_install(templates, backend, tmp_path, [capture_server.address + "/32"])
    yield inst
    inst.engine.dispose()


def test_refresh_and_health_store_what_the_real_idrac_reports(
    capture_install: Install, capture_server: MockupServer
) -> None:
    system = _capture("redfish/v1/Systems/System.Embedded.1")
    manager = _capture("redfish/v1/Managers/iDRAC.Embedded.1")
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
        assert server.service_tag == system["SKU"] == "F54P1G3"
        assert server.model == system["Model"] == "PowerEdge R750"
        assert server.idrac_firmware == manager["FirmwareVersion"] == "6.00.30.00"
        assert server.bios_version == system["BiosVersion"]
        assert server.power_state == system["PowerState"]
        assert server.overall_health == system["Status"]["HealthRollup"]
        assert server.idrac_generation == 9  # "15G Monolithic"
        caps = server.supported_endpoints or {}
        # The capture keys its SCP actions "#OemManager.v1_4_0.OemManager#OemManager.…": found all the same.
        assert caps["scp_export"].endswith("EID_674_Manager.ExportSystemConfiguration")
        assert caps["virtual_media_path"] == "/redfish/v1/Systems/System.Embedded.1/VirtualMedia"
        installed = {f.inventory_id for f in s.exec(select(FirmwareInventory)).all()}
        captured = {
            m["@odata.id"].rsplit("/", 1)[-1] for m in _capture("redfish/v1/UpdateService/FirmwareInventory")["Members"]
        }
        assert installed == captured
        health = s.exec(select(ServerHealth)).one()
        assert health.overall_health == system["Status"]["HealthRollup"]
        assert health.power_state == system["PowerState"]
        assert health.psu_health == "OK" and health.fan_health == "OK"
        thermal = _capture("redfish/v1/Chassis/System.Embedded.1/Thermal")
        assert len(health.sensors["fans"]) == len(thermal["Fans"])  # type: ignore[index]
    assert capture_server.tokens == {}  # the session was deleted
