"""openmanage_sync end to end: `dsm openmanage configure|sync`, a real `dsm worker`, and the protocol-level OME
test server (tests/worker/fake_ome.py) over HTTPS — several pages, IPv6 addresses, a device without an iDRAC,
an expired session, a 500 on page 3 — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from dsm_core.models import IdracCommand, Job, JobTask, Server
from dsm_sim.fleet import FleetThread
from tests.pg import free_port
from tests.recording_proxy import RecordingProxy
from tests.worker.conftest import Install
from tests.worker.fake_ome import FakeOme, device

pytestmark = pytest.mark.timeout(240)
ADDRESS = "127.0.61.1"


def _fleet() -> list[dict[str, object]]:
    devices = [device(10000 + n, f"OMT{n:04d}", [f"127.0.62.{n}"]) for n in range(1, 10)]
    devices.append(device(10010, "OMT0010", ["2001:db8::10"]))  # IPv6 only
    devices.append(device(10011, "OMT0011", ["[2001:db8::11]", "127.0.62.11"]))  # IPv6 listed first: IPv4 wins
    devices.append(device(10012, "OMT0012", []))  # no iDRAC: reported, not guessed
    devices.append(device(10013, "OMT0013", ["127.0.62.13"], name="\x1b[31mevil\x1b[0m", port=8443))
    devices.append(device(20001, "CHASSIS1", ["127.0.62.200"], device_type=2000))  # a chassis: not a server
    return devices


@pytest.fixture
def ome() -> Iterator[FakeOme]:
    with FakeOme(ADDRESS, free_port(), devices=_fleet(), expire_after=3) as fake:
        yield fake


def _configure(install: Install, ome: FakeOme) -> None:
    done = install.home.run("openmanage", "configure", "--host", ome.address, "--port", str(ome.port),
                            "--username", "admin", "--password-stdin", "--json", stdin="calvin\n")
    assert done.returncode == 0, done.stderr
    assert "calvin" not in done.stdout and json.loads(done.stdout)["password_set"] is True
    # The fake appliance lists devices on loopback (this host): a lab's setting, off by default.
    install.home.run("settings", "set", "network.allow_loopback_devices", "true", check=True)


def _sync(install: Install) -> Job:
    created = install.home.run("openmanage", "sync", "--json")
    assert created.returncode == 0, created.stderr
    install.worker()
    with Session(install.engine) as s:
        job = s.get(Job, uuid.UUID(json.loads(created.stdout)["id"]))
        assert job is not None
        return job


def _servers(install: Install) -> dict[str, Server]:
    with Session(install.engine) as s:
        return {str(x.service_tag): x for x in s.exec(select(Server)).all()}


def test_every_device_over_every_page_exactly_once_then_updated_and_a_failed_page_fails_the_job(
        install: Install, ome: FakeOme, fleet: FleetThread) -> None:
    _configure(install, ome)
    job = _sync(install)
    assert job.status == "completed", job.error
    servers = _servers(install)
    assert sorted(servers) == sorted(f"OMT{n:04d}" for n in (*range(1, 12), 13))  # 12 imported, once each
    assert (servers["OMT0010"].ip_address, servers["OMT0010"].port) == ("2001:db8::10", 443)
    assert servers["OMT0011"].ip_address == "127.0.62.11"
    assert servers["OMT0013"].port == 8443 and servers["OMT0013"].hostname is None  # an escape sequence: no name
    assert {s.openmanage_device_id for s in servers.values()} >= {"10001", "10010"}
    assert all(s.last_openmanage_sync is not None for s in servers.values())
    result = (job.details or {})["result"]["openmanage"]
    assert (result["created"], result["skipped"]) == (12, 1)
    assert result["skipped_devices"] == [{"device": "OMT0012", "reason": "no iDRAC address in DeviceManagement"}]
    # Every page asked with the filter OME understands (%20, never +), the session renewed when it expired and
    # logged out at the end, every call in the activity log as an OpenManage call.
    assert len(ome.pages) >= 4 and all("$filter=Type%20eq%201000" in q and "+" not in q for q in ome.pages)
    assert ome.logins >= 2 and ome.logouts and not ome.tokens
    with Session(install.engine) as s:
        calls = s.exec(select(IdracCommand).where(IdracCommand.job_id == job.id)).all()
        tasks = s.exec(select(JobTask).where(JobTask.job_id == job.id)).all()
    assert {c.operation_type for c in calls} == {"openmanage_api"}
    assert sum(1 for c in calls if c.command_type == "GET" and c.success) == len(ome.pages)
    assert any(c.command_type == "GET" and c.status_code == 401 for c in calls)  # the expired session, renewed
    assert any(c.command_type == "DELETE" and c.success for c in calls)
    assert any("skipped OMT0012: no iDRAC address" in (t.log or "") for t in tasks)

    # A second run: a moved iDRAC is a conflict for an admin (never moved from outside), a new device created,
    # nothing duplicated; the admin confirms the move and the next run agrees.
    # The new address is a listener of the appliance's choosing (a logging proxy in front of a real iDRAC); the
    # server is linked to the lab set, so a move would have sent the set's password there with the next refresh.
    with RecordingProxy("127.0.62.101", fleet.endpoints[0]) as proxy:
        install.home.run("servers", "update", "OMT0001", "--credential-set", "lab", check=True)
        ome.devices[0] = device(10001, "OMT0001", ["127.0.62.101"], port=proxy.port)
        ome.devices.append(device(10014, "OMT0014", ["127.0.62.14"]))
        job = _sync(install)
        assert job.status == "completed", job.error
        result = (job.details or {})["result"]["openmanage"]
        assert (result["created"], result["updated"], result["unchanged"], result["conflicts"]) == (1, 0, 11, 1)
        assert "not moved" in result["conflicting_devices"][0]["reason"], result
        servers = _servers(install)
        assert len(servers) == 13 and servers["OMT0001"].ip_address == "127.0.62.1"
        install.home.run("servers", "refresh", "OMT0001", check=True)
        install.worker()
        assert proxy.received == b""  # 0 bytes: not the password, not even a connection's request
        install.home.run("servers", "update", "OMT0001", "--address", f"127.0.62.101:{proxy.port}", check=True)
        job = _sync(install)
        result = (job.details or {})["result"]["openmanage"]
        assert (result["created"], result["conflicts"]) == (0, 0) and _servers(install)["OMT0001"].ip_address == \
            "127.0.62.101"
        install.home.run("servers", "refresh", "OMT0001", check=True)  # the admin's move: now it goes there
        install.worker()
        assert b"calvin" in proxy.received

    # Page 3 fails: the job fails and nothing is recorded from the pages before it.
    ome.fail_page = 3
    ome.devices.append(device(10015, "OMT0015", ["127.0.62.15"]))
    job = _sync(install)
    assert job.status == "failed"
    text = (job.error or "") + " ".join((t.error or "") + (t.log or "") for t in _tasks(install, job))
    assert "500" in text and "a partial list is never recorded" in text, text
    assert "OMT0015" not in _servers(install) and len(_servers(install)) == 13
    assert not ome.tokens  # logged out all the same


def _tasks(install: Install, job: Job) -> list[JobTask]:
    with Session(install.engine) as s:
        return list(s.exec(select(JobTask).where(JobTask.job_id == job.id)).all())


@pytest.mark.parametrize("backend", ["sqlite"])  # the client's paging: the same on both databases
def test_paging_by_count_alone_and_a_next_link_off_the_appliance_is_refused(install: Install) -> None:
    with FakeOme(ADDRESS, free_port(), devices=_fleet(), count_only=True) as ome:
        _configure(install, ome)
        job = _sync(install)
        assert job.status == "completed", job.error
        assert len(_servers(install)) == 12
        assert any("$skip=8" in q for q in ome.pages)
    with FakeOme(ADDRESS, free_port(), devices=_fleet(), foreign_next_link=True) as ome:
        _configure(install, ome)
        job = _sync(install)
        assert job.status == "failed"
        text = (job.error or "") + " ".join((t.error or "") + (t.log or "") for t in _tasks(install, job))
        assert "off this iDRAC's origin" in text or "refused" in text, text
        assert len(ome.pages) == 1  # the foreign link was never followed


def test_outside_sources_cannot_point_dsm_at_its_own_host_or_flood_it(install: Install) -> None:
    hostile = [device(30001, "BAD0001", ["255.255.255.255"]), device(30002, "BAD0002", ["127.0.0.1"], port=22),
               device(30003, "BAD0003", ["::1"]), device(30004, "BAD0004", ["0.0.0.0"]),
               device(30005, "BAD0005", ["224.0.0.1"]), device(30006, "BAD0006", ["169.254.1.1"]),
               device(30007, "GOOD001", ["10.20.0.7"])]
    with FakeOme(ADDRESS, free_port(), devices=hostile) as ome:
        done = install.home.run("openmanage", "configure", "--host", ome.address, "--port", str(ome.port),
                                "--username", "admin", "--password-stdin", stdin="calvin\n")
        assert done.returncode == 0, done.stderr
        job = _sync(install)
        assert job.status == "completed", job.error
        result = (job.details or {})["result"]["openmanage"]
        assert sorted(_servers(install)) == ["GOOD001"]
        reasons = {d["device"]: d["reason"] for d in result["skipped_devices"]}
        assert "broadcast" in reasons["BAD0001"] and "loopback" in reasons["BAD0002"]
        assert "loopback" in reasons["BAD0003"] and "unspecified" in reasons["BAD0004"]
        assert "multicast" in reasons["BAD0005"] and "link-local" in reasons["BAD0006"]
        # A flood: more devices than the cap fails the sync and changes nothing.
        install.home.run("settings", "set", "network.max_sync_devices", "3", check=True)
        ome.devices.append(device(30008, "GOOD002", ["10.20.0.8"]))
        job = _sync(install)
        assert job.status == "failed"
        text = (job.error or "") + " ".join(t.error or "" for t in _tasks(install, job))
        assert "lists more than 3 server devices" in text, text
        assert sorted(_servers(install)) == ["GOOD001"]
