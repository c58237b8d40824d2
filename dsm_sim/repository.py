"""A local firmware repository, as Dell Repository Manager writes one (REDFISH.md §3.1): for the demo, the tests
and the benchmarks.

``Manifest`` root, one ``SoftwareComponent`` per package with ``Name/Display``, ``ComponentType``,
``Criticality``, ``SupportedDevices/Device componentID`` (with ``PCIInfo`` where the device has PCI ids) and
``SupportedSystems/Brand/Model systemID``; UTF-16 with a BOM like Dell's own catalog, or UTF-8 like some DRM
exports; plain or gzipped.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
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


# --- a served repository -------------------------------------------------------------------------------------


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Repo:
    root: Path
    url: str

    def file(self, pkg: Pkg) -> Path:
        return self.root / pkg.path

    def uri(self, pkg: Pkg) -> str:
        return f"{self.url}/{pkg.path}"


def write_repo(root: Path, packages: list[Pkg], gz: bool = False) -> None:
    """``packages`` as DUP files (named as Dell names them: the simulator installs a DUP by what its name
    says) and a UTF-16 ``Catalog.xml`` (or ``Catalog.xml.gz``) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        path = root / pkg.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"MZ" + pkg.package_id.encode() * 64)
    (root / ("Catalog.xml.gz" if gz else "Catalog.xml")).write_bytes(catalog_bytes(packages, gz=gz))


@contextmanager
def serve_repo(root: Path, host: str, packages: list[Pkg], gz: bool = False, port: int = 0) -> Iterator[Repo]:
    """The repository written under ``root`` and served over HTTP on ``host`` (a loopback address)."""
    write_repo(root, packages, gz)
    server = ThreadingHTTPServer((host, port), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Repo(root, f"http://{host}:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


def demo_packages() -> list[Pkg]:
    """A catalog for every model the simulator knows: newer BIOS, iDRAC and NIC firmware, a CPLD that needs a
    reboot, and one package for a platform no simulated server is (it must never apply)."""
    from dsm_sim.hardware import MODELS

    out: list[Pkg] = []
    for model, hw in sorted(MODELS.items()):
        system = (format(hw.system_id, "04X"), model)
        bios = _bump(hw.bios_version)
        package_id = f"B{hw.system_id:04X}"
        out.append(Pkg(package_id, f"Dell BIOS for PowerEdge {model}", bios,
                       f"FOLDER{hw.system_id}/1/BIOS_{package_id}_WN64_{bios}.EXE", ("159",),
                       component_type="BIOS", criticality="2", reboot=True, systems=(system,)))
    idrac9 = tuple((format(h.system_id, "04X"), m) for m, h in MODELS.items() if h.idrac_generation == 9)
    idrac10 = tuple((format(h.system_id, "04X"), m) for m, h in MODELS.items() if h.idrac_generation == 10)
    everyone = tuple((format(h.system_id, "04X"), m) for m, h in MODELS.items())
    if idrac9:
        out.append(Pkg("5NPYV", "iDRAC with Lifecycle Controller", "7.10.30.00",
                       "FOLDER02/1/iDRAC-with-Lifecycle-Controller_Firmware_5NPYV_WN64_7.10.30.00_A00.EXE",
                       ("25227",), systems=idrac9))
    if idrac10:
        out.append(Pkg("X10DR", "iDRAC10 with Lifecycle Controller", "1.30.10.50",
                       "FOLDER03/1/iDRAC-with-Lifecycle-Controller_Firmware_X10DR_WN64_1.30.10.50_A00.EXE",
                       ("25227",), systems=idrac10))
    out.append(Pkg("9GFV7", "Broadcom NetXtreme Gigabit Ethernet", "22.00.6",
                   "FOLDER04/1/Network_Firmware_9GFV7_WN64_22.00.6.EXE", ("108255",), systems=everyone))
    out.append(Pkg("K3JRX", "System CPLD", "1.1.1", "FOLDER05/1/CPLD_Firmware_K3JRX_WN64_1.1.1.EXE", ("27763",),
                   systems=everyone, reboot=True, criticality="3"))
    out.append(Pkg("PSU99", "Power Supply", "00.3C.4D", "FOLDER06/1/Power_Firmware_PSU99_WN64_00.3C.4D.EXE",
                   ("108076",), systems=(("0FFF", "R999"),)))
    return out


def _bump(version: str) -> str:
    parts = version.split(".")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].isdigit():
            parts[i] = str(int(parts[i]) + 1)
            return ".".join(parts)
    return version + ".1"
