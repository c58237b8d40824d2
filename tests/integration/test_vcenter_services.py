"""vCenter, safety and rolling-update use cases on SQLite and PostgreSQL, with a recorded inventory (the sync
itself is tested against vcsim in tests/worker/test_vcenter_e2e.py)."""

from __future__ import annotations

import pytest

from dsm_core.credentials.secret import Secret
from dsm_core.services import rolling, servers, vcenter
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.errors import Conflict, NotFound, ValidationError
from tests.vcenter_seed import inventory, seed_vcenter


def test_a_plan_lists_hosts_in_priority_order_with_margins_and_refuses_what_is_unsafe(admin: ServiceContext) -> None:
    seed_vcenter(admin, inventory(hosts=4))
    plan = rolling.plan_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                       min_required_hosts=2)
    assert [h["host"] for h in plan["hosts"]] == ["esx-0-0", "esx-0-1", "esx-0-2", "esx-0-3"]
    assert [h["margin"] for h in plan["hosts"]] == [1, 1, 1, 1] and plan["safe"]
    assert all(h["estimate_basis"] == "default" and h["estimated_seconds"] > 0 for h in plan["hosts"])
    two = rolling.plan_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                      max_concurrent=2, min_required_hosts=2)
    assert [h["margin"] for h in two["hosts"]] == [0, 0, 0, 0] and two["safe"]
    unsafe = rolling.plan_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                         min_required_hosts=4)
    assert not unsafe["safe"] and "below the minimum of 4" in unsafe["problems"][0]
    with pytest.raises(Conflict, match="not safe"):
        rolling.start_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE", min_required_hosts=4)
    with pytest.raises(ValidationError) as refused:
        rolling.plan_rolling_update(admin, "prod-0")
    assert refused.value.field == "source"


def test_a_changed_plan_is_not_started_and_one_run_per_cluster(admin: ServiceContext) -> None:
    seed_vcenter(admin, inventory(hosts=3))
    plan = rolling.plan_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                       min_required_hosts=1)
    # the cluster changes between the plan and its acceptance: a host went into maintenance
    vcenter.record_sync(ServiceContext(admin.engine, SYSTEM), _vc_id(admin),
                        inventory(hosts=3, maintenance=("esx-0-1",)))
    with pytest.raises(Conflict, match="changed since it was shown"):
        rolling.start_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE", min_required_hosts=1,
                                     accepted_digest=plan["digest"])
    vcenter.record_sync(ServiceContext(admin.engine, SYSTEM), _vc_id(admin), inventory(hosts=3))
    again = rolling.plan_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                        min_required_hosts=1)
    job = rolling.start_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                       min_required_hosts=1, accepted_digest=again["digest"])
    assert job["details"]["plan"]["digest"] == again["digest"] and job["target_scope"] == {"clusters": ["prod-0"]}
    with pytest.raises(Conflict, match="already pending"):
        rolling.start_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE", min_required_hosts=1)


def test_an_unlinked_host_makes_the_plan_unsafe_and_a_link_by_hand_fixes_it(admin: ServiceContext) -> None:
    seed_vcenter(admin, inventory(hosts=3), servers_for_hosts=False)
    plan = rolling.plan_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                       min_required_hosts=1)
    assert not plan["safe"] and sum("not linked" in p for p in plan["problems"]) == 3
    for i in range(3):
        servers.add_server(admin, f"127.0.21.{i + 1}:8443")
        vcenter.link_host(admin, f"esx-0-{i}", f"127.0.21.{i + 1}:8443")
    with pytest.raises(Conflict, match="already linked"):
        vcenter.link_host(admin, "esx-0-0", "127.0.21.2:8443")
    with pytest.raises(NotFound):
        vcenter.link_host(admin, "esx-9-9", "127.0.21.2:8443")
    assert rolling.plan_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE",
                                       min_required_hosts=1)["safe"]
    # a sync keeps the hand links (the hosts' service tags match no server)
    vcenter.record_sync(ServiceContext(admin.engine, SYSTEM), _vc_id(admin), inventory(hosts=3))
    shown = vcenter.show_cluster(admin, "prod-0")
    assert {h["link_source"] for h in shown["host_list"]} == {"manual"}


def test_vcenter_input_is_checked_and_the_password_is_sealed(admin: ServiceContext) -> None:
    for kwargs, field in (({"url": "http://vc"}, "url"), ({"username": " "}, "username"),
                          ({"fingerprint": "xyz"}, "fingerprint"), ({"fingerprint": "ab" * 32, "insecure": True},
                                                                    "fingerprint")):
        args = {"url": "https://127.0.0.1:9", "username": "u", **kwargs}
        with pytest.raises(ValidationError) as refused:
            vcenter.add_vcenter(admin, "vc", args.pop("url"), args.pop("username"), Secret("pw-canary"), **args)
        assert refused.value.field == field
    view = vcenter.add_vcenter(admin, "vc", "https://127.0.0.1:9", "u", Secret("pw-canary"), insecure=True)
    assert view["tls_verify_mode"] == "off" and view["password_set"] and "password_sealed" not in view
    with admin.engine.connect() as conn:
        import sqlalchemy as sa

        dump = " ".join(str(r) for t in ("vcenters", "audit_logs") for r in conn.execute(sa.text(f"SELECT * FROM {t}")))
    assert "pw-canary" not in dump
    with pytest.raises(Conflict):
        vcenter.add_vcenter(admin, "vc", "https://127.0.0.1:9", "u", Secret("x"))


def _vc_id(admin: ServiceContext) -> object:
    import uuid

    return uuid.UUID(str(vcenter.list_vcenters(admin)[0]["id"]))


def test_a_link_that_contradicts_the_service_tag_is_refused_unless_an_admin_says_why(
        admin: ServiceContext, operator: ServiceContext) -> None:
    """The swap the review found: three links by an operator exchanged two hosts' servers, and the rolling update then
    restarted a host vCenter never evacuated. A server whose tag is not the host's serial is another machine."""
    from dsm_core.services import audit
    from dsm_core.services.errors import PermissionDenied

    seed_vcenter(admin, inventory(hosts=3))  # esx-0-N ↔ 127.0.20.N+1, linked by service tag VCS000N
    spare = servers.add_server(admin, "127.0.21.9:8443")  # no tag known: a link by hand is what it is for
    vcenter.link_host(operator, "esx-0-0", "127.0.21.9:8443")
    with pytest.raises(Conflict) as refused:  # 127.0.20.1 is free now, and it is esx-0-0's machine, not esx-0-1's
        vcenter.link_host(operator, "esx-0-1", "127.0.20.1:8443")
    assert "service tag VCS0000" in str(refused.value) and "serial number VCS0001" in str(refused.value)
    assert "--despite-service-tag" in str(refused.value)
    with pytest.raises(PermissionDenied):
        vcenter.link_host(operator, "esx-0-1", "127.0.20.1:8443", despite_service_tag="board swapped")
    with pytest.raises(ValidationError) as blank:
        vcenter.link_host(admin, "esx-0-1", "127.0.20.1:8443", despite_service_tag="  ")
    assert blank.value.field == "despite_service_tag"
    shown = {h["name"]: h["server"] for h in vcenter.show_cluster(admin, "prod-0")["host_list"]}
    assert shown["esx-0-0"] == "127.0.21.9:8443" and shown["esx-0-1"] == "127.0.20.2:8443"
    # an admin's reason makes the link, and the audit row keeps it
    vcenter.link_host(admin, "esx-0-1", "127.0.20.1:8443", despite_service_tag="motherboard replaced, tag pending")
    rows = audit.list_audit(admin, action="vcenter.link", limit=5)
    assert rows[0]["details"]["despite_service_tag"] == "motherboard replaced, tag pending"
    assert (rows[0]["details"]["server_tag"], rows[0]["details"]["host_serial"]) == ("VCS0000", "VCS0001")
    assert spare["id"]
