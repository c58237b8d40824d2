"""Which credentials the worker uses for a server: a pure function over plain data.

Order (DESIGN.md §3): the server's own → its linked credential set → sets whose IP ranges contain its
address → the default set → IDRAC_DEFAULT_USER / IDRAC_DEFAULT_PASSWORD from the worker's environment.
Among range matches the lowest set priority wins, then the lowest range priority, then the most
specific range, then the name, so the answer never depends on row order.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dsm_core.credentials.secret import Secret
from dsm_core.netaddr import AddressError, IPNetwork, contains, parse_cidr, parse_ip

Source = Literal["server", "linked_set", "ip_range", "default_set", "environment"]


@dataclass(frozen=True)
class CredentialRange:
    network: IPNetwork
    priority: int


@dataclass(frozen=True)
class CredentialCandidate:
    set_id: uuid.UUID
    name: str
    username: str
    password_sealed: str | None
    priority: int
    is_default: bool
    ranges: tuple[CredentialRange, ...] = ()
    trust: str = "first-use"


@dataclass(frozen=True)
class ServerCredentialFacts:
    ip_address: str
    idrac_username: str | None = None
    idrac_password_sealed: str | None = None
    credential_set_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ResolvedCredential:
    source: Source
    username: str
    password_sealed: str | None = None
    """Sealed password to unseal in the worker; None for the environment source."""
    password_env: Secret | None = None
    set_id: uuid.UUID | None = None
    set_name: str | None = None

    def describe(self) -> str:
        """What the TUI shows as the credential source (never the password)."""
        match self.source:
            case "server":
                return f"server's own ({self.username})"
            case "environment":
                return f"IDRAC_DEFAULT_USER ({self.username})"
            case _:
                return f"{self.source.replace('_', ' ')}: {self.set_name} ({self.username})"


def matching_sets(address: str, sets: Sequence[CredentialCandidate]) -> list[CredentialCandidate]:
    """Sets with a range containing ``address``, best first."""
    try:
        ip = parse_ip(address)
    except AddressError:
        return []
    scored = []
    for cand in sets:
        hits = [r for r in cand.ranges if contains(r.network, ip)]
        if hits:
            best = min(hits, key=lambda r: (r.priority, -r.network.prefixlen))
            scored.append(((cand.priority, best.priority, -best.network.prefixlen, cand.name), cand))
    scored.sort(key=lambda pair: pair[0])
    return [cand for _, cand in scored]


def _env_credential(environ: Mapping[str, str]) -> ResolvedCredential | None:
    user, password = environ.get("IDRAC_DEFAULT_USER"), environ.get("IDRAC_DEFAULT_PASSWORD")
    if user and password:
        return ResolvedCredential("environment", user, password_env=Secret(password))
    return None


def _from_set(source: Source, cand: CredentialCandidate) -> ResolvedCredential:
    return ResolvedCredential(source, cand.username, cand.password_sealed, set_id=cand.set_id, set_name=cand.name)


def resolve(server: ServerCredentialFacts, sets: Sequence[CredentialCandidate],
            environ: Mapping[str, str]) -> ResolvedCredential | None:
    """The credential to use first for ``server``, or None when nothing applies."""
    if server.idrac_username and server.idrac_password_sealed:
        return ResolvedCredential("server", server.idrac_username, server.idrac_password_sealed)
    if server.credential_set_id is not None:
        linked = next((s for s in sets if s.set_id == server.credential_set_id), None)
        if linked is not None:
            return _from_set("linked_set", linked)
    ranged = matching_sets(server.ip_address, sets)
    if ranged:
        return _from_set("ip_range", ranged[0])
    default = default_set(sets)
    if default is not None:
        return _from_set("default_set", default)
    return _env_credential(environ)


def candidates_for_address(address: str, sets: Sequence[CredentialCandidate],
                           environ: Mapping[str, str]) -> list[ResolvedCredential]:
    """Every credential discovery may try for an unknown address, in resolution order, without repeats."""
    out: list[ResolvedCredential] = [_from_set("ip_range", c) for c in matching_sets(address, sets)]
    default = default_set(sets)
    if default is not None and all(r.set_id != default.set_id for r in out):
        out.append(_from_set("default_set", default))
    env = _env_credential(environ)
    if env is not None:
        out.append(env)
    return out


def default_set(sets: Sequence[CredentialCandidate]) -> CredentialCandidate | None:
    defaults = sorted((s for s in sets if s.is_default), key=lambda s: (s.priority, s.name))
    return defaults[0] if defaults else None


def range_from_text(text: str, priority: int = 100) -> CredentialRange:
    return CredentialRange(parse_cidr(text), priority)


@dataclass(frozen=True)
class Destination:
    """Where the worker is about to send a secret: the address and what DSM knows of its trust."""

    address: str
    in_inventory: bool
    linked_set_id: uuid.UUID | None = None
    """The credential set the server is linked to (an admin's link where it lies outside the set's ranges)."""
    tls_verify_mode: str = "pin"
    pin_vetted: bool = False
    """Its pinned fingerprint is an admin's, not a first-use pin."""
    named_by_admin: frozenset[uuid.UUID] = frozenset()
    """Credential sets an admin named for this job explicitly (a scan or a credential test of an address):
    the admin's choice of destination, as a link is."""


def in_ranges(address: str, ranges: Sequence[CredentialRange]) -> bool:
    """``address`` lies inside one of ``ranges`` (False for something that is not an address)."""
    try:
        ip = parse_ip(address)
    except AddressError:
        return False
    return any(contains(r.network, ip) for r in ranges)


def release_problem(cred: ResolvedCredential, dest: Destination, sets: Sequence[CredentialCandidate]) -> str | None:
    """Why ``cred``'s secret must not go to ``dest``, or None when it may: the one rule the worker applies
    wherever it attaches an iDRAC password to a request (docs/security.md, "The worker is nobody's lever").

    - a credential set's password goes only to an address inside the set's ranges, or to a server linked to
      the set (a link outside the ranges is an admin's), or where an admin's own job named the set (a scan, a
      credential test of an address: the admin chose the destination); a ``verified`` set's, moreover, only to a server
      whose certificate chains to a CA (tls mode ``ca``) or whose fingerprint an admin pinned;
    - a server's own password goes only to that server;
    - the worker's environment default goes only to an address inside some credential set's ranges: the
      address space an admin vetted, never a fresh address an operator named.
    """
    where = dest.address
    if cred.source == "server":
        return None if dest.in_inventory else f"a server's own password goes only to that server, not to {where}"
    if cred.source == "environment":
        if any(in_ranges(where, s.ranges) for s in sets):
            return None
        return (f"IDRAC_DEFAULT_USER's password goes only to addresses inside a credential set's ranges; {where} is "
                "in none (an admin adds a set with a range that covers it)")
    cand = next((s for s in sets if s.set_id == cred.set_id), None)
    if cand is None:
        return f"credential set {cred.set_name} no longer exists"
    linked = (dest.in_inventory and dest.linked_set_id == cand.set_id) or cand.set_id in dest.named_by_admin
    if not linked and not in_ranges(where, cand.ranges):
        return (f"credential set {cand.name}'s password goes only to its ranges or to servers an admin linked to it; "
                f"{where} is neither (an admin adds the range, or links the server: dsm servers update REF "
                f"--credential-set {cand.name})")
    if cand.trust == "verified" and not (dest.tls_verify_mode == "ca" or (dest.tls_verify_mode == "pin"
                                                                         and dest.pin_vetted)):
        return (f"credential set {cand.name} is verified: its password goes only to a server whose certificate "
                f"chains to the site CA (--tls-verify ca) or whose fingerprint an admin pinned (dsm servers update "
                f"REF --fingerprint SHA256); {where} has "
                + ("certificate checks off" if dest.tls_verify_mode == "off" else "a first-use pin or none"))
    return None


def share_release_problem(address: str, linked: bool, sets: Sequence[CredentialCandidate]) -> str | None:
    """Why a share's credentials (virtual media, a repository) must not go inside a request to the iDRAC at
    ``address``, or None: only to an iDRAC in the address space an admin vetted (inside some credential set's
    ranges, or linked to a set), never to one an operator added at an address of his choosing."""
    if linked or any(in_ranges(address, s.ranges) for s in sets):
        return None
    return (f"share credentials go only to iDRACs inside a credential set's ranges or linked to one; {address} is "
            "neither (an admin adds a range that covers it, or links the server to a set)")
