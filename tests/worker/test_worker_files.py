"""The worker reads only the files it was meant to: a job that names worker.key gets nothing out of it.

An operator runs his own "iDRAC": a logging TLS proxy on another loopback address, in front of a simulated
iDRAC so the whole firmware conversation takes place. He asks for a firmware push of a file he chose: the
worker's key itself, a symlink to it named like a DUP, a hard link to it, a file outside the directories an
admin configured, or a link swapped in after the job was created. Every path refuses it (`dsm firmware
update --file`, `dsm jobs create … --detail file=` and `--details-json`, `dsm windows create`), and a job that
reaches the worker all the same (a link swapped in after creation, a row written past DSM) fails naming the
rule. The proxy's log holds 0 bytes of the key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from dsm_core.models import Job
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.recording_proxy import RecordingProxy
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, make_install

FAST = ("--dell-job-poll", "0.2", "--scheduled-settle", "1")
# "His iDRAC": an address outside every range, as an operator may add any server.
HIS_ADDRESS = "127.0.51.1"


@pytest.fixture
def fleet() -> Iterator[FleetThread]:
    with FleetThread(fleet_spec(count=1, models=("R750",), time_scale=300)) as f:
        yield f


@pytest.fixture
def proxy(fleet: FleetThread) -> Iterator[RecordingProxy]:
    with RecordingProxy(HIS_ADDRESS, fleet.endpoints[0]) as p:
        yield p


@pytest.fixture
def setup(templates: Templates, tmp_path: Path, proxy: RecordingProxy) -> Iterator[tuple[Install, Path, Path]]:
    """An installation whose admin allows packages from ``dups``; the operator's server is his proxy."""
    install = make_install(templates, "sqlite", tmp_path, ["127.0.51.0/24"])
    dups = tmp_path / "dups"
    dups.mkdir()
    install.home.run("settings", "set", "activity.package_dirs", str(dups), check=True)
    install.home.run("servers", "add", proxy.endpoint, check=True)
    yield install, dups, install.home.home / "worker.key"
    install.engine.dispose()


def _key_material(key: Path) -> list[bytes]:
    """Pieces of the key a leak would carry: its PEM lines (base64, 64 characters each) and the whole file."""
    data = key.read_bytes()
    return [data, *(line for line in data.splitlines() if len(line) >= 16 and not line.startswith(b"-----"))]


def _leaked(proxy: RecordingProxy, key: Path) -> list[bytes]:
    sent = proxy.received
    return [piece for piece in _key_material(key) if piece in sent]


def _refused(install: Install, *argv: str) -> str:
    result = install.home.run(*argv)
    assert result.returncode == 2, (argv, result.returncode, result.stdout, result.stderr)
    return result.stderr


def test_every_creation_path_refuses_a_file_outside_the_package_dirs(
    setup: tuple[Install, Path, Path], proxy: RecordingProxy
) -> None:
    install, dups, key = setup
    (dups / "k.EXE").symlink_to(key)
    os.link(key, dups / "hard.EXE")
    outside = install.home.home / "BIOS_X.EXE"
    outside.write_bytes(b"MZ not in the dirs")
    cases: dict[str, str | tuple[str, ...]] = {
        str(key.with_name("worker.EXE")): "not inside a configured package directory",
        str(outside): "not inside a configured package directory",
        str(dups / "k.EXE"): "is a symbolic link",
        # `firmware update --file` makes the path absolute as a shell would (dups/.. is home: outside).
        f"{dups}/../worker.key.EXE": ("'.', '..' or empty components", "not inside a configured package directory"),
    }
    for path, why in cases.items():
        for argv in (
            ("firmware", "update", proxy.endpoint, "--file", path, "--reboot", "none"),
            ("jobs", "create", "firmware_update", "--server", proxy.endpoint, "--detail", f"file={path}",
             "--detail", "reboot=none"),
            ("jobs", "create", "firmware_update", "--server", proxy.endpoint, "--details-json",
             json.dumps({"file": path, "reboot": "none"})),
            ("windows", "create", "--title", "fw", "--server", proxy.endpoint, "--type", "firmware_update",
             "--start", "2030-01-06T02:00", "--end", "2030-01-06T03:00", "--detail", f"file={path}",
             "--detail", "reboot=none"),
        ):
            err = _refused(install, *argv)
            reasons = why if isinstance(why, tuple) else (why,)
            assert "file" in err and any(r in err for r in reasons), (argv, err)
    with Session(install.engine) as s:
        assert s.exec(select(Job)).all() == []
    install.home.run("settings", "set", "activity.package_dirs", "", check=True)
    err = _refused(install, "firmware", "update", proxy.endpoint, "--file", str(dups / "BIOS_A.EXE"))
    assert "no directory is configured" in err and "activity.package_dirs" in err


@pytest.mark.parametrize("trick", ["symlink", "hardlink", "row"])
def test_the_worker_refuses_what_slipped_past_creation_and_sends_no_byte_of_its_key(
    setup: tuple[Install, Path, Path], proxy: RecordingProxy, trick: str
) -> None:
    install, dups, key = setup
    package = dups / "BIOS_0JX4C_WN64_2.20.0.EXE"
    if trick == "row":
        # Another login writes the job past DSM's checks: a link to the key, outside the package directories.
        outside = install.home.home / "k.EXE"
        outside.symlink_to(key)
        made = json.loads(install.home.run("jobs", "create", "firmware_update", "--server", proxy.endpoint,
                                           "--detail", "image_uri=http://127.0.51.9/x.EXE", "--detail",
                                           "reboot=none", "--json", check=True).stdout)
        with install.engine.begin() as conn:
            conn.execute(sa.text("UPDATE jobs SET details = :d WHERE id = :id"),
                         {"d": json.dumps({"file": str(outside), "reboot": "none"}), "id": made["id"].replace("-", "")})
        why = "not inside a configured package directory"
    else:
        # A real package when the job is created; swapped for the key before the worker reads it.
        package.write_bytes(b"MZ" + b"\0" * 64)
        install.home.run("firmware", "update", proxy.endpoint, "--file", str(package), "--reboot", "none", check=True)
        package.unlink()
        if trick == "symlink":
            package.symlink_to(key)
            why = "symbolic link"
        else:
            os.link(key, package)
            why = "hard links"
    install.worker(*FAST)
    with Session(install.engine) as s:
        job = s.exec(select(Job)).one()
    assert job.status == "failed"
    shown = install.home.run("jobs", "show", str(job.id), "--json", check=True).stdout
    assert why in shown, shown
    assert _leaked(proxy, key) == []


def test_a_package_inside_the_directory_is_pushed_and_the_proxy_sees_it(
    setup: tuple[Install, Path, Path], proxy: RecordingProxy
) -> None:
    """The control: the proxy does see an upload's bytes, so its 0 bytes of the key above mean something."""
    install, dups, key = setup
    package = dups / "BIOS_0JX4C_WN64_2.20.0.EXE"
    package.write_bytes(b"MZ-dsm-control-package-" + b"\0" * 64)
    install.home.run("firmware", "update", proxy.endpoint, "--file", str(package), "--reboot", "none", check=True)
    install.worker(*FAST)
    with Session(install.engine) as s:
        job = s.exec(select(Job)).one()
    assert job.status == "completed", job.error
    assert b"MZ-dsm-control-package-" in proxy.received
    assert _leaked(proxy, key) == []
