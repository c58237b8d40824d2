"""Credential resolution order, checked against the rule stated in DESIGN.md §3 (hypothesis)."""

from __future__ import annotations

import ipaddress
import uuid

from hypothesis import given
from hypothesis import strategies as st

from dsm_core.credentials.resolution import (
    CredentialCandidate,
    CredentialRange,
    ServerCredentialFacts,
    candidates_for_address,
    matching_sets,
    resolve,
)

nets = st.one_of(
    st.builds(lambda ip, p: ipaddress.ip_network(f"{ip}/{p}", strict=False), st.ip_addresses(v=4),
              st.integers(min_value=8, max_value=32)),
    st.builds(lambda ip, p: ipaddress.ip_network(f"{ip}/{p}", strict=False), st.ip_addresses(v=6),
              st.integers(min_value=32, max_value=128)),
)


@st.composite
def candidate_sets(draw: st.DrawFn) -> list[CredentialCandidate]:
    n = draw(st.integers(min_value=0, max_value=6))
    out = []
    for i in range(n):
        ranges = tuple(CredentialRange(net, draw(st.integers(0, 5)))
                       for net in draw(st.lists(nets, max_size=3)))
        out.append(CredentialCandidate(uuid.UUID(int=i + 1), f"set{i}", f"user{i}", f"sealed{i}",
                                       draw(st.integers(0, 5)), draw(st.booleans()), ranges))
    return out


@st.composite
def address_near(draw: st.DrawFn, sets: list[CredentialCandidate]) -> str:
    """Often an address inside one of the ranges, so the interesting branch is exercised."""
    inside = [r.network for s in sets for r in s.ranges]
    if inside and draw(st.booleans()):
        net = draw(st.sampled_from(inside))
        offset = draw(st.integers(0, min(net.num_addresses - 1, 2**16)))
        return str(net.network_address + offset)
    return str(draw(st.ip_addresses()))


@given(st.data())
def test_resolution_follows_the_documented_order(data: st.DataObject) -> None:
    sets = data.draw(candidate_sets())
    address = data.draw(address_near(sets))
    own = data.draw(st.booleans())
    linked = data.draw(st.sampled_from([None, *[s.set_id for s in sets], uuid.UUID(int=999)]))
    env = data.draw(st.sampled_from([{}, {"IDRAC_DEFAULT_USER": "root", "IDRAC_DEFAULT_PASSWORD": "calvin"}]))
    server = ServerCredentialFacts(address, "own" if own else None, "sealed-own" if own else None, linked)
    got = resolve(server, sets, env)

    ip = ipaddress.ip_address(address)
    containing = [s for s in sets if any(r.network.version == ip.version and ip in r.network for r in s.ranges)]
    linked_set = next((s for s in sets if s.set_id == linked), None)
    defaults = [s for s in sets if s.is_default]
    if own:
        assert got is not None and got.source == "server" and got.password_sealed == "sealed-own"
    elif linked_set is not None:
        assert got is not None and got.source == "linked_set" and got.set_id == linked_set.set_id
    elif containing:
        assert got is not None and got.source == "ip_range"
        chosen = next(s for s in sets if s.set_id == got.set_id)
        assert chosen in containing
        assert chosen.priority == min(s.priority for s in containing)  # lowest number first
    elif defaults:
        assert got is not None and got.source == "default_set"
        assert got.set_id in {s.set_id for s in defaults}
    elif env:
        assert got is not None and got.source == "environment" and got.username == "root"
        assert got.password_env is not None and got.password_env.reveal() == "calvin"
        assert "calvin" not in repr(got)
    else:
        assert got is None


@given(st.data())
def test_discovery_candidates_are_unique_and_ordered(data: st.DataObject) -> None:
    sets = data.draw(candidate_sets())
    address = data.draw(address_near(sets))
    cands = candidates_for_address(address, sets, {})
    ids = [c.set_id for c in cands]
    assert len(ids) == len(set(ids))
    ranged = matching_sets(address, sets)
    assert ids[: len(ranged)] == [s.set_id for s in ranged]
    priorities = [s.priority for s in ranged]
    assert priorities == sorted(priorities)


def test_unparseable_address_matches_no_range() -> None:
    s = CredentialCandidate(uuid.uuid4(), "a", "u", "x", 1, False,
                            (CredentialRange(ipaddress.ip_network("0.0.0.0/0"), 1),))
    assert matching_sets("not-an-ip", [s]) == []
