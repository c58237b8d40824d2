"""Property tests for the address forms operators type (hypothesis)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsm_core.jobtypes import count_addresses, parse_address_spec
from dsm_core.netaddr import AddressError, contains, format_endpoint, parse_cidr, parse_endpoint, parse_ip

ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6)
any_ip = st.one_of(ipv4, ipv6)
ports = st.integers(min_value=1, max_value=65535)


@given(any_ip, ports)
def test_endpoint_round_trips(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> None:
    assert parse_endpoint(format_endpoint(str(ip), port)) == (ip, port)


@given(any_ip)
def test_bare_address_has_no_port(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert parse_endpoint(str(ip)) == (ip, None)


@given(ipv4, st.integers(min_value=65536, max_value=10**6) | st.integers(max_value=0))
def test_out_of_range_port_is_refused(ip: ipaddress.IPv4Address, port: int) -> None:
    with pytest.raises(AddressError, match="port"):
        parse_endpoint(f"{ip}:{port}")


@given(ipv4, st.integers(min_value=0, max_value=32))
def test_cidr_contains_exactly_its_addresses(ip: ipaddress.IPv4Address, prefix: int) -> None:
    net = parse_cidr(f"{ip}/{prefix}")
    assert net.prefixlen == prefix
    assert contains(net, ip)  # host bits are cleared, the address stays inside
    assert contains(net, net.network_address) and contains(net, net.broadcast_address)
    if int(net.broadcast_address) < 2**32 - 1:
        assert not contains(net, net.broadcast_address + 1)
    if int(net.network_address) > 0:
        assert not contains(net, net.network_address - 1)


@given(ipv6, st.integers(min_value=0, max_value=128))
def test_ipv6_cidr_never_contains_ipv4(ip: ipaddress.IPv6Address, prefix: int) -> None:
    net = parse_cidr(f"{ip}/{prefix}")
    assert contains(net, ip)
    assert not contains(net, ipaddress.IPv4Address(1))


@given(st.text(alphabet="0123456789./:abcdefxyz -", max_size=30))
def test_garbage_is_refused_with_the_text_quoted(text: str) -> None:
    try:
        parse_cidr(text)
    except AddressError as exc:
        assert text.strip() in str(exc) or text in str(exc)


@given(ipv4, st.integers(min_value=0, max_value=300))
def test_ipv4_range_spec_counts_every_address(first: ipaddress.IPv4Address, extra: int) -> None:
    if int(first) + extra >= 2**32:
        return
    last = first + extra
    nets = parse_address_spec(f"{first}-{last}")
    assert count_addresses([f"{first}-{last}"]) == extra + 1
    assert nets[0].network_address == first


@pytest.mark.parametrize("bad", ["10.0.0.300", "10.0.0", "[::1", "[::1]x", "host.example", ""])
def test_bad_addresses_name_the_input(bad: str) -> None:
    with pytest.raises(AddressError):
        parse_endpoint(bad)


def test_parse_ip_accepts_bracketed_ipv6() -> None:
    assert parse_ip("[fd00::1]") == ipaddress.ip_address("fd00::1")
