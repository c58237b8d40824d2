"""The packages of the firmware tests' repository (served by dsm_sim.repository.serve_repo on loopback)."""

from __future__ import annotations

from dsm_sim.repository import Pkg

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
