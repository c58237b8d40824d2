"""What a simulated iDRAC makes of a Dell Repository Manager Catalog.xml (InstallFromRepository).

The iDRAC's own applicability decision, written independently of DSM's compliance code so that each
can catch the other's mistakes: components for this SystemID whose ComponentID is installed here and
whose vendorVersion is newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET


@dataclass(frozen=True)
class CatalogPackage:
    component_id: str
    version: str
    path: str
    name: str
    criticality: str
    reboot_required: bool
    component_type: str


def decode_catalog(data: bytes) -> str:
    """Dell publishes Catalog.xml as UTF-16 with a BOM; DRM exports may be UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    return data.decode("utf-8")


def version_key(version: str) -> tuple[tuple[int, object], ...]:
    parts = version.replace("-", ".").split(".")
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def applicable_updates(catalog_xml: str, system_id: int, installed: dict[str, str]) -> list[CatalogPackage]:
    """Newest package per installed ComponentID that is newer than what is installed."""
    root = ET.fromstring(catalog_xml)
    wanted_system = f"{system_id:04X}"
    best: dict[str, CatalogPackage] = {}
    for comp in root.iter("SoftwareComponent"):
        systems = {m.get("systemID", "").upper() for m in comp.iter("Model")}
        if wanted_system not in systems:
            continue
        version = comp.get("vendorVersion", "")
        name_el = comp.find("Name/Display")
        crit = comp.find("Criticality")
        ctype = comp.find("ComponentType")
        for dev in comp.iter("Device"):
            cid = dev.get("componentID", "")
            if cid not in installed or version_key(version) <= version_key(installed[cid]):
                continue
            pkg = CatalogPackage(
                cid,
                version,
                comp.get("path", ""),
                (name_el.text or "").strip() if name_el is not None else "",
                crit.get("value", "1") if crit is not None else "1",
                comp.get("rebootRequired", "false").lower() == "true",
                ctype.get("value", "FRMW") if ctype is not None else "FRMW",
            )
            if cid not in best or version_key(version) > version_key(best[cid].version):
                best[cid] = pkg
    return sorted(best.values(), key=lambda p: p.component_id)


def package_list_xml(packages: list[tuple[CatalogPackage, str, str]]) -> str:
    """GetRepoBasedUpdateList's PackageList: CIM-XML instances of DCIM_RepoUpdateSWID.

    ``packages`` is (package, installed version, JID)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0">'
        '<MESSAGE ID="0" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
    ]
    for pkg, installed, jid in packages:
        props = {
            "Criticality": pkg.criticality,
            "DisplayName": pkg.name,
            "PackageName": pkg.path.rsplit("/", 1)[-1],
            "PackagePath": pkg.path,
            "PackageVersion": pkg.version,
            "RebootType": "HOST" if pkg.reboot_required else "NONE",
            "JobID": jid,
            "ComponentID": pkg.component_id,
            "ComponentType": pkg.component_type,
            "ComponentInstalledVersion": installed,
        }
        out.append(
            '<VALUE.NAMEDINSTANCE><INSTANCENAME CLASSNAME="DCIM_RepoUpdateSWID"/><INSTANCE '
            'CLASSNAME="DCIM_RepoUpdateSWID">'
        )
        for name, value in props.items():
            out.append(f'<PROPERTY NAME="{name}" TYPE="string"><VALUE>{_esc(value)}</VALUE></PROPERTY>')
        out.append("</INSTANCE></VALUE.NAMEDINSTANCE>")
    out.append("</SIMPLEREQ></MESSAGE></CIM>")
    return "".join(out)


def _esc(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
