"""The safety rule as pure functions (no database, no vCenter), and the small parsers around vCenters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsm_core.safety import ClusterFacts, HostFacts, ServerFacts, cluster_verdict, group_verdict, status_change
from dsm_core.services.errors import ValidationError
from dsm_core.services.vcenter import normalize_fingerprint, parse_url
from dsm_core.vcenter.model import clean_tag, service_tag


def _host(name: str, connection_state: str = "connected", maintenance_mode: bool = False,
          overall_status: str = "green") -> HostFacts:
    return HostFacts(name, connection_state, maintenance_mode, overall_status, "poweredOn")


def _cluster(*hosts: HostFacts, drs: bool = True, automation: str | None = "fullyAutomated",
             ha: bool = True) -> ClusterFacts:
    return ClusterFacts("prod", drs, automation, ha, tuple(hosts))


def test_a_healthy_cluster_is_safe_with_its_margin() -> None:
    verdict = cluster_verdict(_cluster(*(_host(f"h{i}") for i in range(4))), 2)
    assert verdict.safe and verdict.status == "safe" and verdict.reasons == ()
    assert (verdict.healthy, verdict.total, verdict.margin) == (4, 4, 1)
    assert verdict.details()["verdict"] == "safe" and len(verdict.details()["host_statuses"]) == 4


@pytest.mark.parametrize(("cluster", "minimum", "code", "names"), [
    (_cluster(_host("a"), _host("b"), _host("c"), drs=False), 1, "drs_disabled", "prod"),
    (_cluster(_host("a"), _host("b"), _host("c"), automation="manual"), 1, "drs_not_fully_automated", "manual"),
    (_cluster(_host("a"), _host("b"), _host("c"), ha=False), 1, "ha_disabled", "HA"),
    (_cluster(_host("a"), _host("b", connection_state="disconnected"), _host("c")), 1, "host_disconnected", "b"),
    (_cluster(_host("a"), _host("b", maintenance_mode=True), _host("c")), 1, "host_in_maintenance", "b"),
    (_cluster(_host("a"), _host("b", overall_status="red"), _host("c")), 1, "host_unhealthy", "b"),
    (_cluster(_host("a"), _host("b"), _host("c")), 3, "too_few_healthy_hosts", "minimum of 3"),
    (_cluster(), 1, "no_hosts", "sync"),
])
def test_each_unsafe_condition_is_refused_with_its_reason(cluster: ClusterFacts, minimum: int, code: str,
                                                          names: str) -> None:
    verdict = cluster_verdict(cluster, minimum)
    assert not verdict.safe
    assert code in [r.code for r in verdict.reasons]
    reason = next(r for r in verdict.reasons if r.code == code)
    assert names in reason.message


def test_hosts_a_running_update_put_in_maintenance_count_as_down_but_are_no_reason() -> None:
    cluster = _cluster(_host("a", maintenance_mode=True), _host("b"), _host("c"), _host("d"))
    ours = cluster_verdict(cluster, 1, ours_in_maintenance={"a"})
    assert ours.safe and ours.healthy == 3
    assert not cluster_verdict(cluster, 1).safe  # someone else's maintenance stops the run
    assert not cluster_verdict(cluster, 2, going_down=2, ours_in_maintenance={"a"}).safe


def test_a_yellow_host_is_healthy_with_a_warning() -> None:
    verdict = cluster_verdict(_cluster(_host("a"), _host("b", overall_status="yellow"), _host("c")), 1)
    assert verdict.safe and [w.code for w in verdict.warnings] == ["host_warning"]


hosts = st.lists(st.builds(
    HostFacts,
    name=st.text("abcdefgh", min_size=1, max_size=3),
    connection_state=st.sampled_from(["connected", "disconnected", "notResponding"]),
    maintenance_mode=st.booleans(),
    overall_status=st.sampled_from(["green", "yellow", "red", "gray"]),
    power_state=st.sampled_from(["poweredOn", "poweredOff", "standBy", None]),
), max_size=12, unique_by=lambda h: h.name)


@settings(max_examples=400, deadline=None)
@given(hosts, st.booleans(), st.sampled_from(["fullyAutomated", "partiallyAutomated", "manual", None]),
       st.booleans(), st.integers(1, 12), st.integers(1, 4))
def test_fuzz_safe_means_every_rule_holds_and_unsafe_always_says_why(
        members: list[HostFacts], drs: bool, automation: str | None, ha: bool, minimum: int, down: int) -> None:
    cluster = ClusterFacts("c", drs, automation, ha, tuple(members))
    verdict = cluster_verdict(cluster, minimum, going_down=down)
    healthy = [h for h in members if h.healthy]
    expected = (drs and automation in ("fullyAutomated", None) and ha and bool(members)
                and all(h.connection_state == "connected" for h in members)
                and not any(h.maintenance_mode for h in members)
                and all(h.overall_status in ("green", "yellow") for h in members)
                and len(healthy) - down >= minimum)
    assert verdict.safe is expected
    assert verdict.healthy == len(healthy) and verdict.total == len(members)
    assert bool(verdict.reasons) is (not verdict.safe)
    if verdict.safe:
        assert verdict.healthy - down >= minimum  # the rule a rolling update relies on
    for reason in verdict.reasons:
        assert reason.message and reason.code and reason.subject


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(ServerFacts, name=st.text("xyz", min_size=1, max_size=4),
                          connection_status=st.sampled_from(["connected", "failed", "unknown"]),
                          power_state=st.sampled_from(["On", "Off", None]),
                          overall_health=st.sampled_from(["OK", "Warning", "Critical", None])), max_size=10),
       st.integers(0, 10))
def test_fuzz_a_group_is_safe_exactly_when_healthy_minus_one_meets_its_minimum(
        servers: list[ServerFacts], minimum: int) -> None:
    verdict = group_verdict("g", servers, minimum)
    healthy = sum(s.connection_status == "connected" and s.power_state == "On" and s.overall_health in ("OK", "Warning")
                  for s in servers)
    assert verdict.healthy == healthy
    assert verdict.safe is (bool(servers) and healthy - 1 >= minimum)
    assert len(verdict.warnings) == len(servers) - healthy


def test_status_change_needs_a_previous_verdict() -> None:
    assert status_change(None, "unsafe") is False
    assert status_change("safe", "unsafe") is True and status_change("unsafe", "unsafe") is False


def test_the_service_tag_comes_from_the_identifying_info_then_the_serial() -> None:
    assert service_tag([("AssetTag", "X1"), ("ServiceTag", "abc1234")], "ZZZ") == "ABC1234"
    assert service_tag([("AssetTag", "X1")], "7XYZ123") == "7XYZ123"
    assert service_tag([("EnclosureSerialNumberTag", "ENC9")], None) == "ENC9"
    assert service_tag([], None) is None
    assert clean_tag("AB\x1b[31mC1\n") == "AB31MC1"  # a hostile vCenter's escape sequence is no tag character
    assert clean_tag(12345) is None


@pytest.mark.parametrize(("url", "expected"), [
    ("https://vc.example", ("vc.example", 443)), ("https://127.0.0.1:8989/sdk", ("127.0.0.1", 8989)),
    ("https://[::1]:443/", ("::1", 443)),
])
def test_a_vcenter_url_is_https_host_and_port(url: str, expected: tuple[str, int]) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize("url", ["http://vc", "https://user:pw@vc", "https://vc/ui", "https://vc:99999", "vc.example",
                                 "https://vc/sdk?x=1"])
def test_a_bad_vcenter_url_names_the_field_and_the_form(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_url(url)
    assert refused.value.field == "url" and "https://" in str(refused.value)


def test_a_fingerprint_is_normalised_or_refused() -> None:
    assert normalize_fingerprint("ab" * 32) == ":".join(["AB"] * 32)
    assert normalize_fingerprint("SHA256:" + ":".join(["0f"] * 32)) == ":".join(["0F"] * 32)
    with pytest.raises(ValidationError) as refused:
        normalize_fingerprint("abc")
    assert refused.value.field == "fingerprint"
