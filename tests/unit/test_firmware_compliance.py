"""Compliance, a pure function: the real iDRAC captures' FirmwareInventory (as captured) against a catalog
written for each capture, in which every state occurs — a component matched only by its PCI ids (ComponentID
0), and a package for another platform that must not apply."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dsm_core.firmware.catalog import PciIds, parse_catalog
from dsm_core.firmware.compliance import (
    CatalogIndex,
    InstalledComponent,
    Platform,
    classify,
    server_compliance,
    summarize,
)
from dsm_core.redfish.models import FirmwareItem, SystemView, dig
from dsm_core.services.firmware import pci_from_raw
from dsm_sim.repository import Pkg, catalog_bytes
from tests.conftest import SHARED

MOCKUPS = sorted(p for p in (SHARED / "testbeds" / "mockups").iterdir() if (p / "redfish" / "v1").is_dir())


def _load(root: Path, path: str) -> dict:
    return json.loads((root / "redfish" / "v1" / path / "index.json").read_text())


def capture(root: Path) -> tuple[Platform, list[InstalledComponent]]:
    """The capture's platform and its ``Installed-*`` components, through the client's own parsers."""
    system = SystemView.parse(_load(root, "Systems/System.Embedded.1"))
    collection = _load(root, "UpdateService/FirmwareInventory")
    comps = []
    for member in collection["Members"]:
        rel = member["@odata.id"].removeprefix("/redfish/v1/")
        try:
            item = FirmwareItem.parse(_load(root, rel))
        except FileNotFoundError:
            continue
        if item is None or (item.status or "") != "Installed" or not item.version:
            continue
        raw = dig(item.raw, "Oem", "Dell", "DellSoftwareInventory")
        v, d, sv, sd = pci_from_raw(raw if isinstance(raw, dict) else {})
        comps.append(InstalledComponent(item.inventory_id, item.name or "", item.version, item.component_id,
                                        item.fqdd, PciIds(v, d, sv or "", sd or "") if v and d else None))
    return Platform(system.system_id, system.model), comps


def bump(version: str, step: int) -> str:
    """``version`` with its last number moved by ``step`` (kept >= 0): newer or older in Dell's order."""
    runs = list(re.finditer(r"\d+", version))
    for m in reversed(runs):
        value = int(m.group()) + step
        if value >= 0:
            return version[:m.start()] + str(value).zfill(len(m.group())) + version[m.end():]
    raise ValueError(f"cannot move {version} by {step}")


@pytest.mark.parametrize("root", MOCKUPS, ids=[p.name for p in MOCKUPS])
def test_compliance_of_a_real_capture_shows_every_state(root: Path) -> None:
    platform, comps = capture(root)
    assert platform.system_id and comps, "the capture has a SystemID and installed firmware"
    here = format(platform.system_id, "04X")
    elsewhere = "0001" if here != "0001" else "0002"
    by_id: dict[str, InstalledComponent] = {}
    for c in comps:
        if c.component_id and c.component_id != "0":
            by_id.setdefault(c.component_id, c)
    numbered = [c for c in by_id.values() if re.search(r"[1-9]", c.version)]
    assert len(numbered) >= 4, "at least four components with a ComponentID"
    up, same, down, foreign = numbered[:4]
    pci_only = next((c for c in comps if c.component_id in ("0", None, "") and c.pci is not None), None)
    model = (platform.model or "").removeprefix("PowerEdge ").strip()
    packages = [
        Pkg("UPGR1", up.name, bump(up.version, 1), f"F1/1/{up.name[:8]}_UP.EXE", (up.component_id or "",),
            systems=((here, model),), criticality="2", reboot=True),
        Pkg("OLDR1", up.name, bump(up.version, -1) if re.search(r"[1-9]", up.version) else up.version,
            f"F1/1/{up.name[:8]}_OLD.EXE", (up.component_id or "",), systems=((here, model),)),
        Pkg("SAME1", same.name, same.version, "F2/1/SAME.EXE", (same.component_id or "",), systems=((here, model),)),
        Pkg("DOWN1", down.name, bump(down.version, -1), "F3/1/DOWN.EXE", (down.component_id or "",),
            systems=((here, model),)),
        # the right component, the wrong platform: must not apply here
        Pkg("ELSE1", foreign.name, bump(foreign.version, 5), "F4/1/ELSE.EXE", (foreign.component_id or "",),
            systems=((elsewhere, "R999"),)),
        # a driver for the upgraded component: the OS's business, never compared with firmware
        Pkg("DRVR1", up.name, bump(up.version, 9), "F5/1/DRIVER.EXE", (up.component_id or "",),
            systems=((here, model),), component_type="DRVR"),
    ]
    if pci_only is not None:
        assert pci_only.pci is not None
        p = pci_only.pci
        packages.append(Pkg("PCIUP", pci_only.name, bump(pci_only.version, 1), "F6/1/PCI.EXE",
                            pci=((p.vendor.lower(), p.device, p.subvendor, p.subdevice),), systems=((here, model),)))
    index = CatalogIndex(parse_catalog(catalog_bytes(packages)).packages)
    rows = {r.inventory_id: r for r in server_compliance(platform, comps, index)}
    assert rows[up.inventory_id].state == "upgrade" and rows[up.inventory_id].available == bump(up.version, 1)
    assert rows[up.inventory_id].package_path == f"F1/1/{up.name[:8]}_UP.EXE"  # the newest of two packages
    assert rows[up.inventory_id].criticality == "Urgent" and rows[up.inventory_id].reboot_required is True
    assert rows[same.inventory_id].state == "compliant"
    assert rows[down.inventory_id].state == "downgrade"
    assert rows[foreign.inventory_id].state == "not_in_catalog", "a package for another platform applied"
    states = {r.state for r in rows.values()}
    assert states == {"upgrade", "compliant", "downgrade", "not_in_catalog"}
    if pci_only is not None:
        matched = [r for r in rows.values() if r.component_id in ("0", None, "") and r.matched_by == "pci"]
        assert matched and all(r.state == "upgrade" for r in matched)
        assert rows[pci_only.inventory_id].available == bump(pci_only.version, 1)
    summary = summarize(list(rows.values()))
    assert summary.counts["upgrade"] >= 1 and summary.top_criticality == "Urgent"
    assert sum(summary.counts.values()) == len(comps)


def test_the_r750_capture_has_a_device_matched_only_by_pci_ids() -> None:
    """The issue's case, named: the R750's NVMe drives report ComponentID 0 with PCI ids 1E0F:0007:1028:207E."""
    root = SHARED / "testbeds" / "mockups" / "dell-r750-idrac9-6.00"
    platform, comps = capture(root)
    assert platform == Platform(2318, "PowerEdge R750")
    drives = [c for c in comps if c.component_id == "0" and c.pci == PciIds("1E0F", "0007", "1028", "207E")]
    assert len(drives) == 3
    index = CatalogIndex(parse_catalog(catalog_bytes([
        Pkg("KT9DN", "NVMe", "2.1.8", "F/NVME.EXE", pci=(("1e0f", "0007", "1028", "207e"),)),
        Pkg("OTHER", "NVMe", "9.9.9", "F/NVME9.EXE", pci=(("1e0f", "0007", "1028", "207e"),),
            systems=(("0A6B", "R660"),)),
    ])).packages)
    rows = server_compliance(platform, drives, index)
    assert [(r.state, r.available, r.matched_by) for r in rows] == [("upgrade", "2.1.8", "pci")] * 3


def test_without_a_system_id_the_model_name_decides_the_platform() -> None:
    comp = InstalledComponent("Installed-159-1.8.2__BIOS.Setup.1-1", "BIOS", "1.8.2", "159")
    index = CatalogIndex(parse_catalog(catalog_bytes([Pkg("B", "BIOS", "1.9.0", "B.EXE", ("159",),
                                                          systems=(("090E", "R750"),))])).packages)
    assert server_compliance(Platform(None, "PowerEdge R750"), [comp], index)[0].state == "upgrade"
    assert server_compliance(Platform(None, "PowerEdge R650"), [comp], index)[0].state == "not_in_catalog"


def test_classify() -> None:
    assert [classify("1.8.2", v) for v in ("1.13.2", "1.8.2", "1.2.4", None)] == [
        "upgrade", "compliant", "downgrade", "not_in_catalog"]
