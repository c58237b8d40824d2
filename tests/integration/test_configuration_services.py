"""Configuration use cases on stored state (SQLite and PostgreSQL): baselines of a server and of a group,
drift, apply baseline, editing a stored profile, the virtual media share defaults, one BIOS job at a time."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.engine import Engine

from dsm_core.credentials.secret import Secret
from dsm_core.redfish.scp import parse_profile
from dsm_core.services import configuration, groups, jobs, servers, settings
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.configuration_seed import seed_backup, seed_bios

A, B = "127.0.10.1:8443", "127.0.10.2:8443"


def _two(admin: ServiceContext) -> tuple[str, str]:
    a = servers.add_server(admin, A, hostname="esx-a")["id"]
    b = servers.add_server(admin, B, hostname="esx-b")["id"]
    groups.add_group(admin, "web")
    groups.add_member(admin, "web", A, priority=1)
    groups.add_member(admin, "web", B, priority=2)
    return a, b


def test_a_group_baseline_holds_every_member_and_apply_writes_only_the_difference(
        admin: ServiceContext, operator: ServiceContext, engine: Engine) -> None:
    a, b = _two(admin)
    with pytest.raises(ValidationError, match="has not read the BIOS"):
        configuration.set_bios_baseline(operator, group="web")
    seed_bios(engine, a)
    seed_bios(engine, b, NumLock="Off", SystemServiceTag="OTHER01")  # a read-only difference is never drift
    made = configuration.set_bios_baseline(operator, group="web")
    assert made["source"] == A and made["servers"] == 2 and made["drifting"] == 1
    assert made["attributes"] == 6  # SystemServiceTag is read-only: not part of a baseline
    report = configuration.bios_drift(operator, "web")
    assert [(r["server"], r["drift"]) for r in report["servers"]] == [
        (A, []), (B, [{"attribute": "NumLock", "baseline": "On", "current": "Off"}])]
    assert report["servers"][1]["baseline"] == "group web"
    # a server's own baseline wins over its group's
    configuration.set_bios_baseline(operator, B)
    assert configuration.bios_drift(operator, servers=[B])["servers"][0]["baseline"] == "server"
    assert configuration.bios_drift(operator, servers=[B])["drifting"] == 0
    seed_bios(engine, b, NumLock="On", AcPwrRcvryUserDelay=300)
    applied = configuration.apply_bios_baseline(operator, "web")
    assert [(j["server"], j["attributes"]) for j in applied["jobs"]] == [(B, ["AcPwrRcvryUserDelay", "NumLock"])]
    job = jobs.show_job(operator, applied["jobs"][0]["job_id"])
    assert job["details"]["attributes"] == {"AcPwrRcvryUserDelay": 120, "NumLock": "Off"}  # typed as registered
    with pytest.raises(Conflict, match="one BIOS change at a time"):  # that job is still pending
        jobs.create_job(operator, "bios_config_write", servers=[B], details={"attributes": {"NumLock": "On"}})


def test_bios_show_names_unknown_attributes_and_a_viewer_reads_but_may_not_change(
        admin: ServiceContext, viewer: ServiceContext, engine: Engine) -> None:
    a, _ = _two(admin)
    seed_bios(engine, a)
    shown = configuration.bios_show(viewer, A, ["NumLock"])
    assert shown["attributes"][0]["allowed"] == ["On", "Off"] and shown["registry"] == "1.0.3"
    with pytest.raises(ValidationError, match="'NoSuch' is not a BIOS attribute"):
        configuration.bios_show(viewer, A, ["NoSuch"])
    with pytest.raises(PermissionDenied):
        configuration.set_bios_baseline(viewer, A)
    with pytest.raises(PermissionDenied):
        jobs.create_job(viewer, "bios_config_write", servers=[A], details={"attributes": {"NumLock": "Off"}})


def test_editing_a_backup_makes_a_new_one_and_checks_bios_values(
        admin: ServiceContext, operator: ServiceContext, engine: Engine) -> None:
    a, _ = _two(admin)
    seed_bios(engine, a)
    original = seed_backup(engine, a)
    edited = configuration.edit_scp_backup(operator, original[-8:], ["NumLock=Off"])
    assert edited["id"] != original and edited["backup_name"] == "before change (edited)"
    text = configuration.show_scp_backup(operator, edited["id"])["profile_text"]
    assert parse_profile(text).components["BIOS.Setup.1-1"]["NumLock"] == "Off"
    assert edited["checksum"] == hashlib.sha256(text.encode()).hexdigest()
    assert "On" in configuration.show_scp_backup(operator, original)["profile_text"]  # kept as exported
    with pytest.raises(ValidationError, match="out of range"):
        configuration.edit_scp_backup(operator, original, ["AcPwrRcvryUserDelay=5"])
    with pytest.raises(ValidationError, match=r"has no component NIC\.Slot\.9"):
        configuration.edit_scp_backup(operator, original, ["NIC.Slot.9:LegacyBootProto=PXE"])
    with pytest.raises(ValidationError, match="ATTRIBUTE=VALUE"):
        configuration.edit_scp_backup(operator, original, ["NumLock"])
    with pytest.raises(NotFound):
        configuration.show_scp_backup(operator, "deadbeef")


def test_a_bare_image_name_is_placed_on_the_virtual_media_share(admin: ServiceContext,
                                                                operator: ServiceContext) -> None:
    with pytest.raises(ValidationError, match=r"virtual_media\.host"):
        configuration.media_image_url(operator, "esxi.iso")
    for key, value in (("virtual_media.share_type", "nfs"), ("virtual_media.host", "127.0.10.250"),
                       ("virtual_media.export_path", "/exports"), ("virtual_media.iso_path", "isos")):
        settings.set_setting(admin, key, value)
    assert configuration.media_image_url(operator, "esxi.iso") == "127.0.10.250:/exports/isos/esxi.iso"
    settings.set_setting(admin, "virtual_media.share_type", "https")
    assert configuration.media_image_url(operator, "esxi.iso") == "https://127.0.10.250/exports/isos/esxi.iso"
    settings.set_setting(admin, "virtual_media.share_type", "cifs")
    assert configuration.media_image_url(operator, "esxi.iso") == "//127.0.10.250/exports/isos/esxi.iso"
    settings.set_setting(admin, "virtual_media.password", Secret("share-pw"))
    assert configuration.media_image_url(operator, "http://127.0.10.9/x.iso") == "http://127.0.10.9/x.iso"
