"""A local firmware repository for tests: a loopback HTTP share holding a DRM catalog and DUP files named as
Dell names them (the simulator installs a DUP by what its name says: component and version)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.catalogs import Pkg, catalog_bytes

R750 = ("090E", "R750")
R630 = ("0627", "R630")
BIOS_R750 = Pkg("0T7N6", "BIOS", "1.13.2", "FOLDER01/1/BIOS_0T7N6_WN64_1.13.2.EXE", ("159",), component_type="BIOS",
                criticality="2", reboot=True, systems=(R750,))
IDRAC = Pkg("5NPYV", "iDRAC with Lifecycle Controller", "7.10.30.00",
            "FOLDER02/1/iDRAC-with-Lifecycle-Controller_Firmware_5NPYV_WN64_7.10.30.00_A00.EXE", ("25227",),
            systems=(R750,))
NIC = Pkg("9GFV7", "Broadcom NetXtreme Gigabit Ethernet", "22.00.6",
          "FOLDER03/1/Network_Firmware_9GFV7_WN64_22.00.6.EXE", ("108255",), systems=(R750, R630))
CPLD = Pkg("K3JRX", "System CPLD", "1.1.1", "FOLDER04/1/CPLD_Firmware_K3JRX_WN64_1.1.1.EXE", ("27763",),
           systems=(R750,), reboot=True)
BIOS_R630 = Pkg("4HF1K", "BIOS", "2.19.1", "FOLDER05/1/BIOS_4HF1K_WN64_2.19.1.EXE", ("159",), component_type="BIOS",
                reboot=True, systems=(R630,))
# for another platform only: must never be offered to the R750
PSU_R660 = Pkg("PSU66", "Power Supply", "00.3C.4D", "FOLDER06/1/Power_Firmware_PSU66_WN64_00.3C.4D.EXE",
               ("108076",), systems=(("0A6B", "R660"),))
PACKAGES = [BIOS_R750, IDRAC, NIC, CPLD, BIOS_R630, PSU_R660]


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


@contextmanager
def serve_repo(root: Path, host: str, packages: list[Pkg] = PACKAGES, gz: bool = False) -> Iterator[Repo]:
    """``packages`` written as DUP files and a UTF-16 catalog under ``root``, served over HTTP on ``host``."""
    root.mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        path = root / pkg.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"MZ" + pkg.package_id.encode() * 64)
    (root / ("Catalog.xml.gz" if gz else "Catalog.xml")).write_bytes(catalog_bytes(packages, gz=gz))
    server = ThreadingHTTPServer((host, 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Repo(root, f"http://{host}:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
