"""Fleet firmware compliance against a catalog: a pure function of what is installed and what is offered.

REDFISH.md §3.2: a server's platform is its SystemID as four hex digits (2318 → ``090E``; the model name
when the SystemID is not known); a component matches packages for that platform by Dell ComponentID, else
(ComponentID 0, as NICs, HBAs and drives often report) by its PCI ids, then by vendor and device alone;
the newest ``vendorVersion`` offered decides. Drivers (DRVR) are the operating system's business, not the
iDRAC's, and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar

from dsm_core.firmware.catalog import CRITICALITY_RANK, CatalogPackage, PciIds, normalize_hex
from dsm_core.firmware.versions import VersionKey, compare_versions, version_key

State = Literal["compliant", "upgrade", "downgrade", "not_in_catalog"]
STATES: tuple[State, ...] = ("upgrade", "downgrade", "not_in_catalog", "compliant")
INSTALLABLE_TYPES = frozenset({"FRMW", "BIOS", "APAC"})
_WINDOWS = ("LW64", "LWXP")
K = TypeVar("K")


class InstalledComponent(NamedTuple):
    inventory_id: str
    name: str
    version: str
    component_id: str | None
    fqdd: str | None = None
    pci: PciIds | None = None
    component_type: str | None = None


@dataclass(frozen=True, slots=True)
class Platform:
    system_id: int | None
    model: str | None

    def keys(self) -> list[str]:
        out = []
        if self.system_id is not None and self.system_id > 0:
            out.append(normalize_hex(self.system_id))
        if self.model:
            out.append(model_key(self.model))
        return out


class ComplianceRow(NamedTuple):
    """One installed component against the catalog. A tuple: 250,000 of them are built and stored per fleet
    (as JSON arrays in this field order, ``FIELDS``), so they must be cheap."""

    inventory_id: str
    fqdd: str | None
    component: str
    component_id: str | None
    installed: str
    available: str | None
    state: State
    criticality: str | None
    reboot_required: bool | None
    package_path: str | None
    package_id: str | None
    matched_by: str | None  # component_id, pci, pci_vendor_device

    def as_dict(self) -> dict[str, object]:
        return dict(zip(FIELDS, self, strict=True))


FIELDS: tuple[str, ...] = ComplianceRow._fields


def decode_components(stored: object) -> list[dict[str, Any]]:
    """Stored compliance rows (JSON arrays in ``FIELDS`` order) as dicts; anything malformed is left out."""
    out = []
    for item in stored if isinstance(stored, list) else []:
        if isinstance(item, list) and len(item) == len(FIELDS):
            out.append(dict(zip(FIELDS, item, strict=True)))
        elif isinstance(item, dict):
            out.append(item)
    return out
Verdict = tuple[str | None, State, str | None, bool | None, str | None, str | None, str | None]
"""(available, state, criticality, reboot_required, package_path, package_id, matched_by)"""


def model_key(model: str) -> str:
    """``PowerEdge R750`` and the catalog's ``R750`` are the same platform."""
    return "m:" + model.upper().removeprefix("POWEREDGE").strip()


def _rank(pkg: CatalogPackage) -> tuple[VersionKey, bool]:
    return version_key(pkg.vendor_version), pkg.package_type in _WINDOWS


class CatalogIndex:
    """The catalog's packages by (platform, ComponentID) and (platform, PCI ids): built once per catalog, so
    that 10,000 servers by 25 components are dictionary lookups."""

    def __init__(self, packages: Iterable[CatalogPackage]) -> None:
        self.by_cid: dict[tuple[str, str], CatalogPackage] = {}
        self.by_pci: dict[tuple[str, PciIds], CatalogPackage] = {}
        self.by_vendor_device: dict[tuple[str, str, str], CatalogPackage] = {}
        self.count = 0
        self._memo: dict[tuple[tuple[str, ...], str, PciIds | None], tuple[CatalogPackage | None, str | None]] = {}
        self._verdicts: dict[tuple[tuple[str, ...], str, PciIds | None, str], Verdict] = {}
        for pkg in packages:
            if pkg.component_type not in INSTALLABLE_TYPES:
                continue
            self.count += 1
            platforms = list(pkg.systems) + [model_key(m) for m in pkg.models]
            for device in pkg.devices:
                for plat in platforms:
                    if device.component_id and device.component_id != "0":
                        self._keep(self.by_cid, (plat, device.component_id), pkg)
                    for pci in device.pci:
                        if pci.vendor and pci.device:
                            self._keep(self.by_pci, (plat, pci), pkg)
                            self._keep(self.by_vendor_device, (plat, pci.vendor, pci.device), pkg)

    @staticmethod
    def _keep(table: dict[K, CatalogPackage], key: K, pkg: CatalogPackage) -> None:
        best = table.get(key)
        if best is None or _rank(pkg) > _rank(best):
            table[key] = pkg

    def match(self, platform: Platform | list[str], comp: InstalledComponent) -> tuple[CatalogPackage | None,
                                                                                         str | None]:
        """The newest package for ``comp`` on ``platform`` (or its precomputed ``keys()``), and how it matched."""
        keys = platform if isinstance(platform, list) else platform.keys()
        memo_key = (tuple(keys), comp.component_id or "", comp.pci)
        found = self._memo.get(memo_key)
        if found is None:
            found = self._memo[memo_key] = self._match(keys, comp)
        return found

    def _match(self, keys: list[str], comp: InstalledComponent) -> tuple[CatalogPackage | None, str | None]:
        cid = (comp.component_id or "").strip()
        if cid and cid != "0":
            for plat in keys:
                pkg = self.by_cid.get((plat, cid))
                if pkg is not None:
                    return pkg, "component_id"
        if comp.pci is not None and comp.pci.vendor and comp.pci.device:
            for plat in keys:
                pkg = self.by_pci.get((plat, comp.pci))
                if pkg is not None:
                    return pkg, "pci"
            for plat in keys:
                pkg = self.by_vendor_device.get((plat, comp.pci.vendor, comp.pci.device))
                if pkg is not None:
                    return pkg, "pci_vendor_device"
        return None, None


    def verdict(self, keys: tuple[str, ...], comp: InstalledComponent) -> Verdict:
        """What the catalog says of ``comp`` (memoised: a fleet repeats the same components and versions)."""
        memo_key = (keys, comp.component_id or "", comp.pci, comp.version)
        cached = self._verdicts.get(memo_key)
        if cached is not None:
            return cached
        pkg, how = self.match(list(keys), comp)
        verdict: Verdict = (None, "not_in_catalog", None, None, None, None, None) if pkg is None else (
            pkg.vendor_version, classify(comp.version, pkg.vendor_version), pkg.criticality, pkg.reboot_required,
            pkg.path, pkg.package_id, how)
        self._verdicts[memo_key] = verdict
        return verdict


def classify(installed: str, available: str | None) -> State:
    if available is None:
        return "not_in_catalog"
    c = compare_versions(available, installed)
    return "upgrade" if c > 0 else "downgrade" if c < 0 else "compliant"


def server_compliance(
    platform: Platform, components: Sequence[InstalledComponent], index: CatalogIndex
) -> list[ComplianceRow]:
    keys = tuple(platform.keys())
    return [ComplianceRow(c.inventory_id, c.fqdd, c.name, c.component_id, c.version, *index.verdict(keys, c))
            for c in components]


@dataclass(frozen=True, slots=True)
class Summary:
    counts: dict[str, int]
    top_criticality: str | None  # the most critical pending upgrade
    top_component: str | None

    @property
    def pending(self) -> int:
        return self.counts.get("upgrade", 0)


def summarize(rows: Sequence[ComplianceRow]) -> Summary:
    counts: dict[str, int] = dict.fromkeys(STATES, 0)
    top: ComplianceRow | None = None
    for row in rows:
        counts[row.state] += 1
        rank = CRITICALITY_RANK.get(row.criticality or "", 0)
        if row.state == "upgrade" and (top is None or rank > CRITICALITY_RANK.get(top.criticality or "", 0)):
            top = row
    return Summary(counts, top.criticality if top else None, top.component if top else None)
