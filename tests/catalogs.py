"""Dell Repository Manager catalogs written the way DRM writes them (REDFISH.md §3.1), for tests and benchmarks.

``Manifest`` root, one ``SoftwareComponent`` per package with ``Name/Display``, ``ComponentType``,
``Criticality``, ``SupportedDevices/Device componentID`` (with ``PCIInfo`` where the device has PCI ids) and
``SupportedSystems/Brand/Model systemID``; UTF-16 with a BOM like Dell's own catalog, or UTF-8 like some DRM
exports; plain or gzipped.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr


@dataclass
class Pkg:
    package_id: str
    name: str
    version: str
    path: str
    component_ids: tuple[str, ...] = ()
    pci: tuple[tuple[str, str, str, str], ...] = ()
    systems: tuple[tuple[str, str], ...] = (("090E", "R750"),)
    component_type: str = "FRMW"
    criticality: str = "1"
    reboot: bool = False
    dell_version: str = "A00"
    extra_devices: int = 0
    package_type: str = "LW64"
    size: int = 1234567
    hash_md5: str = "0123456789abcdef0123456789abcdef"
    release_date: str = "May 27, 2024"
    extra: dict[str, str] = field(default_factory=dict)


def _component(p: Pkg) -> str:
    crit = {"1": "Recommended", "2": "Urgent", "3": "Optional"}.get(p.criticality, "Recommended")
    devices = []
    for cid in p.component_ids:
        devices.append(f'<Device componentID="{cid}" embedded="0"><Display lang="en"><![CDATA[{p.name}]]></Display>'
                       "</Device>")
    for v, d, sv, sd in p.pci:
        devices.append(f'<Device componentID="0" embedded="0"><PCIInfo vendorID="{v}" deviceID="{d}" '
                       f'subVendorID="{sv}" subDeviceID="{sd}"/><Display lang="en"><![CDATA[{p.name}]]></Display>'
                       "</Device>")
    for i in range(p.extra_devices):
        devices.append(f'<Device componentID="{900000 + i}" embedded="0"><Display lang="en">Other device {i}'
                       "</Display></Device>")
    models = "".join(f'<Model systemID="{sid}" systemIDType="BIOS"><Display lang="en"><![CDATA[{name}]]></Display>'
                     "</Model>" for sid, name in p.systems)
    attrs = {"packageID": p.package_id, "releaseID": p.package_id, "hashMD5": p.hash_md5, "path": p.path,
             "dateTime": "2024-05-27T10:00:00+05:30", "releaseDate": p.release_date, "vendorVersion": p.version,
             "dellVersion": p.dell_version, "packageType": p.package_type, "rebootRequired": str(p.reboot).lower(),
             "size": str(p.size), "schemaVersion": "2.4", **p.extra}
    attr_text = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    return (
        f"<SoftwareComponent {attr_text}>"
        f'<Name><Display lang="en"><![CDATA[{p.name}]]></Display></Name>'
        f'<ComponentType value="{p.component_type}"><Display lang="en"><![CDATA[{p.component_type}]]></Display>'
        "</ComponentType>"
        f'<Description><Display lang="en"><![CDATA[{escape(p.name)} update]]></Display></Description>'
        '<LUCategory value="Network"><Display lang="en"><![CDATA[Network]]></Display></LUCategory>'
        '<Category value="NI"><Display lang="en"><![CDATA[Network]]></Display></Category>'
        f'<Criticality value="{p.criticality}"><Display lang="en"><![CDATA[{crit}]]></Display></Criticality>'
        f"<SupportedDevices>{''.join(devices)}</SupportedDevices>"
        f'<SupportedSystems><Brand key="3" prefix="PE"><Display lang="en"><![CDATA[PowerEdge]]></Display>'
        f"{models}</Brand></SupportedSystems>"
        '<RevisionHistory><Display lang="en"><![CDATA[- Fixes.]]></Display></RevisionHistory>'
        "</SoftwareComponent>"
    )


def catalog_xml(packages: list[Pkg], *, encoding: str = "utf-16", version: str = "24.05.00") -> str:
    head = (f'<?xml version="1.0" encoding="{encoding}"?>\n'
            f'<Manifest baseLocation="" baseLocationAccessProtocols="HTTP" dateTime="2024-05-28T06:35:18+05:30" '
            f'identifier="1c5b8fa6-1a1b-4b0c-9a59-cb0a1d5c1f55" releaseID="TESTCAT" version="{version}" '
            'predecessorID="00000000-0000-0000-0000-000000000000">'
            '<InventoryComponent schemaVersion="2.0" releaseID="INV" releaseDate="May 1, 2024" '
            'vendorVersion="24.05" dellVersion="A00" path="FOLDER/invcol.exe" osCode="WIN64"/>')
    return head + "".join(_component(p) for p in packages) + "</Manifest>\n"


def catalog_bytes(packages: list[Pkg], *, utf16: bool = True, gz: bool = False, version: str = "24.05.00") -> bytes:
    text = catalog_xml(packages, encoding="utf-16" if utf16 else "utf-8", version=version)
    data = b"\xff\xfe" + text.encode("utf-16-le") if utf16 else text.encode("utf-8")
    return gzip.compress(data) if gz else data
