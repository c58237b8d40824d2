"""The simulated iDRAC behaves as REDFISH.md says a real one does, over real HTTPS."""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dsm_sim.fleet import FleetThread
from tests.sim.conftest import FileServer, client, fleet_spec

S = "/redfish/v1/Systems/System.Embedded.1"
M = "/redfish/v1/Managers/iDRAC.Embedded.1"
CH = "/redfish/v1/Chassis/System.Embedded.1"
SCALE = 600.0  # a 20-minute firmware job takes 2 s


@pytest.fixture
def fleet() -> Iterator[FleetThread]:
    with FleetThread(fleet_spec(count=2, models=("R750", "R650"), time_scale=SCALE)) as f:
        yield f


@pytest.fixture
def rf(fleet: FleetThread) -> Iterator[httpx.Client]:
    with client(fleet.endpoints[0]) as c:
        yield c


def wait_for(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def job_state(c: httpx.Client, location: str) -> str:
    jid = location.rsplit("/", 1)[-1]
    return str(c.get(f"{M}/Oem/Dell/Jobs/{jid}").json()["JobState"])


def message_id(response: httpx.Response) -> str:
    return str(response.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"])


# --- authentication and sessions -------------------------------------------------------------------------


def test_service_root_is_public_everything_else_needs_auth(fleet: FleetThread) -> None:
    with client(fleet.endpoints[0], auth=None) as anon:
        root = anon.get("/redfish/v1")
        assert root.status_code == 200 and root.json()["Vendor"] == "Dell"
        assert anon.get(S).status_code == 401
    with client(fleet.endpoints[0], auth=("root", "wrong")) as bad:
        r = bad.get(S)
        assert r.status_code == 401 and message_id(r).endswith("SYS415")


def test_session_lifecycle_and_the_eight_session_limit(fleet: FleetThread) -> None:
    with client(fleet.endpoints[0], auth=None) as c:
        tokens = []
        for _ in range(8):
            r = c.post("/redfish/v1/SessionService/Sessions", json={"UserName": "root", "Password": "calvin"})
            assert r.status_code == 201
            assert r.headers["Location"].startswith("/redfish/v1/SessionService/Sessions/")
            tokens.append((r.headers["X-Auth-Token"], r.headers["Location"]))
        ninth = c.post("/redfish/v1/SessionService/Sessions", json={"UserName": "root", "Password": "calvin"})
        assert ninth.status_code == 503 and message_id(ninth) == "IDRAC.2.8.RAC0218"
        assert fleet.servers()[0]["open_sessions"] == 8
        token, location = tokens[0]
        assert c.get(S, headers={"X-Auth-Token": token}).status_code == 200
        assert c.delete(location, headers={"X-Auth-Token": token}).status_code == 200
        assert c.get(S, headers={"X-Auth-Token": token}).status_code == 401  # logged out
        for token, location in tokens[1:]:
            assert c.delete(location, headers={"X-Auth-Token": token}).status_code == 200
    assert fleet.open_sessions() == 0


def test_idle_sessions_expire(fleet: FleetThread) -> None:
    with client(fleet.endpoints[0], auth=None) as c:
        r = c.post("/redfish/v1/SessionService/Sessions", json={"UserName": "root", "Password": "calvin"})
        token = r.headers["X-Auth-Token"]
        time.sleep(1800 / SCALE + 0.3)  # SessionTimeout 1800 s of simulated time
        assert c.get(S, headers={"X-Auth-Token": token}).status_code == 401
    assert fleet.servers()[0]["open_sessions"] == 0


# --- power ------------------------------------------------------------------------------------------------


def test_power_state_machine(rf: httpx.Client, fleet: FleetThread) -> None:
    reset = lambda t: rf.post(f"{S}/Actions/ComputerSystem.Reset", json={"ResetType": t})  # noqa: E731
    assert rf.get(S).json()["PowerState"] == "On"
    assert reset("On").status_code == 409  # already on
    assert reset("GracefulShutdown").status_code == 204
    assert rf.get(S).json()["PowerState"] == "On"  # the OS takes a while to shut down
    wait_for(lambda: rf.get(S).json()["PowerState"] == "Off")
    assert fleet.servers()[0]["host_state"] == "down"
    assert reset("ForceOff").status_code == 409
    assert reset("On").status_code == 204
    assert rf.get(S).json()["PowerState"] == "On"
    assert fleet.servers()[0]["host_state"] == "posting"  # iDRAC answers; the OS does not yet
    wait_for(lambda: fleet.servers()[0]["host_state"] == "up")
    assert reset("Explode").status_code == 400


# --- BIOS and jobs ----------------------------------------------------------------------------------------


def test_bios_change_is_a_job_applied_at_the_next_reset(rf: httpx.Client) -> None:
    assert rf.get(f"{S}/Bios").json()["Attributes"]["SysProfile"] == "PerfPerWattOptimizedDapc"
    r = rf.patch(f"{S}/Bios/Settings", json={"Attributes": {"SysProfile": "PerfOptimized"},
                                             "@Redfish.SettingsApplyTime": {"ApplyTime": "OnReset"}})
    assert r.status_code == 202
    location = r.headers["Location"]
    assert re.fullmatch(rf"{M}/Jobs/JID_\d{{12}}", location)
    assert rf.get(f"{S}/Bios/Settings").json()["Attributes"] == {"SysProfile": "PerfOptimized"}
    time.sleep(0.5)
    assert job_state(rf, location) == "Scheduled"  # waits for a reset, however long
    assert rf.get(location).json()["JobState"] == "Scheduled"  # the …/Jobs/<JID> alias answers too
    second = rf.patch(f"{S}/Bios/Settings", json={"Attributes": {"LogicalProc": "Disabled"}})
    assert second.status_code == 400 and message_id(second).endswith("SYS011")  # one pending BIOS job
    assert rf.post(f"{S}/Actions/ComputerSystem.Reset", json={"ResetType": "ForceRestart"}).status_code == 204
    assert wait_for(lambda: job_state(rf, location) in ("Running", "Completed"))
    wait_for(lambda: job_state(rf, location) == "Completed")
    assert rf.get(f"{S}/Bios").json()["Attributes"]["SysProfile"] == "PerfOptimized"
    assert rf.get(f"{S}/Bios/Settings").json()["Attributes"] == {}


@pytest.mark.parametrize(("attributes", "text"), [
    ({"NoSuchSetting": "x"}, "not a BIOS attribute"), ({"SysProfile": "Turbo"}, "not a possible value"),
    ({"SystemServiceTag": "ABC"}, "read-only"), ({"AcPwrRcvryUserDelay": 5}, "integer from 60"),
])
def test_bad_bios_values_are_refused(rf: httpx.Client, attributes: dict[str, Any], text: str) -> None:
    r = rf.patch(f"{S}/Bios/Settings", json={"Attributes": attributes})
    assert r.status_code == 400 and text in r.json()["error"]["@Message.ExtendedInfo"][0]["Message"]


def test_dell_config_job_and_job_queue_deletion(rf: httpx.Client) -> None:
    assert rf.patch(f"{S}/Bios/Settings", json={"Attributes": {"NumLock": "Off"}}).status_code == 200
    r = rf.post(f"{M}/Jobs", json={"TargetSettingsURI": f"{S}/Bios/Settings"})
    assert r.status_code == 200
    jid = r.headers["Location"].rsplit("/", 1)[-1]
    assert jid in [m["@odata.id"].rsplit("/", 1)[-1] for m in rf.get(f"{M}/Oem/Dell/Jobs").json()["Members"]]
    deleted = rf.post(f"{M}/Oem/Dell/DellJobService/Actions/DellJobService.DeleteJobQueue", json={"JobID": jid})
    assert deleted.status_code == 200
    assert rf.get(f"{M}/Oem/Dell/Jobs/{jid}").status_code == 404
    assert rf.get(f"{S}/Bios/Settings").json()["Attributes"] == {}


def test_boot_override_and_order(rf: httpx.Client) -> None:
    r = rf.patch(S, json={"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}})
    assert r.status_code == 200
    boot = rf.get(S).json()["Boot"]
    assert (boot["BootSourceOverrideTarget"], boot["BootSourceOverrideEnabled"]) == ("Pxe", "Once")
    assert rf.patch(S, json={"Boot": {"BootSourceOverrideTarget": "Tape"}}).status_code == 400
    order = list(reversed(boot["BootOrder"]))
    r = rf.patch(S, json={"Boot": {"BootOrder": order}})
    assert r.status_code == 202  # a boot order change is a job applied at reset
    rf.post(f"{S}/Actions/ComputerSystem.Reset", json={"ResetType": "ForceRestart"})
    wait_for(lambda: rf.get(S).json()["Boot"]["BootOrder"] == order)


# --- virtual media --------------------------------------------------------------------------------------


def test_virtual_media_checks_the_image_is_reachable(rf: httpx.Client, files: FileServer) -> None:
    iso = files.put("isos/esxi.iso", b"\0" * 1024)
    slot = f"{S}/VirtualMedia/1"
    missing = rf.post(f"{slot}/Actions/VirtualMedia.InsertMedia", json={"Image": files.url + "/isos/nope.iso"})
    assert missing.status_code == 400 and message_id(missing).endswith("RAC0904")
    outside = rf.post(f"{slot}/Actions/VirtualMedia.InsertMedia", json={"Image": "http://192.0.2.10/x.iso"})
    assert outside.status_code == 400 and message_id(outside).endswith("RAC0904")  # never leaves loopback
    old_path = rf.post(f"{M}/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia", json={"Image": iso})
    assert old_path.status_code == 400 and message_id(old_path).endswith("RAC0904")  # 6.x: Systems path only
    assert rf.post(f"{slot}/Actions/VirtualMedia.InsertMedia", json={"Image": iso}).status_code == 204
    state = rf.get(slot).json()
    assert state["Inserted"] is True and state["Image"] == iso and state["ImageName"] == "esxi.iso"
    again = rf.post(f"{slot}/Actions/VirtualMedia.InsertMedia", json={"Image": iso})
    assert again.status_code == 400 and message_id(again).endswith("VRM0012")
    assert rf.post(f"{slot}/Actions/VirtualMedia.EjectMedia", json={}).status_code == 204
    assert rf.get(slot).json()["Inserted"] is False


# --- logs ------------------------------------------------------------------------------------------------


def test_log_paging_filter_and_no_duplicates(fleet: FleetThread, rf: httpx.Client) -> None:
    with client(fleet.endpoints[0], auth=None) as c:
        for _ in range(60):  # every login writes a Lifecycle log entry
            r = c.post("/redfish/v1/SessionService/Sessions", json={"UserName": "root", "Password": "calvin"})
            c.delete(r.headers["Location"], headers={"X-Auth-Token": r.headers["X-Auth-Token"]})
    url: str | None = f"{M}/LogServices/Lclog/Entries"
    seen: list[str] = []
    total = None
    while url:
        page = rf.get(url).json()
        total = page["Members@odata.count"]
        seen += [m["Id"] for m in page["Members"]]
        url = page.get("Members@odata.nextLink")
    assert total is not None and total > 60
    assert len(seen) == total == len(set(seen))
    assert int(seen[0]) > int(seen[-1])  # newest first
    out_of_range = rf.get(f"{M}/LogServices/Lclog/Entries", params={"$skip": str(total + 10)})
    assert out_of_range.status_code == 400
    fleet.set_health([fleet.endpoints[0]], ["psu"])
    critical = rf.get(f"{M}/LogServices/Sel/Entries", params={"$filter": "Severity eq 'Critical'"}).json()
    assert critical["Members"] and all(m["Severity"] == "Critical" for m in critical["Members"])
    assert any(m["MessageId"] == "PSU0003" for m in critical["Members"])
    since = critical["Members"][0]["Created"]
    newer = rf.get(f"{M}/LogServices/Sel/Entries", params={"$filter": f"Created ge '{since}'"}).json()
    assert 1 <= newer["Members@odata.count"] < rf.get(f"{M}/LogServices/Sel/Entries").json()["Members@odata.count"]


# --- health ------------------------------------------------------------------------------------------------


def test_health_faults_show_consistently(fleet: FleetThread, rf: httpx.Client) -> None:
    assert rf.get(S).json()["Status"]["HealthRollup"] == "OK"
    fleet.set_health([fleet.endpoints[0]], ["psu", "fan"])
    system = rf.get(S).json()
    assert system["Status"]["HealthRollup"] == "Critical"
    dell = system["Oem"]["Dell"]["DellSystem"]
    assert (dell["PSRollupStatus"], dell["FanRollupStatus"], dell["CPURollupStatus"]) == ("Critical", "Critical", "OK")
    supplies = rf.get(f"{CH}/Power").json()["PowerSupplies"]
    assert [p["Status"]["Health"] for p in supplies] == ["OK", "Critical"]
    fans = rf.get(f"{CH}/Thermal").json()["Fans"]
    assert fans[2]["Reading"] == 0 and fans[2]["Status"]["Health"] == "Critical"
    assert rf.get(f"{CH}/ThermalSubsystem").json()["Status"]["Health"] == "Critical"
    assert rf.get(f"{CH}/PowerSubsystem/PowerSupplies/PSU.Slot.2").json()["Status"]["Health"] == "Critical"


# --- firmware -----------------------------------------------------------------------------------------------


def test_bios_update_from_loopback_http(rf: httpx.Client, files: FileServer) -> None:
    dup = files.put("repo/BIOS_0T7N6_WN64_1.9.9.EXE", b"MZ" + b"\0" * 2048)
    r = rf.post("/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate", json={"ImageURI": dup})
    assert r.status_code == 202
    task = r.headers["Location"]
    assert task.startswith("/redfish/v1/TaskService/Tasks/JID_")
    time.sleep(0.3)
    assert rf.get(task).json()["TaskState"] == "Pending"  # BIOS waits for a host reset
    rf.post(f"{S}/Actions/ComputerSystem.Reset", json={"ResetType": "ForceRestart"})
    wait_for(lambda: rf.get(task).json()["Oem"]["Dell"]["JobState"] == "Completed")
    assert rf.get(S).json()["BiosVersion"] == "1.9.9"
    ids = [m["@odata.id"] for m in rf.get("/redfish/v1/UpdateService/FirmwareInventory").json()["Members"]]
    assert any(i.endswith("Installed-159-1.9.9__BIOS.Setup.1-1") for i in ids)
    assert any(i.endswith("Previous-159-1.8.2__BIOS.Setup.1-1") for i in ids)


def test_idrac_update_reboots_the_idrac_and_drops_sessions(fleet: FleetThread, files: FileServer) -> None:
    endpoint = fleet.endpoints[0]
    with client(endpoint, auth=None) as c:
        login = c.post("/redfish/v1/SessionService/Sessions", json={"UserName": "root", "Password": "calvin"})
        token = {"X-Auth-Token": login.headers["X-Auth-Token"]}
        name = "iDRAC-with-Lifecycle-Controller_Firmware_F7V4P_WN64_7.10.10.10_A00.EXE"
        r = c.post("/redfish/v1/UpdateService/MultipartUpload", headers=token,
                   files={"UpdateParameters": (None, '{"Targets": [], "@Redfish.OperationApplyTime": "Immediate"}',
                                               "application/json"),
                          "UpdateFile": (name, b"MZ" + b"\0" * 4096, "application/octet-stream")})
        assert r.status_code == 202, r.text
        task = r.headers["Location"]

        def unreachable() -> bool:
            try:
                c.get("/redfish/v1", timeout=2)
            except httpx.TransportError:
                return True
            return False
        wait_for(unreachable, timeout=20)  # the job finished and the iDRAC restarts itself
        wait_for(lambda: not unreachable(), timeout=20)
        assert c.get(M, headers=token).status_code == 401  # its sessions did not survive
    with client(endpoint) as rf:
        assert rf.get(M).json()["FirmwareVersion"] == "7.10.10.10"
        assert rf.get(task).json()["Oem"]["Dell"]["JobState"] == "Completed"


def test_unknown_or_unreachable_packages_fail_with_dell_ids(rf: httpx.Client, files: FileServer) -> None:
    odd = files.put("repo/Something_else.EXE", b"MZ")
    bad = rf.post("/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate", json={"ImageURI": odd})
    wait_for(lambda: rf.get(bad.headers["Location"]).json()["Oem"]["Dell"]["JobState"] == "Failed")
    assert rf.get(bad.headers["Location"]).json()["Oem"]["Dell"]["MessageId"] == "RED097"
    gone = rf.post("/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
                   json={"ImageURI": files.url + "/repo/BIOS_0T7N6_WN64_9.9.9.EXE"})
    wait_for(lambda: rf.get(gone.headers["Location"]).json()["Oem"]["Dell"]["JobState"] == "Failed")
    assert rf.get(gone.headers["Location"]).json()["Oem"]["Dell"]["MessageId"] == "RED004"


CATALOG = """<?xml version="1.0" encoding="utf-16"?>
<Manifest baseLocation="repo.example.lan" version="25.04.28">
  <SoftwareComponent packageID="0T7N6" path="FOLDER1/BIOS_0T7N6_WN64_{bios}.EXE" vendorVersion="{bios}"
      dellVersion="A00" packageType="LW64" rebootRequired="true">
    <Name><Display lang="en"><![CDATA[PowerEdge BIOS]]></Display></Name>
    <ComponentType value="BIOS"><Display>BIOS</Display></ComponentType>
    <Criticality value="2"><Display>Urgent</Display></Criticality>
    <SupportedDevices><Device componentID="159" embedded="1"><Display lang="en">BIOS</Display></Device></SupportedDevices>
    <SupportedSystems><Brand key="3" prefix="PE"><Display>PowerEdge</Display>
      <Model systemID="{system_id}"><Display>R750</Display></Model></Brand></SupportedSystems>
  </SoftwareComponent>
  <SoftwareComponent packageID="XXXXX" path="FOLDER2/BIOS_XXXXX_WN64_99.0.0.EXE" vendorVersion="99.0.0"
      packageType="LW64" rebootRequired="true">
    <ComponentType value="BIOS"/>
    <SupportedDevices><Device componentID="159"/></SupportedDevices>
    <SupportedSystems><Brand><Model systemID="0001"><Display>Other</Display></Model></Brand></SupportedSystems>
  </SoftwareComponent>
</Manifest>"""


def test_install_from_repository_and_compliance(rf: httpx.Client, files: FileServer) -> None:
    system_id = f"{rf.get(S).json()['Oem']['Dell']['DellSystem']['SystemID']:04X}"
    files.put("drm/Catalog.xml", CATALOG.format(bios="1.10.1", system_id=system_id).encode("utf-16"))
    port = files.url.rsplit(":", 1)[1]
    action = f"{S}/Oem/Dell/DellSoftwareInstallationService/Actions/DellSoftwareInstallationService"
    body = {"IPAddress": f"127.0.0.1:{port}", "ShareType": "HTTP", "ShareName": "drm", "ApplyUpdate": "False"}
    r = rf.post(f"{action}.InstallFromRepository", json=body)
    assert r.status_code == 202
    wait_for(lambda: rf.get(r.headers["Location"]).json()["Oem"]["Dell"]["JobState"] == "Completed")
    listing = rf.post(f"{action}.GetRepoBasedUpdateList", json={})
    assert listing.status_code == 200
    packages = listing.json()["PackageList"]
    assert 'NAME="PackageVersion" TYPE="string"><VALUE>1.10.1' in packages
    assert "99.0.0" not in packages  # another system's package is not applicable
    # A repository at the installed version: compliant, SUP029.
    installed = rf.get(S).json()["BiosVersion"]
    files.put("drm2/Catalog.xml", CATALOG.format(bios=installed, system_id=system_id).encode("utf-16"))
    r = rf.post(f"{action}.InstallFromRepository", json={**body, "ShareName": "drm2"})
    wait_for(lambda: rf.get(r.headers["Location"]).json()["Oem"]["Dell"]["JobState"] == "Completed")
    assert rf.get(r.headers["Location"]).json()["Oem"]["Dell"]["MessageId"] == "SUP029"
    compliant = rf.post(f"{action}.GetRepoBasedUpdateList", json={})
    assert compliant.status_code == 400 and message_id(compliant).endswith("SUP029")


# --- SCP ----------------------------------------------------------------------------------------------------


def test_scp_export_then_import(rf: httpx.Client) -> None:
    export = rf.post(f"{M}/Actions/Oem/EID_674_Manager.ExportSystemConfiguration",
                     json={"ExportFormat": "XML", "ShareParameters": {"Target": ["BIOS"]}})
    assert export.status_code == 202
    task = export.headers["Location"]
    profile = wait_for(lambda: (r := rf.get(task)).headers["content-type"].startswith("application/xml") and r.text)
    tag = rf.get(S).json()["SKU"]
    assert f'ServiceTag="{tag}"' in profile and '<Attribute Name="LogicalProc">Enabled</Attribute>' in profile
    changed = profile.replace('<Attribute Name="LogicalProc">Enabled', '<Attribute Name="LogicalProc">Disabled')
    imp = rf.post(f"{M}/Actions/Oem/EID_674_Manager.ImportSystemConfiguration",
                  json={"ImportBuffer": changed, "ShareParameters": {"Target": ["ALL"]}, "ShutdownType": "Forced"})
    assert imp.status_code == 202
    wait_for(lambda: rf.get(imp.headers["Location"]).json()["Oem"]["Dell"]["JobState"] == "Completed")
    assert rf.get(f"{S}/Bios").json()["Attributes"]["LogicalProc"] == "Disabled"
    broken = rf.post(f"{M}/Actions/Oem/EID_674_Manager.ImportSystemConfiguration",
                     json={"ImportBuffer": "<SystemConfiguration><Component", "ShareParameters": {"Target": ["ALL"]}})
    assert broken.status_code == 400 and message_id(broken).endswith("SYS041")
    bad_value = changed.replace(">Disabled<", ">Sideways<", 1)
    preview = rf.post(f"{M}/Actions/Oem/EID_674_Manager.ImportSystemConfigurationPreview",
                      json={"ImportBuffer": bad_value, "ShareParameters": {"Target": ["ALL"]}})
    wait_for(lambda: rf.get(preview.headers["Location"]).json()["Oem"]["Dell"]["JobState"] == "Failed")


# --- injected faults ----------------------------------------------------------------------------------------


def test_injected_faults(fleet: FleetThread, rf: httpx.Client) -> None:
    target = [fleet.endpoints[0]]
    fleet.set_faults(target, latency_ms=200)
    started = time.monotonic()
    assert rf.get(S).status_code == 200
    assert time.monotonic() - started >= 0.2
    fleet.clear_faults(target)
    fleet.set_faults(target, error_503_rate=1.0)
    assert rf.get(S).status_code == 503
    fleet.clear_faults(target)
    fleet.set_faults(target, reset_rate=1.0)
    with pytest.raises(httpx.TransportError):
        rf.get(S)
    fleet.clear_faults(target)
    fleet.set_faults(target, hang_rate=1.0, hang_seconds=2)
    with pytest.raises(httpx.ReadTimeout):
        rf.get(S, timeout=0.5)
    fleet.clear_faults(target)
    fleet.set_faults(target, malformed_json_rate=1.0)
    with pytest.raises(ValueError):
        rf.get(S).json()
    fleet.clear_faults(target)
    fleet.set_faults(target, session_exhaustion=True)
    r = rf.post("/redfish/v1/SessionService/Sessions", json={"UserName": "root", "Password": "calvin"}, auth=None)
    assert r.status_code == 503 and message_id(r).endswith("RAC0218")
    fleet.clear_faults(target)
    login = rf.post("/redfish/v1/SessionService/Sessions", json={"UserName": "root", "Password": "calvin"}, auth=None)
    token = {"X-Auth-Token": login.headers["X-Auth-Token"]}
    fleet.set_faults(target, unauthorized_rate=1.0)
    assert rf.get(S, headers=token, auth=None).status_code == 401  # the iDRAC dropped the session mid-use
    fleet.clear_faults(target)
    fleet.set_faults(target, job_failure=True)
    r = rf.patch(f"{S}/Bios/Settings", json={"Attributes": {"NumLock": "Off"},
                                             "@Redfish.SettingsApplyTime": {"ApplyTime": "Immediate"}})
    wait_for(lambda: job_state(rf, r.headers["Location"]) == "Failed")
    fleet.clear_faults(target)
    assert rf.get(S).status_code == 200
    other = fleet.servers()[1]
    assert other["counters"]["requests"] == 0  # faults and traffic stayed on the one iDRAC


def test_peak_concurrency_is_counted(fleet: FleetThread) -> None:
    fleet.set_faults([fleet.endpoints[1]], latency_ms=150)
    with client(fleet.endpoints[1]) as c, concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda _: c.get(S), range(4)))
    counters = fleet.servers()[1]["counters"]
    assert counters["peak_concurrent"] >= 2 and counters["concurrent"] == 0 and counters["requests"] == 4
    fleet.admin("POST", "/counters/reset", {"targets": [fleet.endpoints[1]]})
    assert fleet.servers()[1]["counters"]["requests"] == 0
