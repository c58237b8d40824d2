"""vCenter end to end: govmomi's vcsim (real pyvmomi over HTTPS) and a `dsm_sim` fleet whose iDRACs carry the
service tags vcsim gives its hosts (VCS0000…), a real worker, and the CLI as an operator scripts it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dsm_cli.main import os_username
from dsm_core.services import jobs
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates, ctx_for
from tests.sim.conftest import fleet_spec
from tests.vcsim import running
from tests.worker.conftest import Install, block_of, make_install, wait_until


@pytest.fixture
def tagged_fleet() -> Iterator[FleetThread]:
    with FleetThread(fleet_spec(count=6, tag_scheme="vcsim", time_scale=600)) as fleet:
        yield fleet


def _json(install: Install, *args: str, stdin: str | None = None, code: int = 0) -> Any:
    proc = install.home.run(*args, "--json", stdin=stdin)
    assert proc.returncode == code, (args, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return json.loads(proc.stdout)


def _stop(worker: subprocess.Popen[str]) -> None:
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()


def _activity_text(install: Install) -> str:
    with install.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM idrac_commands")).all()
        audit = conn.execute(sa.text("SELECT * FROM audit_logs")).all()
        jobs_ = conn.execute(sa.text("SELECT * FROM jobs")).all()
    return "\n".join(repr(tuple(r)) for r in [*rows, *audit, *jobs_])


def test_a_sync_links_every_host_by_service_tag_keeps_clusters_in_step_and_a_second_sync_changes_nothing(
        templates: Templates, backend: str, tmp_path: Path, tagged_fleet: FleetThread) -> None:
    with running("-cluster", "2", "-host", "3") as vc:
        install = make_install(templates, backend, tmp_path, [block_of(tagged_fleet)])
        home = install.home
        csv = tmp_path / "fleet.csv"
        csv.write_text("ip_address\n" + "".join(f"{ep}\n" for ep in tagged_fleet.endpoints))
        home.run("servers", "import", str(csv), check=True)
        admin = ctx_for(install.engine, os_username())
        jobs.create_job(admin, "refresh_server_info", servers=list(tagged_fleet.endpoints))
        install.worker()  # the iDRACs' service tags are read: VCS0000 … VCS0005
        tags = {s["service_tag"]: s["ip_address"] + ":" + str(s["port"]) for s in _json(install, "servers", "list")}
        assert sorted(tags) == [f"VCS{i:04d}" for i in range(6)]

        added = _json(install, "vcenter", "add", "vc1", "--url", vc.url, "--username", vc.username,
                      "--password-stdin", stdin=vc.password + "\n")
        assert added["tls_verify_mode"] == "pin" and added["tls_fingerprint_sha256"] is None
        worker = install.start_worker()
        try:
            first = _json(install, "vcenter", "sync", "--wait")
            assert first["status"] == "completed", first["error"]
            stats = first["details"]["result"]["vcenters"]["vc1"]
            assert stats["clusters"] == {"added": 2, "updated": 0, "removed": 0, "unchanged": 0}
            assert stats["hosts"] == {"added": 6, "updated": 0, "removed": 0, "unchanged": 0}
            assert stats["linked"] == 6
            assert stats["calls"] <= 20, "inventory must come through the PropertyCollector, not per object"

            clusters = _json(install, "clusters", "list")
            assert [c["name"] for c in clusters] == ["DC0_C0", "DC0_C1"]
            for c in clusters:
                assert {k: c[k] for k in ("vcenter", "datacenter", "drs_enabled", "drs_automation", "ha_enabled",
                                          "hosts", "hosts_connected", "hosts_in_maintenance", "last_safety")} == {
                    "vcenter": "vc1", "datacenter": "DC0", "drs_enabled": True, "drs_automation": "fullyAutomated",
                    "ha_enabled": True, "hosts": 3, "hosts_connected": 3, "hosts_in_maintenance": 0,
                    "last_safety": None}
            linked = {}
            for name in ("DC0_C0", "DC0_C1"):
                shown = _json(install, "clusters", "show", name)
                for h in shown["host_list"]:
                    linked[h["name"]] = (h["service_tag"], h["server"], h["link_source"])
            # vcsim tags hosts in name order; each host is linked to the iDRAC reporting the same tag
            assert linked == {name: (f"VCS{i:04d}", tags[f"VCS{i:04d}"], "service_tag")
                              for i, name in enumerate(sorted(linked))}
            groups = {g["name"]: g for g in _json(install, "groups", "list")}
            assert groups["DC0_C0"]["group_type"] == "vcenter_cluster" and groups["DC0_C0"]["member_count"] == 3

            pinned = _json(install, "vcenter", "list")[0]
            assert pinned["tls_fingerprint_sha256"] and pinned["last_sync_status"] == "completed"
            assert pinned["about"]["instance_uuid"]

            second = _json(install, "vcenter", "sync", "--wait")
            again = second["details"]["result"]["vcenters"]["vc1"]
            assert again["clusters"] == {"added": 0, "updated": 0, "removed": 0, "unchanged": 2}
            assert again["hosts"] == {"added": 0, "updated": 0, "removed": 0, "unchanged": 6}
            assert again["linked"] == again["unlinked"] == again["group_changes"] == 0

            # a host linked by hand keeps its link through a sync
            other = tags["VCS0005"]
            host0 = sorted(linked)[0]
            assert install.home.run("vcenter", "link", host0, tags["VCS0000"]).returncode == 0
            refused = install.home.run("vcenter", "link", host0, other)
            assert refused.returncode != 0 and "already linked" in refused.stderr
            _json(install, "vcenter", "sync", "--wait")
            shown = _json(install, "clusters", "show", "DC0_C0")
            assert {h["name"]: h["link_source"] for h in shown["host_list"]}[host0] == "manual"

            group_check = _json(install, "safety", "check", "--group", "DC0_C0", "--wait")
            assert group_check["verdict"] == "safe", group_check
            assert group_check["checks"][0]["healthy"] == 3
        finally:
            _stop(worker)
        with install.engine.connect() as conn:
            calls = conn.execute(sa.text(
                "SELECT command_type, endpoint, success FROM idrac_commands WHERE operation_type = 'vcenter_api'"
            )).all()
        methods = {c[1].split(" ")[0] for c in calls}
        assert {c[0] for c in calls} == {"SOAP"}
        assert {"RetrieveServiceContent", "Login", "RetrievePropertiesEx", "Logout"} <= methods
        assert all(c[2] for c in calls)
        assert vc.password not in _activity_text(install)


def test_a_changed_vcenter_certificate_is_refused_before_the_password_is_sent(
        templates: Templates, tmp_path: Path) -> None:
    with running("-cluster", "1", "-host", "2") as vc:
        install = make_install(templates, "sqlite", tmp_path, ["127.0.0.0/8"])
        _json(install, "vcenter", "add", "vc1", "--url", vc.url, "--username", vc.username, "--password-stdin",
              "--fingerprint", "AB" * 32, stdin=vc.password + "\n")
        install.home.run("vcenter", "sync", check=True)
        install.worker()
        job = _json(install, "jobs", "list")[0]
        shown = _json(install, "jobs", "show", job["id"])
        assert shown["status"] == "failed"
        assert "certificate" in shown["error"] and "Nothing was sent" in shown["error"]
        with install.engine.connect() as conn:
            methods = [r[0].split(" ")[0] for r in conn.execute(sa.text(
                "SELECT endpoint FROM idrac_commands WHERE operation_type = 'vcenter_api'")).all()]
        assert "Login" not in methods
        listed = _json(install, "vcenter", "list")[0]
        assert listed["last_sync_status"] == "failed"


def test_safety_refuses_each_unsafe_cluster_with_its_reason_stored(templates: Templates, tmp_path: Path) -> None:
    args = ("-cluster", "4", "-host", "3", "-no-drs", "DC0_C0", "-disconnected", "DC0_C1_H1",
            "-maintenance", "DC0_C2_H0")
    with running(*args) as vc:
        install = make_install(templates, "sqlite", tmp_path, ["127.0.0.0/8"])
        _json(install, "vcenter", "add", "vc1", "--url", vc.url, "--username", vc.username, "--password-stdin",
              stdin=vc.password + "\n")
        worker = install.start_worker()
        try:
            _json(install, "vcenter", "sync", "--wait")
            expected = {"DC0_C0": "drs_disabled", "DC0_C1": "host_disconnected", "DC0_C2": "host_in_maintenance"}
            for cluster, code in expected.items():
                out = _json(install, "safety", "check", "--cluster", cluster, "--wait", code=4)
                assert out["verdict"] == "unsafe" and out["checks"][0]["codes"][0] == code, out
                assert cluster in out["reasons"][0], out  # names the cluster or its host (DC0_C1_H1)
            few = _json(install, "safety", "check", "--cluster", "DC0_C3", "--min-hosts", "3", "--wait", code=4)
            assert few["checks"][0]["codes"] == ["too_few_healthy_hosts"], few
            assert "below the minimum of 3" in few["reasons"][0]
            ok = _json(install, "safety", "check", "--cluster", "DC0_C3", "--wait")
            assert ok["verdict"] == "safe" and ok["checks"][0]["margin"] == 0
            assert ok["checks"][0]["previous_status"] == "unsafe" and ok["checks"][0]["status_changed"] is True
            both = _json(install, "safety", "check", "--cluster", "DC0_C0", "--cluster", "DC0_C3", "--wait", code=4)
            assert [c["name"] for c in sorted(both["checks"], key=lambda c: c["name"])] == ["DC0_C0", "DC0_C3"]

            def soap(prefix: str) -> int:
                with install.engine.connect() as conn:
                    return int(conn.execute(sa.text(
                        "SELECT count(*) FROM idrac_commands WHERE job_id = :j AND endpoint LIKE :p"),
                        {"j": both["job_id"].replace("-", ""), "p": prefix + " %"}).scalar_one())

            wait_until(lambda: soap("Logout"), what="the job's activity rows")  # written in batches
            assert soap("Login") == 1  # one read of the vCenter served both clusters
        finally:
            _stop(worker)
        with install.engine.connect() as conn:
            stored = conn.execute(sa.text(
                "SELECT cluster_id, safe_to_proceed, details, status_changed, previous_status, job_id "
                "FROM cluster_safety_checks ORDER BY check_timestamp")).all()
        assert [(r[0], bool(r[1])) for r in stored[:5]] == [("DC0_C0", False), ("DC0_C1", False), ("DC0_C2", False),
                                                            ("DC0_C3", False), ("DC0_C3", True)]
        assert sorted((r[0], bool(r[1])) for r in stored[5:]) == [("DC0_C0", False), ("DC0_C3", True)]
        for row, code in zip(stored[:3], expected.values(), strict=True):
            details = row[2] if isinstance(row[2], dict) else json.loads(row[2])
            assert details["reasons"][0]["code"] == code and details["verdict"] == "unsafe"
            assert details["host_statuses"] and row[5] is not None
        listed = {c["name"]: c for c in _json(install, "clusters", "list")}
        assert listed["DC0_C3"]["last_safety"]["verdict"] == "safe"
        assert listed["DC0_C1"]["hosts_connected"] == 2 and listed["DC0_C2"]["hosts_in_maintenance"] == 1
