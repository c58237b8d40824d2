"""Every job type end to end: `dsm` creates the job, a real `dsm worker` process runs it against the simulated
fleet over HTTPS, and the rows an operator reads say what happened — on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from dsm_core.models import FirmwareInventory, IdracCommand, Job, JobTask, Server, ServerEventLog, ServerHealth
from dsm_core.redfish.redaction import stored_bodies
from dsm_sim.fleet import FleetThread
from tests.worker.conftest import Install, block_of


def _jobs(install: Install) -> dict[str, Job]:
    with Session(install.engine) as s:
        return {j.job_type: j for j in s.exec(select(Job)).all()}


def _servers(install: Install) -> dict[str, Server]:
    with Session(install.engine) as s:
        return {f"{x.ip_address}:{x.port}": x for x in s.exec(select(Server)).all()}


def test_every_job_type_through_a_real_worker(install: Install, fleet: FleetThread) -> None:
    home = install.home
    net = block_of(fleet).replace(".0/24", ".0/29")
    home.run("discover", net, "--port", "8443", check=True)
    install.worker()
    discovery = _jobs(install)["discovery_scan"]
    assert discovery.status == "completed", discovery.error
    servers = _servers(install)
    sim = {s["endpoint"]: s for s in fleet.servers()}
    assert set(servers) == set(fleet.endpoints)
    for endpoint, server in servers.items():
        assert server.service_tag == sim[endpoint]["service_tag"]
        assert server.model == sim[endpoint]["model"]
        assert server.tls_fingerprint_sha256 and server.discovered_by_credential_set_id is not None
    with Session(install.engine) as s:
        probes = s.exec(select(JobTask).where(JobTask.job_id == discovery.id)).all()
    assert len(probes) == 6 and all(t.status == "completed" for t in probes)  # /29: 6 hosts, 4 iDRACs

    faulty, r630 = fleet.endpoints[2], fleet.endpoints[1]
    everything = [*fleet.endpoints]
    home.run("servers", "refresh", *everything, check=True)
    home.run("servers", "health", *everything, check=True)
    home.run("servers", "fetch-logs", faulty, check=True)
    home.run("power", "GracefulShutdown", r630, "--force-after-timeout", "--power-timeout", "30", check=True)
    home.run("servers", "test-credentials", *everything, check=True)
    home.run("servers", "diagnose", fleet.endpoints[0], check=True)
    install.worker()

    jobs = _jobs(install)
    for job_type in (
        "refresh_server_info",
        "health_check",
        "fetch_event_logs",
        "power_action",
        "test_credentials",
        "network_diagnostics",
    ):
        assert jobs[job_type].status == "completed", (job_type, jobs[job_type].error)
    servers = _servers(install)
    for endpoint, server in servers.items():
        assert server.idrac_firmware == sim[endpoint]["idrac_firmware"]
        assert server.idrac_generation == sim[endpoint]["idrac_generation"]
        assert server.bios_version == sim[endpoint]["bios_version"]
        assert server.connection_status == "connected" and server.credential_test_status == "ok"
        caps = server.supported_endpoints or {}
        assert caps["generation"] == sim[endpoint]["idrac_generation"]
    # The sessions path is the one the service root advertises (Links.Sessions), whatever the generation.
    import httpx

    advertised = httpx.get(f"https://{r630}/redfish/v1", verify=False).json()["Links"]["Sessions"]["@odata.id"]
    assert servers[r630].supported_endpoints["sessions_path"] == advertised
    assert servers[fleet.endpoints[2]].supported_endpoints["boot_patch"].endswith("/Settings")
    assert fleet.servers()[1]["power_state"] == "Off"  # the simulated server really went off
    assert servers[r630].power_state == "Off"  # and the server row says so (the console shows this column)
    assert servers[faulty].overall_health == "Critical"
    with Session(install.engine) as s:
        health = {h.server_id: h for h in s.exec(select(ServerHealth)).all()}
        bad = health[servers[faulty].id]
        assert (bad.psu_health, bad.fan_health) == ("Critical", "Critical")
        assert health[servers[fleet.endpoints[0]].id].psu_health == "OK"
        firmware = s.exec(select(FirmwareInventory).where(FirmwareInventory.server_id == servers[r630].id)).all()
        assert any(f.component_id == "25227" and f.version == sim[r630]["idrac_firmware"] for f in firmware)
        events = s.exec(select(ServerEventLog).where(ServerEventLog.server_id == servers[faulty].id)).all()
        assert any(e.message_id == "PSU0003" and e.severity == "Critical" for e in events)
        diag = s.exec(select(Job).where(Job.job_type == "network_diagnostics")).one()
        result = diag.details["result"]
        target = next(iter(v for k, v in result.items() if k != "targets"))
        assert target["tls"]["matches_pin"] is True and target["redfish"]["service_tag"]
        commands = s.exec(select(IdracCommand)).all()
    assert commands and all(c.source and c.source.startswith("worker:") for c in commands)
    kept = [(c, stored_bodies(c)) for c in commands]  # decompressed: a secret cannot hide in the blob
    assert all(c.request_body is None and c.response_body is None for c in commands)  # bodies live in `bodies`
    assert not any("calvin" in json.dumps(k) for _, k in kept)
    assert any(
        c.command_type == "POST" and isinstance(k["request"], dict) and k["request"].get("Password") == "***"
        and k["headers"] is not None for c, k in kept
    )
    # a change or a failure keeps its bodies; a successful read keeps none by default (activity.max_read_body_kb)
    reads = [k for c, k in kept if c.command_type == "GET" and c.success]
    assert reads and all(k == {"headers": None, "request": None, "response": None} for k in reads)
    assert any(k["response"] is not None for c, k in kept if c.command_type == "POST")

    # A second log fetch asks only for what is newer than the newest stored entry, and stores no copies.
    sel_before = sum(e.log_type == "sel" for e in events)
    home.run("servers", "fetch-logs", faulty, check=True)
    install.worker()
    with Session(install.engine) as s:
        after = s.exec(select(ServerEventLog).where(ServerEventLog.server_id == servers[faulty].id)).all()
        second = s.exec(select(Job).where(Job.job_type == "fetch_event_logs").order_by(Job.created_at.desc())).first()
        asked = [c.endpoint for c in s.exec(select(IdracCommand).where(IdracCommand.job_id == second.id)).all()]
    assert sum(e.log_type == "sel" for e in after) == sel_before  # nothing new happened in the SEL
    assert any("Created ge" in a and "Sel/Entries" in a for a in asked)  # incremental, not a full re-read
    keys = [(e.log_type, e.event_id) for e in after]
    assert len(keys) == len(set(keys))
    assert fleet.open_sessions() == 0
    peaks = [s["counters"]["peak_concurrent"] for s in fleet.servers()]
    assert max(peaks) <= 2


def test_jobs_wait_exit_code_follows_the_outcome(install: Install, fleet: FleetThread) -> None:
    home = install.home
    home.run("servers", "add", fleet.endpoints[0], check=True)
    home.run("servers", "add", "127.0.0.1:9", check=True)  # nothing listens there
    worker = install.start_worker()
    try:
        good = home.run("servers", "refresh", fleet.endpoints[0], "--wait", "--timeout", "60")
        bad = home.run("servers", "refresh", "127.0.0.1:9", "--wait", "--timeout", "60")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert good.returncode == 0 and "completed" in good.stdout
    assert bad.returncode == 1 and "failed" in bad.stderr and "127.0.0.1:9" in bad.stdout + bad.stderr
    assert fleet.open_sessions() == 0
