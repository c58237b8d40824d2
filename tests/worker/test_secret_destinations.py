"""A credential set's password goes only where it belongs, whatever an operator asks the worker for.

The operator (oscar) runs his own "iDRAC": a logging TLS proxy on 127.0.52.1, outside every credential set's
ranges, in front of a real simulated iDRAC (so a password that reached it would log in and be recorded). He
asks for a credential test of his address with the prod set, adds his address as a server (with prod linked,
or relying on prod being the default), and scans his range with prod. The proxy receives 0 bytes of prod's
password and each job fails naming the rule. The controls show the proxy does see a password: once an admin
links prod to that server, the same job logs in through it.

A ``verified`` set goes only to a server whose fingerprint an admin pinned (or that a CA vouches for): the
first-use pin of an operator-added server does not qualify; the admin's ``--fingerprint`` does.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dsm_cli.main import os_username
from dsm_core.credentials.secret import Secret
from dsm_core.models import Job, JobTask
from dsm_core.services import credentials, jobs, servers
from dsm_core.services.errors import PermissionDenied
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates, ctx_for
from tests.recording_proxy import RecordingProxy, site_ca
from tests.sim import conftest as sim_conftest
from tests.sim.conftest import FileServer, client, fleet_spec
from tests.worker.conftest import Install, block_of, make_install

files = sim_conftest.files  # the plain HTTP file server fixture: the virtual-media share
ADMIN = os_username()  # make_install's `dsm init` made the test's OS user the first admin

PROD_PASSWORD = "prod-pw-7f3a9c2e"  # the simulated iDRAC's root password
HIS_ADDRESS = "127.0.52.1"


@pytest.fixture
def fleet() -> Iterator[FleetThread]:
    with FleetThread(fleet_spec(count=1, models=("R750",), time_scale=600, password=PROD_PASSWORD)) as f:
        yield f


@pytest.fixture
def proxy(fleet: FleetThread) -> Iterator[RecordingProxy]:
    with RecordingProxy(HIS_ADDRESS, fleet.endpoints[0]) as p:
        yield p


@pytest.fixture
def install(templates: Templates, tmp_path: Path, fleet: FleetThread) -> Iterator[Install]:
    inst = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
    inst.home.run("users", "add", "oscar", "--role", "operator", check=True)
    inst.home.run("credentials", "add", "prod", "--username", "root", "--password-stdin", "--range", block_of(fleet),
                  "--priority", "1", stdin=PROD_PASSWORD + "\n", check=True)
    yield inst
    inst.engine.dispose()


def _failed_with(install: Install, why: str) -> None:
    with Session(install.engine) as s:
        job = s.exec(select(Job).order_by(Job.created_at.desc())).first()
        assert job is not None
        errors = [t.error or "" for t in s.exec(select(JobTask).where(JobTask.job_id == job.id))]
    assert job.status == "failed", (job.status, job.error)
    assert any(why in e for e in [job.error or "", *errors]), (job.error, errors)


def _completed(install: Install) -> None:
    with Session(install.engine) as s:
        job = s.exec(select(Job).order_by(Job.created_at.desc())).first()
        assert job is not None
        errors = [t.error for t in s.exec(select(JobTask).where(JobTask.job_id == job.id))]
    assert job.status == "completed", (job.error, errors)


def test_the_operators_listener_receives_no_byte_of_prods_password(install: Install, proxy: RecordingProxy) -> None:
    oscar = ctx_for(install.engine, "oscar")
    his_port = proxy.port
    # 1. a credential test of his address with prod named
    jobs.create_job(oscar, "test_credentials", details={"address": HIS_ADDRESS, "port": his_port,
                                                         "credential_set": "prod"})
    install.worker()
    _failed_with(install, "credential set prod's password goes only to its ranges")
    # 2. his address as a server with prod linked: an operator may not link a set outside its ranges
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        servers.add_server(oscar, proxy.endpoint, credential_set="prod")
    # 3. his address as a plain server, prod the default set: resolution picks prod, the rule refuses it
    servers.add_server(oscar, proxy.endpoint)
    credentials.update_credential_set(ctx_for(install.engine, ADMIN), "prod", is_default=True)
    jobs.create_job(oscar, "refresh_server_info", servers=[proxy.endpoint])
    install.worker()
    _failed_with(install, "credential set prod's password goes only to its ranges")
    # 4. a scan of his range with prod
    jobs.create_job(oscar, "discovery_scan", details={"ranges": [f"{HIS_ADDRESS}/32"], "port": his_port,
                                                "credential_sets": ["prod"]})
    install.worker()
    _failed_with(install, "no credential may be sent there")
    assert PROD_PASSWORD.encode() not in proxy.received
    # The control: an admin links prod to his server; the proxy now sees the password go by.
    servers.update_server(ctx_for(install.engine, ADMIN), proxy.endpoint, credential_set="prod")
    jobs.create_job(oscar, "refresh_server_info", servers=[proxy.endpoint])
    install.worker()
    _completed(install)
    assert PROD_PASSWORD.encode() in proxy.received


def _fingerprint(endpoint: str) -> str:
    host, _, port = endpoint.rpartition(":")
    pem = ssl.get_server_certificate((host, int(port)))
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, 64, 2))


def test_a_verified_set_goes_only_to_an_admin_pinned_server(install: Install, fleet: FleetThread) -> None:
    admin, oscar = ctx_for(install.engine, ADMIN), ctx_for(install.engine, "oscar")
    endpoint = fleet.endpoints[0]
    credentials.update_credential_set(admin, "prod", trust="verified")
    servers.add_server(oscar, endpoint)  # inside prod's range, pinned on first use: not enough for verified
    jobs.create_job(oscar, "refresh_server_info", servers=[endpoint])
    install.worker()
    _failed_with(install, "credential set prod is verified")
    assert fleet.servers()[0]["counters"]["logins"] == 0
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        servers.update_server(oscar, endpoint, tls_fingerprint_sha256=_fingerprint(endpoint))
    servers.update_server(admin, endpoint, tls_fingerprint_sha256=_fingerprint(endpoint))
    jobs.create_job(oscar, "refresh_server_info", servers=[endpoint])
    install.worker()
    _completed(install)
    # The lab set stays first-use, as today, and says so
    listed = install.home.run("credentials", "list", check=True)
    assert "first-use" in listed.stdout and "first-use: the password may go" in listed.stderr


SHARE_PASSWORD = "share-pw-5d1e0b77"


def _mounted_user(endpoint: str) -> list[object]:
    """UserName of each inserted virtual medium, as the simulated iDRAC was given it."""
    with client(endpoint, auth=("root", PROD_PASSWORD)) as c:
        slots = []
        for base in ("/redfish/v1/Systems/System.Embedded.1", "/redfish/v1/Managers/iDRAC.Embedded.1"):
            found = c.get(f"{base}/VirtualMedia")
            if found.status_code == 200:
                slots += [c.get(m["@odata.id"]).json() for m in found.json()["Members"]]
    return [slot.get("UserName") for slot in slots if slot.get("Inserted")]


def test_share_credentials_go_only_to_the_share_host_and_vetted_idracs(
    install: Install, proxy: RecordingProxy, fleet: FleetThread, files: FileServer
) -> None:
    oscar = ctx_for(install.engine, "oscar")
    image = files.put("isos/esxi.iso", b"\0" * 4096)  # on 127.0.0.1: the configured share host
    for key, value in (("share_type", "cifs"), ("host", "127.0.0.1"), ("use_auth", "true"), ("username", "media")):
        install.home.run("settings", "set", f"virtual_media.{key}", value, check=True)
    install.home.run("settings", "set", "virtual_media.password", "-", stdin=SHARE_PASSWORD + "\n", check=True)
    # His iDRAC, outside every range, with its own login (his own password for his own listener): the image on
    # the real share host; the share's password does not go with the mount.
    servers.add_server(oscar, proxy.endpoint, username="root", password=Secret(PROD_PASSWORD))
    jobs.create_job(oscar, "virtual_media_mount", servers=[proxy.endpoint], details={"image_url": image})
    install.worker()
    _failed_with(install, "not sent: share credentials go only to iDRACs inside a credential set's ranges")
    assert SHARE_PASSWORD.encode() not in proxy.received
    assert PROD_PASSWORD.encode() in proxy.received  # the control: he did log in through his proxy
    # A vetted iDRAC (inside prod's range), the image on another host: mounted without the share's credentials.
    endpoint = fleet.endpoints[0]
    servers.add_server(oscar, endpoint)
    jobs.create_job(oscar, "virtual_media_mount", servers=[endpoint],
                    details={"image_url": image.replace("127.0.0.1", "localhost")})
    install.worker()
    _completed(install)
    assert _mounted_user(endpoint) == [None]
    # The same iDRAC, the image on the share host: the iDRAC is given the share's credentials.
    jobs.create_job(oscar, "virtual_media_unmount", servers=[endpoint])
    install.worker()
    jobs.create_job(oscar, "virtual_media_mount", servers=[endpoint], details={"image_url": image})
    install.worker()
    _completed(install)
    assert _mounted_user(endpoint) == ["media"]


def test_a_verified_set_goes_to_a_server_whose_certificate_chains_to_the_site_ca(
    install: Install, fleet: FleetThread, tmp_path: Path
) -> None:
    """The other way a server is vetted: its certificate chains to the site CA (here a CA made by the test,
    trusted by the worker through SSL_CERT_FILE, as a site installs its CA in the host's store)."""
    admin, oscar = ctx_for(install.engine, ADMIN), ctx_for(install.engine, "oscar")
    credentials.update_credential_set(admin, "prod", trust="verified")
    address = fleet.endpoints[0].split(":")[0].rsplit(".", 1)[0] + ".200"  # inside prod's range
    context, ca_file = site_ca(tmp_path / "ca", address)
    with RecordingProxy(address, fleet.endpoints[0], server_context=context) as signed:
        install.home.extra_env["SSL_CERT_FILE"] = str(ca_file)
        servers.add_server(oscar, signed.endpoint, tls_verify_mode="ca")
        jobs.create_job(oscar, "refresh_server_info", servers=[signed.endpoint])
        install.worker()
        _completed(install)
        assert PROD_PASSWORD.encode() in signed.received
        # The same server pinned on first use instead: not vetted, nothing sent.
        before = len(signed.received)
        servers.update_server(oscar, signed.endpoint, tls_verify_mode="pin")
        jobs.create_job(oscar, "refresh_server_info", servers=[signed.endpoint])
        install.worker()
        _failed_with(install, "credential set prod is verified")
        assert PROD_PASSWORD.encode() not in signed.received[before:]
