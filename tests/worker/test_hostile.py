"""A hostile iDRAC against a real `dsm worker`: nothing leaves for another host, nothing grows without bound.

The trap listens on another loopback address, on every port the hostile links name; it must see 0
connections, whether the worker holds a session token or (sessions refused with RAC0218) the password.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dsm_sim.repository import serve_repo
from tests.conftest import Templates
from tests.integration.cli import dsm_executable
from tests.worker.conftest import Install, make_install
from tests.worker.hostile import Behaviour, HostileIdrac

# The hostile iDRAC listens on fixed 127.0.50.x addresses: under pytest-xdist these tests share one worker.
pytestmark = pytest.mark.xdist_group("hostile-127.0.50")

ADDRESS = "127.0.50.1"
PORT = 8443
ENDPOINT = f"{ADDRESS}:{PORT}"
ORIGIN = f"https://{ENDPOINT}/"


@pytest.fixture
def install(templates: Templates, backend: str, tmp_path: Path) -> Install:
    return make_install(templates, backend, tmp_path, ["127.0.50.0/24"])


def run_worker_measuring_rss(install: Install, timeout: float = 240) -> tuple[int, str]:
    """`dsm worker --exit-when-idle` to the end; its peak RSS in MB (VmHWM, read while it runs)."""
    log = install.home.home / "worker.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([*dsm_executable(), "worker", "--exit-when-idle"], stdout=subprocess.DEVNULL,
                                stderr=err, env=install.home.env())
        peak = 0
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) // 1024)
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            raise AssertionError("worker did not finish")
    assert proc.returncode == 0, log.read_text()[-3000:]
    return peak, log.read_text()


def jobs_after(install: Install, *job_args: tuple[str, ...]) -> tuple[list[dict[str, object]], int, str]:
    for args in job_args:
        install.home.run(*args, check=True)
    peak, log = run_worker_measuring_rss(install)
    listed = json.loads(install.home.run("jobs", "list", "--json", check=True).stdout)
    return [json.loads(install.home.run("jobs", "show", j["id"], "--json", check=True).stdout) for j in listed], \
        peak, log


def activity_urls(install: Install) -> list[tuple[str, int | None, str | None]]:
    with install.engine.connect() as conn:
        return [(r[0], r[1], r[2]) for r in
                conn.execute(sa.text("SELECT full_url, status_code, error_message FROM idrac_commands"))]


READ_JOBS = (("servers", "refresh", ENDPOINT), ("servers", "health", ENDPOINT), ("servers", "fetch-logs", ENDPOINT))


@pytest.mark.parametrize("refuse_sessions", [False, True], ids=["session-token", "rac0218-basic-auth"])
def test_a_hostile_idrac_never_steers_the_worker_to_another_host(install: Install, refuse_sessions: bool) -> None:
    behaviour = Behaviour(refuse_sessions=refuse_sessions)
    with HostileIdrac(ADDRESS, PORT, behaviour) as idrac:
        install.home.run("servers", "add", ENDPOINT, check=True)
        jobs, _, _ = jobs_after(install, *READ_JOBS)
        assert idrac.trap.connections == [], "a request left for another host"
        assert len(idrac.requests) > 3  # the worker did talk to the hostile iDRAC itself
        if refuse_sessions:
            assert any("authorization" in h for _, _, h in idrac.requests), "basic auth was in use"
    errors = " ".join(str(j["error"]) + " ".join(str(t["error"]) for t in j["tasks"]) for j in jobs)
    assert "off this iDRAC's origin" in errors and "nothing was sent" in errors
    rows = activity_urls(install)
    sent = [url for url, status, _ in rows if status is not None]
    assert sent and all(url.startswith(ORIGIN) for url in sent), sent
    refused = [err for url, status, err in rows if status is None and err and "not sent" in err]
    assert refused and all(url == "(not sent)" for url, status, err in rows if err and "not sent" in err)


@pytest.mark.parametrize("kind", ["gzip_bomb", "endless"])
def test_a_bomb_or_an_endless_body_stops_at_the_cap(install: Install, kind: str) -> None:
    with HostileIdrac(ADDRESS, PORT, Behaviour(system_body=kind, offhost_links=False,
                                               offhost_session_location=False)):
        install.home.run("servers", "add", ENDPOINT, check=True)
        started = time.monotonic()
        jobs, peak_mb, _ = jobs_after(install, ("servers", "refresh", ENDPOINT))
        took = time.monotonic() - started
    print(f"{kind}: worker peak RSS {peak_mb} MB, job ended after {took:.1f} s")
    assert peak_mb <= 300, f"worker peak RSS {peak_mb} MB"
    (job,) = jobs
    assert job["status"] == "failed"
    assert "cap" in str(job["tasks"][0]["error"]), job["tasks"]
    assert took < 60, f"{kind}: {took:.0f} s — the cap, not a timeout, must end it"


def test_a_huge_model_is_stored_cut_with_a_marker(install: Install) -> None:
    with HostileIdrac(ADDRESS, PORT, Behaviour(model="R" * 3_000_000, offhost_links=False,
                                               offhost_session_location=False)):
        install.home.run("servers", "add", ENDPOINT, check=True)
        jobs_after(install, ("servers", "refresh", ENDPOINT))
    with install.engine.connect() as conn:
        model = conn.execute(sa.text("SELECT model FROM servers")).scalar_one()
    assert model is not None and len(model) <= 100 and model.endswith("…[truncated]")
    listed = install.home.run("servers", "list", check=True).stdout
    assert len(listed) < 2000


def test_duplicate_firmware_ids_are_tolerated_and_the_later_wins(install: Install) -> None:
    with HostileIdrac(ADDRESS, PORT, Behaviour(duplicate_firmware=True, offhost_links=False,
                                               offhost_session_location=False)):
        install.home.run("servers", "add", ENDPOINT, check=True)
        jobs, _, log = jobs_after(install, ("servers", "refresh", ENDPOINT))
    assert jobs[0]["tasks"][0]["status"] == "completed", jobs
    with install.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT inventory_id, version FROM firmware_inventory")).all()
    assert [(r[0], r[1]) for r in rows] == [("Installed-159-1.0", "2.0.0")]
    assert "listed twice" in log


@pytest.mark.parametrize("where", ["action-target", "task-monitor"])
def test_a_firmware_update_never_follows_an_idrac_off_its_origin(templates: Templates, tmp_path: Path,
                                                                 where: str) -> None:
    """The UpdateService's action target, or the 202's task monitor, on another host: DSM never goes there. A
    target off the origin stops the update before anything is sent; a task monitor off the origin is not
    followed, and the job is read from the iDRAC's own queue instead."""
    install = make_install(templates, "sqlite", tmp_path, ["127.0.50.0/24"])
    behaviour = Behaviour(offhost_links=where == "action-target", offhost_session_location=False, firmware_ok=True,
                          offhost_update_location=where == "task-monitor")
    # The SCP backup before the update is off here: this test is about the update's own requests (a backup
    # from this iDRAC would stop at its off-origin export target first, see the profile tests below).
    install.home.run("settings", "set", "activity.scp_backup_before_change", "false", check=True)
    with HostileIdrac(ADDRESS, PORT, behaviour) as idrac:
        install.home.run("servers", "add", ENDPOINT, check=True)
        jobs, _, _ = jobs_after(install, ("firmware", "update", ENDPOINT, "--image-uri",
                                          "http://127.0.50.3/BIOS_0T7N6_WN64_1.13.2.EXE"))
        assert idrac.trap.connections == [], "a request left for another host"
        posted = [p for m, p, _ in idrac.requests if m == "POST" and p.endswith("UpdateService.SimpleUpdate")]
    (job,) = jobs
    assert job["status"] == "failed"
    steps = {s["step_name"]: s for s in job["steps"]}
    if where == "action-target":
        assert posted == [], "the update was sent to a target off the origin"
        assert steps["install"]["step_status"] == "failed"
        assert "off this iDRAC's origin" in str(job["error"]), job["error"]
    else:
        assert len(posted) == 1
        notes = " ".join(steps["install"]["step_details"]["notes"])
        assert "off its own origin, not followed" in notes and "its own job queue" in notes
        # the hostile iDRAC says "Completed" but the BIOS never changed: the job fails on what it can see
        assert "no installed version changed" in str(job["error"]), job["error"]
    install.engine.dispose()


@pytest.mark.parametrize("kind", ["doctype", "huge"])
def test_a_hostile_profile_is_never_expanded_nor_read_past_the_cap(templates: Templates, tmp_path: Path,
                                                                   kind: str) -> None:
    """An export whose profile declares entities (billion laughs) is kept, marked invalid, and fails the job;
    one over the body cap is not read past it. Neither is ever a backup a change may rely on."""
    install = make_install(templates, "sqlite", tmp_path, ["127.0.50.0/24"])
    with HostileIdrac(ADDRESS, PORT, Behaviour(offhost_links=False, offhost_session_location=False,
                                               scp_profile=kind)) as idrac:
        install.home.run("servers", "add", ENDPOINT, check=True)
        jobs, peak, _ = jobs_after(install, ("scp", "export", ENDPOINT))
        assert idrac.trap.connections == []
    (job,) = jobs
    assert job["status"] == "failed", job
    with install.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT is_valid, validation_errors, scp_file_size_bytes FROM scp_backups")).all()
    if kind == "doctype":
        assert "DOCTYPE" in str(job["error"]) and "marked invalid" in str(job["error"]), job["error"]
        assert len(rows) == 1 and not rows[0][0] and "DOCTYPE" in rows[0][1] and rows[0][2] < 4096
    else:
        assert "cap" in str(job["error"]), job["error"]
        assert rows == []
    assert peak < 400 * 2**20, f"the worker grew to {peak >> 20} MB"
    install.engine.dispose()


def test_virtual_media_is_never_inserted_through_a_target_off_the_origin(templates: Templates,
                                                                         tmp_path: Path) -> None:
    """The slot's InsertMedia target names another host: nothing is sent there (the share password included)."""
    install = make_install(templates, "sqlite", tmp_path, ["127.0.50.0/24"])
    with serve_repo(tmp_path / "share", "127.0.50.4", []) as share:
        (share.root / "x.iso").write_bytes(b"\0" * 1024)
        with HostileIdrac(ADDRESS, PORT, Behaviour(offhost_session_location=False, offhost_media=True)) as idrac:
            install.home.run("servers", "add", ENDPOINT, check=True)
            jobs, _, _ = jobs_after(install, ("media", "mount", ENDPOINT, "--image", f"{share.url}/x.iso"))
            assert idrac.trap.connections == [], "a request left for another host"
            inserts = [p for m, p, _ in idrac.requests if m == "POST" and "InsertMedia" in p]
    (job,) = jobs
    assert job["status"] == "failed" and "origin" in str(job["error"]), job["error"]
    assert inserts == []
    install.engine.dispose()
