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
        self._verdicts: dict[tuple[str, ...], dict[tuple[str | None, PciIds | None, str], Verdict]] = {}
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


    def verdicts_for(self, keys: tuple[str, ...]) -> dict[tuple[str | None, PciIds | None, str], Verdict]:
        """The memo of one platform: (component id, PCI ids, installed version) → verdict. A fleet repeats the
        same components and versions, so most components are one dictionary lookup."""
        return self._verdicts.setdefault(keys, {})

    def verdict(self, keys: tuple[str, ...], comp: InstalledComponent) -> Verdict:
        """What the catalog says of ``comp`` on the platform ``keys``."""
        pkg, how = self.match(list(keys), comp)
        if pkg is None:
            return (None, "not_in_catalog", None, None, None, None, None)
        return (pkg.vendor_version, classify(comp.version, pkg.vendor_version), pkg.criticality,
                pkg.reboot_required, pkg.path, pkg.package_id, how)


def classify(installed: str, available: str | None) -> State:
    if available is None:
        return "not_in_catalog"
    c = compare_versions(available, installed)
    return "upgrade" if c > 0 else "downgrade" if c < 0 else "compliant"


def server_compliance(
    platform: Platform, components: Sequence[InstalledComponent], index: CatalogIndex
) -> list[ComplianceRow]:
    return [ComplianceRow._make(row) for row in compliance_tuples(platform, components, index)]


Row = tuple[Any, ...]
"""A ComplianceRow's values as a plain tuple (``FIELDS`` order): what is stored, 250,000 per fleet."""


def compliance_tuples(platform: Platform, components: Iterable[Sequence[Any]], index: CatalogIndex) -> list[Row]:
    """``server_compliance`` without the named tuples: ``components`` are InstalledComponent values (or plain
    tuples in its field order), the result plain tuples in ``FIELDS`` order."""
    keys = tuple(platform.keys())
    memo = index.verdicts_for(keys)
    rows = []
    for comp in components:
        inventory_id, name, version, component_id, fqdd, pci, _ = comp
        verdict = memo.get((component_id, pci, version))
        if verdict is None:
            verdict = memo[(component_id, pci, version)] = index.verdict(keys, InstalledComponent(*comp))
        rows.append((inventory_id, fqdd, name, component_id, version, *verdict))
    return rows


@dataclass(frozen=True, slots=True)
class Summary:
    counts: dict[str, int]
    top_criticality: str | None  # the most critical pending upgrade
    top_component: str | None

    @property
    def pending(self) -> int:
        return self.counts.get("upgrade", 0)


def summarize(rows: Sequence[Row]) -> Summary:
    """Counts per state and the most critical pending upgrade, of ComplianceRows or their plain tuples."""
    counts: dict[str, int] = dict.fromkeys(STATES, 0)
    top: Row | None = None
    top_rank = 0
    for row in rows:
        state = row[6]
        counts[state] += 1
        if state == "upgrade":
            rank = CRITICALITY_RANK.get(row[7] or "", 0)
            if top is None or rank > top_rank:
                top, top_rank = row, rank
    return Summary(counts, top[7] if top else None, top[2] if top else None)
