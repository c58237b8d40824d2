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
