"""What fleet to simulate: from flags or a TOML file, deterministic for a seed.

Only loopback addresses (127.0.0.0/8) are ever served: the simulator must never answer, or look like it
answers, on a real network.
"""

from __future__ import annotations

import ipaddress
import random
import tomllib
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dsm_sim.hardware import DEFAULT_MODELS, MODELS, Hardware

HEALTH_FAULTS = ("psu", "fan", "dimm", "disk", "temp")
_TAG_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ"  # Dell tags avoid vowels


class SpecError(ValueError):
    pass


@dataclass(frozen=True)
class ServerSpec:
    index: int
    address: str
    port: int
    hardware: Hardware
    idrac_firmware: str
    bios_version: str
    service_tag: str
    serial_number: str
    system_uuid: str
    mac: str
    username: str
    password: str
    health_faults: frozenset[str] = frozenset()

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass
class FleetSpec:
    count: int = 10
    start: str = "127.0.10.1"
    port: int = 8443
    models: tuple[str, ...] = DEFAULT_MODELS
    seed: int = 1
    tag_scheme: str = "dell"  # or "vcsim": VCS0000, VCS0001… as vcsim's hosts carry
    username: str = "root"
    password: str = "calvin"  # the iDRAC factory default
    time_scale: float = 1.0
    firmware: dict[str, str] = field(default_factory=dict)  # model → iDRAC firmware override
    health_faults: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "IP:PORT" or index → faults
    random_faults: float = 0.0  # share of servers given one random health fault
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)  # "all", "IP:PORT" or index → injected faults
    admin_port: int = 0  # 0: pick a free port
    shared_certificate: bool = False

    def validate(self) -> None:
        if not 1 <= self.count <= 20_000:
            raise SpecError(f"count {self.count}: give 1 to 20000 servers")
        first = _loopback(self.start, "start")
        last = first + self.count - 1
        if last not in ipaddress.ip_network("127.0.0.0/8"):
            raise SpecError(f"start {self.start} + {self.count} servers leaves 127.0.0.0/8; start lower")
        if not 1 <= self.port <= 65535:
            raise SpecError(f"port {self.port}: give 1 to 65535")
        for m in self.models:
            if m not in MODELS:
                raise SpecError(f"model {m!r} is not simulated; choose from {', '.join(MODELS)}")
        for m in self.firmware:
            if m not in MODELS:
                raise SpecError(f"firmware override for unknown model {m!r}")
        for key, faults in self.health_faults.items():
            bad = [f for f in faults if f not in HEALTH_FAULTS]
            if bad:
                raise SpecError(f"fault {bad[0]!r} for {key}: choose from {', '.join(HEALTH_FAULTS)}")
        from dsm_sim.state import Faults

        known = set(Faults().as_dict())
        for key, settings in self.faults.items():
            unknown = set(settings) - known
            if unknown:
                raise SpecError(f"fault {sorted(unknown)[0]!r} for {key}: choose from {', '.join(sorted(known))}")
        if self.tag_scheme not in ("dell", "vcsim"):
            raise SpecError(f"tag scheme {self.tag_scheme!r}: use dell or vcsim")
        if self.time_scale <= 0:
            raise SpecError("time scale must be > 0")

    def servers(self) -> list[ServerSpec]:
        self.validate()
        rng = random.Random(self.seed)
        first = ipaddress.ip_address(self.start)
        out = []
        tags: set[str] = set()
        for i in range(self.count):
            hw = MODELS[self.models[i % len(self.models)]]
            address = str(first + i)
            if self.tag_scheme == "vcsim":
                tag = f"VCS{i:04d}"
            else:
                tag = "".join(rng.choice(_TAG_ALPHABET) for _ in range(7))
                while tag in tags:
                    tag = "".join(rng.choice(_TAG_ALPHABET) for _ in range(7))
            tags.add(tag)
            faults = set(self.health_faults.get(f"{address}:{self.port}", ()))
            faults |= set(self.health_faults.get(address, ())) | set(self.health_faults.get(str(i), ()))
            if self.random_faults and rng.random() < self.random_faults:
                faults.add(rng.choice(HEALTH_FAULTS))
            # Dell system UUIDs embed the service tag ("4c4c4544-…" is "DELL" in ASCII).
            tag_hex = tag.encode().hex().ljust(24, "0")[:24]
            system_uuid = str(uuid.UUID(f"4c4c4544{tag_hex}"))
            out.append(
                ServerSpec(
                    index=i,
                    address=address,
                    port=self.port,
                    hardware=hw,
                    idrac_firmware=self.firmware.get(hw.model, hw.idrac_firmware),
                    bios_version=hw.bios_version,
                    service_tag=tag,
                    serial_number=f"CN{rng.randrange(10**11, 10**12)}",
                    system_uuid=system_uuid,
                    mac=":".join(f"{b:02x}" for b in [0xB0, 0x7B, 0x25, *(rng.randrange(256) for _ in range(3))]),
                    username=self.username,
                    password=self.password,
                    health_faults=frozenset(faults),
                )
            )
        return out


def _loopback(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise SpecError(f"{what} {text!r} is not an IPv4 address") from None
    if not isinstance(ip, ipaddress.IPv4Address) or ip not in ipaddress.ip_network("127.0.0.0/8"):
        raise SpecError(f"{what} {text}: the simulator serves only loopback addresses (127.0.0.0/8)")
    return ip


_TOML_KEYS = {
    "count",
    "start",
    "port",
    "models",
    "seed",
    "tag_scheme",
    "username",
    "password",
    "time_scale",
    "firmware",
    "health_faults",
    "random_faults",
    "admin_port",
    "shared_certificate",
    "faults",
}


def load_fleet_toml(path: Path, base: FleetSpec | None = None) -> FleetSpec:
    """A fleet file: top-level keys as FleetSpec fields, [firmware] model = "x.y", [health_faults] "ip:port" = [..]."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: {exc}") from None
    unknown = set(data) - _TOML_KEYS
    if unknown:
        raise SpecError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_TOML_KEYS))}")
    spec = base or FleetSpec()
    if "models" in data:
        data["models"] = tuple(data["models"])
    if "health_faults" in data:
        data["health_faults"] = {str(k): tuple(v) for k, v in data["health_faults"].items()}
    spec = replace(spec, **data)
    spec.validate()
    return spec
