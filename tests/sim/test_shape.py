"""The simulator's payloads have the real capture's shape (PowerEdge R750, iDRAC 9 6.00.30.00).

For every resource the simulator serves that the capture also has: the same @odata.type schema version,
every property DSM reads present with the capture's structure, and any other capture key the simulator
leaves out may only be a link to a resource it does not simulate, or an action it does not implement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dsm_sim.fleet import FleetThread
from tests.conftest import SHARED
from tests.sim.conftest import client, fleet_spec
from tests.sim.shape import missing_keys

CAPTURE = SHARED / "testbeds" / "mockups" / "dell-r750-idrac9-6.00" / "redfish" / "v1"
S, M, C = "Systems/System.Embedded.1", "Managers/iDRAC.Embedded.1", "Chassis/System.Embedded.1"

# Resource (path under /redfish/v1) → the properties DSM reads from it (slash paths; checked recursively).
DSM_READS: dict[str, list[str]] = {
    "": ["RedfishVersion", "Vendor", "Product", "Oem/Dell/ServiceTag", "Oem/Dell/ManagerMACAddress",
         "Links/Sessions", "Systems", "Managers", "Chassis", "UpdateService", "SessionService"],
    "Systems": ["Members"],
    S: ["SKU", "Model", "Manufacturer", "SerialNumber", "UUID", "PowerState", "BiosVersion", "HostName",
        "Status/Health", "Status/HealthRollup", "ProcessorSummary", "MemorySummary", "Boot",
        "Actions/#ComputerSystem.Reset", "Oem/Dell/DellSystem", "Bios", "Storage", "VirtualMedia"],
    f"{S}/Bios": ["Attributes", "@Redfish.Settings"],
    f"{S}/Bios/Settings": ["Attributes"],
    f"{S}/Bios/BiosRegistry": ["RegistryEntries/Attributes"],
    f"{S}/BootOptions": ["Members"],
    f"{S}/BootOptions/Boot0000": ["BootOptionReference", "DisplayName", "UefiDevicePath", "BootOptionEnabled"],
    f"{S}/VirtualMedia": ["Members"],
    f"{S}/VirtualMedia/1": ["Inserted", "Image", "ImageName", "MediaTypes", "WriteProtected", "ConnectedVia",
                            "Actions/#VirtualMedia.InsertMedia", "Actions/#VirtualMedia.EjectMedia"],
    f"{S}/Oem/Dell/DellSoftwareInstallationService": [
        "Actions/#DellSoftwareInstallationService.InstallFromRepository/target",
        "Actions/#DellSoftwareInstallationService.GetRepoBasedUpdateList"],
    "Managers": ["Members"],
    M: ["FirmwareVersion", "Model", "Status", "LogServices", "VirtualMedia", "Actions/#Manager.Reset",
        "DateTime", "Links/ManagerForServers"],
    f"{M}/LogServices": ["Members"],
    f"{M}/LogServices/Sel": ["Entries", "MaxNumberOfRecords"],
    f"{M}/LogServices/Lclog": ["Entries"],
    f"{M}/LogServices/Sel/Entries": ["Members", "Members@odata.count"],
    f"{M}/LogServices/Lclog/Entries": ["Members", "Members@odata.count"],
    f"{M}/VirtualMedia/CD": ["Inserted", "Image", "MediaTypes"],
    f"{M}/Oem/Dell/Jobs": ["Members"],
    f"{M}/Oem/Dell/DellJobService": ["Actions/#DellJobService.DeleteJobQueue"],
    f"{M}/Oem/Dell/DellLCService": ["Id"],
    "Chassis": ["Members"],
    C: ["SKU", "Model", "PowerState", "Status", "Thermal", "Power", "ThermalSubsystem", "PowerSubsystem"],
    f"{C}/Thermal": ["Fans", "Temperatures", "Redundancy"],
    f"{C}/Power": ["PowerSupplies", "PowerControl", "Voltages"],
    f"{C}/ThermalSubsystem": ["Fans", "Status", "FanRedundancy"],
    f"{C}/ThermalSubsystem/Fans": ["Members"],
    f"{C}/ThermalSubsystem/Fans/Fan.Embedded.1A": ["Status", "SpeedPercent", "Name"],
    f"{C}/PowerSubsystem": ["PowerSupplies", "Status", "CapacityWatts"],
    f"{C}/PowerSubsystem/PowerSupplies": ["Members"],
    f"{C}/PowerSubsystem/PowerSupplies/PSU.Slot.1": ["Status", "PowerCapacityWatts", "FirmwareVersion"],
    "UpdateService": ["FirmwareInventory", "HttpPushUri", "MultipartHttpPushUri",
                      "Actions/#UpdateService.SimpleUpdate"],
    "UpdateService/FirmwareInventory": ["Members"],
    "UpdateService/FirmwareInventory/Installed-25227-6.00.30.00__iDRAC.Embedded.1-1": [
        "Id", "Name", "Version", "SoftwareId", "Updateable", "Status", "Oem/Dell/DellSoftwareInventory"],
    "SessionService": ["Sessions", "SessionTimeout"],
    "TaskService": ["Tasks"],
    "TaskService/Tasks": ["Members"],
    "JobService": ["Jobs"],
    "JobService/Jobs": ["Members"],
}
# Keys whose values the simulator fills with its own, smaller set (the capture's BIOS has 455 attributes).
OPAQUE = frozenset({"Attributes"})
# Capture keys the simulator leaves out on purpose, with why: known Dell quirks that DMTF's validator fails.
DEVIATIONS = {
    f"{S}/Bios/Settings": {"/Actions/Oem/DellManager.v1_0_0#DellManager.ClearPending":
                           "non-conformant action key; served as #DellManager.ClearPending, same target"},
    M: {f"/Actions/Oem/#OemManager.v1_4_0.OemManager#OemManager.{a}": "non-conformant action key; served as "
        f"#OemManager.{a}, same EID_674 target" for a in ("ExportSystemConfiguration", "ImportSystemConfiguration",
                                                          "ImportSystemConfigurationPreview")},
}


@pytest.fixture(scope="module")
def r750() -> Iterator[httpx.Client]:
    with FleetThread(fleet_spec(count=1, models=("R750",))) as fleet, client(fleet.endpoints[0]) as c:
        yield c


def _get(node: Any, path: str) -> Any:
    for part in path.split("/"):
        node = node[part]
    return node


def _is_link(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"@odata.id"}
    if isinstance(value, list):
        return all(_is_link(v) for v in value)
    return False


def _allowed_absence(capture: dict[str, Any], key_path: str) -> bool:
    """A key the simulator may omit: a link to an unsimulated resource, its annotations, or an action."""
    parts = key_path.strip("/").split("/")
    if "Actions" in parts:
        return True
    parent: Any = capture
    for part in parts[:-1]:
        parent = parent[part.split("[")[0]]
        if isinstance(parent, list):
            parent = parent[0]
    last = parts[-1]
    base = last.split("@")[0]
    return _is_link(parent.get(last)) or (last != base and _is_link(parent.get(base, [])))


@pytest.mark.parametrize("resource", sorted(DSM_READS), ids=lambda r: r or "root")
def test_payload_has_the_capture_shape(r750: httpx.Client, resource: str) -> None:
    capture = json.loads((CAPTURE / resource / "index.json").read_text() if resource
                         else (CAPTURE / "index.json").read_text())
    response = r750.get(f"/redfish/v1/{resource}".rstrip("/"))
    assert response.status_code == 200, response.text
    sim = response.json()
    assert sim["@odata.type"] == capture["@odata.type"]
    for prop in DSM_READS[resource]:
        cap_value, sim_value = _get(capture, prop), _get(sim, prop)  # KeyError = a property DSM reads is missing
        assert type(sim_value) is type(cap_value) or cap_value is None, (prop, cap_value, sim_value)
    # Recursively, below every property (those DSM reads included): each capture key is present, or is a link
    # to a resource the simulator does not serve, or an action it does not implement.
    deviations = DEVIATIONS.get(resource, {})
    unexplained = [k for k in missing_keys(capture, sim, opaque=OPAQUE)
                   if k not in deviations and not _allowed_absence(capture, k)]
    assert unexplained == [], "capture data properties missing from the simulator"


def test_every_shape_resource_exists_in_the_capture() -> None:
    for resource in DSM_READS:
        assert (CAPTURE / resource / "index.json").exists(), resource


def test_shape_check_is_not_blind() -> None:
    capture = {"A": 1, "B": {"C": 2, "D": [{"E": 3}]}, "L": {"@odata.id": "/x"}}
    assert missing_keys(capture, {"A": 1, "B": {"C": 2, "D": [{}]}}) == ["/B/D[0]/E", "/L"]
    assert _allowed_absence(capture, "/L") and not _allowed_absence(capture, "/B/D[0]/E")
