"""The PowerEdge models the simulator knows, with what their iDRACs report.

Generations follow REDFISH.md §2.0: 12G/13G → iDRAC 8, 14G/15G/16G → iDRAC 9, 17G → iDRAC 10. Firmware
defaults are real release numbers of each line; Redfish versions follow the firmware.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    model: str
    server_generation: str  # "15G"
    idrac_generation: int  # 8, 9, 10
    form_factor: str  # "Monolithic" or "Modular"
    idrac_firmware: str
    bios_version: str
    system_id: int  # Dell SystemID (decimal; catalogs write it as 4 hex digits)
    cpu_model: str
    cpu_count: int
    cores_per_cpu: int
    memory_gib: int
    dimm_count: int
    psu_count: int
    psu_watts: int
    fan_count: int
    disk_count: int

    @property
    def manager_model(self) -> str:
        return f"{self.server_generation} {self.form_factor}"


MODELS: dict[str, Hardware] = {
    h.model: h
    for h in (
        Hardware(
            "R630",
            "13G",
            8,
            "Monolithic",
            "2.84.84.84",
            "2.19.0",
            1575,
            "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
            2,
            14,
            256,
            8,
            2,
            750,
            7,
            4,
        ),
        Hardware(
            "R730",
            "13G",
            8,
            "Monolithic",
            "2.84.84.84",
            "2.19.0",
            1536,
            "Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz",
            2,
            14,
            384,
            12,
            2,
            1100,
            6,
            8,
        ),
        Hardware(
            "R640",
            "14G",
            9,
            "Monolithic",
            "6.10.30.00",
            "2.19.1",
            1814,
            "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
            2,
            20,
            384,
            12,
            2,
            750,
            8,
            8,
        ),
        Hardware(
            "R740",
            "14G",
            9,
            "Monolithic",
            "6.10.30.00",
            "2.19.1",
            1815,
            "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz",
            2,
            24,
            768,
            24,
            2,
            1100,
            6,
            8,
        ),
        Hardware(
            "M640",
            "14G",
            9,
            "Modular",
            "6.10.30.00",
            "2.19.1",
            1825,
            "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
            2,
            20,
            384,
            12,
            0,
            0,
            0,
            2,
        ),
        Hardware(
            "R650",
            "15G",
            9,
            "Monolithic",
            "6.10.80.00",
            "1.10.2",
            2316,
            "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
            2,
            32,
            512,
            16,
            2,
            1400,
            8,
            8,
        ),
        Hardware(
            "R750",
            "15G",
            9,
            "Monolithic",
            "6.00.30.00",
            "1.8.2",
            2318,
            "Intel(R) Xeon(R) Gold 6348 CPU @ 2.60GHz",
            2,
            28,
            512,
            16,
            2,
            2400,
            6,
            3,
        ),
        Hardware(
            "R660",
            "16G",
            9,
            "Monolithic",
            "7.00.00.172",
            "1.5.6",
            2759,
            "Intel(R) Xeon(R) Gold 6430",
            2,
            32,
            512,
            16,
            2,
            1400,
            8,
            8,
        ),
        Hardware(
            "R760",
            "16G",
            9,
            "Monolithic",
            "7.10.30.00",
            "2.2.8",
            2760,
            "Intel(R) Xeon(R) Gold 6448Y",
            2,
            32,
            1024,
            32,
            2,
            2400,
            6,
            12,
        ),
        Hardware(
            "R670",
            "17G",
            10,
            "Monolithic",
            "1.20.25.00",
            "1.2.3",
            3208,
            "Intel(R) Xeon(R) 6780E",
            2,
            144,
            1024,
            16,
            2,
            1500,
            8,
            8,
        ),
        Hardware(
            "R770",
            "17G",
            10,
            "Monolithic",
            "1.20.25.00",
            "1.2.3",
            3209,
            "Intel(R) Xeon(R) 6787P",
            2,
            86,
            2048,
            32,
            2,
            3200,
            6,
            12,
        ),
    )
}

DEFAULT_MODELS = ("R650", "R750", "R660", "R760", "M640")

# Dell component ids (DUP ComponentID / Redfish SoftwareId) of the components every server has.
BIOS_COMPONENT_ID = "159"
IDRAC_COMPONENT_ID = "25227"
LC_COMPONENT_ID = "28897"
CPLD_COMPONENT_ID = "27763"
NIC_COMPONENT_ID = "108255"
PSU_COMPONENT_ID = "108076"
RAID_COMPONENT_ID = "107649"


def redfish_version(idrac_generation: int, firmware: str) -> str:
    """Redfish protocol version each firmware line reports (iDRAC 9 6.00.30.00 → 1.13.1, as captured)."""
    major = int(firmware.split(".")[0])
    if idrac_generation == 8:
        return "1.4.0"
    if idrac_generation == 10:
        return "1.20.1"
    if major >= 7:
        return "1.17.0"
    if major >= 6:
        return "1.13.1"
    if major >= 5:
        return "1.11.0"
    return "1.6.0"


def firmware_at_least(firmware: str, minimum: str) -> bool:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))

    return key(firmware) >= key(minimum)
