"""Server Configuration Profiles: what an export returns and what an import accepts (XML or JSON)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from dsm_sim.state import SimIdrac

TARGET_COMPONENTS = {
    "BIOS": "BIOS.Setup.1-1",
    "IDRAC": "iDRAC.Embedded.1",
    "NIC": "NIC.Embedded.1-1-1",
    "RAID": "RAID.Integrated.1-1",
    "System": "System.Embedded.1",
    "LifecycleController": "LifecycleController.Embedded.1",
}


def _components(idrac: SimIdrac, targets: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    wanted = set(TARGET_COMPONENTS) if "ALL" in targets else {t for t in targets if t in TARGET_COMPONENTS}
    out = []
    if "BIOS" in wanted:
        out.append(("BIOS.Setup.1-1", [(k, str(v)) for k, v in sorted(idrac.bios.items())]))
    if "IDRAC" in wanted:
        out.append(
            (
                "iDRAC.Embedded.1",
                [
                    ("IPv4.1#Enable", "Enabled"),
                    ("Users.2#UserName", idrac.spec.username),
                    ("ServerBoot.1#BootOnce", "Disabled"),
                ],
            )
        )
    if "NIC" in wanted:
        out.append(("NIC.Embedded.1-1-1", [("LegacyBootProto", "PXE"), ("WakeOnLan", "Enabled")]))
    if "RAID" in wanted:
        out.append(("RAID.Integrated.1-1", [("RAIDresetConfig", "False"), ("RAIDforeignConfig", "Ignore")]))
    if "System" in wanted:
        out.append(("System.Embedded.1", [("ServerPwr.1#PSRedPolicy", "A/B Grid Redundant")]))
    if "LifecycleController" in wanted:
        out.append(("LifecycleController.Embedded.1", [("LCAttributes.1#CollectSystemInventoryOnRestart", "Enabled")]))
    return out


def export_profile(idrac: SimIdrac, targets: list[str], fmt: str) -> str:
    stamp = idrac.clock.wall().strftime("%a %b %d %H:%M:%S %Y")
    comps = _components(idrac, targets)
    model = f"PowerEdge {idrac.hw.model}"
    if fmt == "JSON":
        return json.dumps(
            {
                "SystemConfiguration": {
                    "Model": model,
                    "ServiceTag": idrac.spec.service_tag,
                    "TimeStamp": stamp,
                    "Components": [
                        {"FQDD": fqdd, "Attributes": [{"Name": n, "Value": v} for n, v in attrs]}
                        for fqdd, attrs in comps
                    ],
                }
            },
            indent=2,
        )
    root = ET.Element("SystemConfiguration", Model=model, ServiceTag=idrac.spec.service_tag, TimeStamp=stamp)
    for fqdd, attrs in comps:
        comp = ET.SubElement(root, "Component", FQDD=fqdd)
        for name, value in attrs:
            ET.SubElement(comp, "Attribute", Name=name).text = value
    return ET.tostring(root, encoding="unicode")


class ProfileError(ValueError):
    pass


def parse_profile(buffer: str) -> dict[str, dict[str, str]]:
    """Component FQDD → {attribute: value}; raises ProfileError for anything that is not a profile."""
    text = buffer.strip()
    if text.startswith("{"):
        try:
            data: Any = json.loads(text)
            comps = data["SystemConfiguration"]["Components"]
            return {c["FQDD"]: {a["Name"]: str(a["Value"]) for a in c.get("Attributes", [])} for c in comps}
        except (ValueError, KeyError, TypeError) as exc:
            raise ProfileError(f"JSON profile is malformed ({exc})") from None
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ProfileError(f"XML profile is malformed ({exc})") from None
    if root.tag != "SystemConfiguration":
        raise ProfileError(f"root element is {root.tag}, not SystemConfiguration")
    return {
        c.get("FQDD", ""): {a.get("Name", ""): a.text or "" for a in c.findall("Attribute")}
        for c in root.findall("Component")
    }
