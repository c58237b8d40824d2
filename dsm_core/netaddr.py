"""Parsing of the addresses operators type: IPs, IP:PORT (IPv6 in brackets) and CIDR ranges.

Errors say what was typed and what form is expected, because they end up in CLI messages and CSV reports.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressError(ValueError):
    pass


def parse_ip(text: str) -> IPAddress:
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise AddressError(f'"{text}" is not an IPv4 or IPv6 address') from None


def parse_port(text: str | int) -> int:
    try:
        port = int(str(text).strip())
    except ValueError:
        raise AddressError(f'port "{text}" is not a whole number from 1 to 65535') from None
    if not 1 <= port <= 65535:
        raise AddressError(f'port "{text}" is not a whole number from 1 to 65535')
    return port


def parse_endpoint(text: str) -> tuple[IPAddress, int | None]:
    """``IP``, ``IP:PORT``, ``[IPv6]`` or ``[IPv6]:PORT`` → (address, port or None)."""
    value = text.strip()
    if not value:
        raise AddressError("address is empty; give an IP, IP:PORT or [IPv6]:PORT")
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise AddressError(f'"{text}" opens "[" without closing it; write [IPv6]:PORT')
        host, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            raise AddressError(f'"{text}" has text after "]"; write [IPv6]:PORT')
        return parse_ip(host), parse_port(rest[1:]) if rest else None
    if value.count(":") == 1:
        host, port = value.split(":")
        return parse_ip(host), parse_port(port)
    return parse_ip(value), None


def format_endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def parse_cidr(text: str) -> IPNetwork:
    """A CIDR range; host bits are cleared ("10.0.0.5/24" → 10.0.0.0/24); a bare address is /32 or /128."""
    value = text.strip()
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise AddressError(f'"{text}" is not a CIDR range such as 10.0.0.0/24 or fd00::/64') from None


def contains(network: IPNetwork, address: IPAddress) -> bool:
    return address.version == network.version and address in network
