"""iDRAC accounts, network and certificates are an admin's through SCP too; passwords never sit in a shown or
audited profile; a backup goes back onto its own server unless the import says otherwise (and the audit row
records it). On SQLite and PostgreSQL, through the service layer the CLI and the console call."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsm_core.models import ScpBackup
from dsm_core.services import audit, configuration, jobs, servers
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import PermissionDenied, ValidationError
from tests.configuration_seed import seed_backup

A, B = "127.0.10.1:8443", "127.0.10.2:8443"
IDRAC_PROFILE = ('<SystemConfiguration Model="PowerEdge R750" ServiceTag="SVC0001">'
                 '<Component FQDD="iDRAC.Embedded.1"><Attribute Name="Users.3#UserName">ops</Attribute>'
                 '<Attribute Name="Users.3#Password">hunter2-in-profile</Attribute>'
                 '<Attribute Name="IPv4.1#Address">10.0.0.9</Attribute></Component>'
                 '<Component FQDD="BIOS.Setup.1-1"><Attribute Name="NumLock">On</Attribute></Component>'
                 "</SystemConfiguration>")


def _idrac_backup(engine: Engine, server_id: str) -> str:
    """A backup whose profile holds iDRAC accounts and a password (written past DSM, as an old row might be)."""
    with Session(engine) as s:
        row = ScpBackup(server_id=uuid.UUID(server_id), backup_name="full", profile_text=IDRAC_PROFILE,
                        scp_file_size_bytes=len(IDRAC_PROFILE), export_format="XML",
                        checksum=hashlib.sha256(IDRAC_PROFILE.encode()).hexdigest(), scp_content={})
        s.add(row)
        s.commit()
        return str(row.id)


@pytest.fixture
def two(admin: ServiceContext, engine: Engine) -> tuple[str, str]:
    a = servers.add_server(admin, A)["id"]
    b = servers.add_server(admin, B)["id"]
    return a, b


def test_account_and_network_edits_are_an_admins_and_passwords_are_never_set(
        admin: ServiceContext, operator: ServiceContext, engine: Engine, two: tuple[str, str]) -> None:
    backup = seed_backup(engine, two[0])
    for change in ("iDRAC.Embedded.1:Users.3#UserName=backdoor", "iDRAC.Embedded.1:Users.3#Privilege=511",
                   "iDRAC.Embedded.1:IPv4.1#Address=10.9.9.9"):
        with pytest.raises(PermissionDenied, match="needs the admin role"):
            configuration.edit_scp_backup(operator, backup, [change])
    for who in (operator, admin):
        with pytest.raises(ValidationError, match="is a password or key"):
            configuration.edit_scp_backup(who, backup, ["iDRAC.Embedded.1:Users.3#Password=Secr3t-typed"])
    configuration.edit_scp_backup(operator, backup, ["NumLock=Off"])  # a host setting: an operator's
    with pytest.raises(ValidationError):  # the profile has no iDRAC component; the admin may try all the same
        configuration.edit_scp_backup(admin, backup, ["iDRAC.Embedded.1:Users.3#Privilege=511"])
    assert "Secr3t-typed" not in json.dumps(audit.list_audit(admin), default=str)


def test_a_password_in_a_stored_profile_is_shown_masked(
        viewer: ServiceContext, engine: Engine, two: tuple[str, str]) -> None:
    shown = configuration.show_scp_backup(viewer, _idrac_backup(engine, two[0]))
    assert "hunter2-in-profile" not in json.dumps(shown, default=str)
    assert '<Attribute Name="Users.3#Password">******</Attribute>' in shown["profile_text"]
    assert '<Attribute Name="Users.3#UserName">ops</Attribute>' in shown["profile_text"]


def test_an_import_onto_another_server_is_asked_for_and_audited(
        admin: ServiceContext, operator: ServiceContext, engine: Engine, two: tuple[str, str]) -> None:
    backup = seed_backup(engine, two[0])
    with pytest.raises(ValidationError, match="from_other_server"):
        jobs.create_job(operator, "scp_import", servers=[B], details={"backup_id": backup})
    jobs.create_job(operator, "scp_import", servers=[A], details={"backup_id": backup})  # its own server
    job = jobs.create_job(operator, "scp_import", servers=[B], details={"backup_id": backup,
                                                                         "from_other_server": True})
    row = next(r for r in audit.list_audit(admin) if r["target_id"] == job["id"])
    assert row["details"]["details"]["from_other_server"] is True


def test_an_import_that_sets_idrac_accounts_is_an_admins(
        admin: ServiceContext, operator: ServiceContext, engine: Engine, two: tuple[str, str]) -> None:
    backup = _idrac_backup(engine, two[0])
    with pytest.raises(PermissionDenied, match="iDRAC account, password, network or certificate"):
        jobs.create_job(operator, "scp_import", servers=[A], details={"backup_id": backup})
    with pytest.raises(PermissionDenied):
        jobs.create_job(operator, "scp_import", servers=[A], details={"backup_id": backup, "targets": ["IDRAC"]})
    jobs.create_job(operator, "scp_import", servers=[A], details={"backup_id": backup, "targets": ["BIOS"]})
    jobs.create_job(admin, "scp_import", servers=[A], details={"backup_id": backup})

