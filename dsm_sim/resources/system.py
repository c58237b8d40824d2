"""Systems/System.Embedded.1 and what hangs under it: BIOS, boot options, virtual media, storage."""

from __future__ import annotations

from typing import Any

from dsm_sim.resources.common import CHASSIS, MANAGER, SYSTEM, collection, counted, envelope, ref, status
from dsm_sim.state import BIOS_ENUMS, BIOS_INTEGERS, BIOS_READ_ONLY, BOOT_OPTIONS, SimIdrac

RESET_TYPES = [
    "On",
    "ForceOff",
    "ForceRestart",
    "GracefulRestart",
    "GracefulShutdown",
    "PushPowerButton",
    "Nmi",
    "PowerCycle",
]
BOOT_TARGETS = ["None", "Pxe", "Floppy", "Cd", "Hdd", "BiosSetup", "Utilities", "UefiTarget", "SDCard", "UefiHttp"]


def systems(idrac: SimIdrac) -> dict[str, Any]:
    return collection(
        "/redfish/v1/Systems",
        "ComputerSystemCollection",
        "Computer System Collection",
        "Collection of Computer Systems",
        [SYSTEM],
    )


def _dell_system(idrac: SimIdrac) -> dict[str, Any]:
    hw, spec = idrac.hw, idrac.spec
    h = idrac.subsystem_health
    return {
        "BIOSReleaseDate": "09/14/2022",
        "BaseBoardChassisSlot": "NA" if hw.form_factor == "Monolithic" else "1",
        "BatteryRollupStatus": "OK",
        "BladeGeometry": "NotApplicable" if hw.form_factor == "Monolithic" else "SingleWidth",
        "CMCIP": None,
        "CPURollupStatus": "OK",
        "ChassisModel": None,
        "ChassisName": "Main System Chassis",
        "ChassisServiceTag": spec.service_tag,
        "ChassisSystemHeightUnit": 2,
        "CurrentRollupStatus": "OK",
        "EstimatedExhaustTemperatureCelsius": 255,
        "EstimatedSystemAirflowCFM": 255,
        "ExpressServiceCode": str(int(spec.service_tag, 36)),
        "FanRollupStatus": h("fan"),
        "Id": "System.Embedded.1",
        "IDSDMRollupStatus": None,
        "IntrusionRollupStatus": "OK",
        "IsOEMBranded": "False",
        "LastSystemInventoryTime": idrac.last_reset.isoformat(timespec="seconds"),
        "LastUpdateTime": idrac.clock.wall().isoformat(timespec="seconds"),
        "LicensingRollupStatus": "OK",
        "ManagedSystemSize": "2 U",
        "MaxCPUSockets": hw.cpu_count,
        "MaxDIMMSlots": hw.dimm_count * 2,
        "MaxPCIeSlots": 8,
        "MemoryOperationMode": "OptimizerMode",
        "Name": "DellSystem",
        "NodeID": spec.service_tag,
        "PSRollupStatus": h("psu"),
        "PlatformGUID": spec.system_uuid,
        "PopulatedDIMMSlots": hw.dimm_count,
        "PopulatedPCIeSlots": 3,
        "PowerCapEnabledState": "Disabled",
        "SDCardRollupStatus": None,
        "SELRollupStatus": "OK",
        "ServerAllocationWatts": None,
        "StorageRollupStatus": h("disk"),
        "SysMemErrorMethodology": "Multi-bitECC",
        "SysMemFailOverState": "NotInUse",
        "SysMemLocation": "SystemBoardOrMotherboard",
        "SysMemPrimaryStatus": h("dimm"),
        "SystemGeneration": hw.manager_model,
        "SystemID": hw.system_id,
        "SystemRevision": "I",
        "TempRollupStatus": h("temp"),
        "TempStatisticsRollupStatus": "OK",
        "UUID": spec.system_uuid,
        "VoltRollupStatus": "OK",
        "smbiosGUID": spec.system_uuid,
        "@odata.context": "/redfish/v1/$metadata#DellSystem.DellSystem",
        "@odata.type": "#DellSystem.v1_3_0.DellSystem",
        "@odata.id": f"{SYSTEM}/Oem/Dell/DellSystem/System.Embedded.1",
    }


def system(idrac: SimIdrac) -> dict[str, Any]:
    hw, spec = idrac.hw, idrac.spec
    body = envelope(SYSTEM, "ComputerSystem.v1_16_0.ComputerSystem")
    fans = [ref(f"{CHASSIS}/Thermal#/Fans/{i}") for i in range(hw.fan_count)] if idrac.has_legacy_thermal() else []
    psus = (
        [ref(f"{CHASSIS}/Power#/PowerSupplies/{i}") for i in range(hw.psu_count)] if idrac.has_legacy_thermal() else []
    )
    boot: dict[str, Any] = {
        "BootOptions": ref(f"{SYSTEM}/BootOptions"),
        **counted("BootOrder", list(idrac.boot_order)),
        "BootSourceOverrideEnabled": idrac.boot_override_enabled,
        "BootSourceOverrideMode": idrac.boot_override_mode,
        "BootSourceOverrideTarget": idrac.boot_override_target,
        "UefiTargetBootSourceOverride": idrac.uefi_target,
        "BootSourceOverrideTarget@Redfish.AllowableValues": BOOT_TARGETS,
    }
    body.update(
        {
            "Actions": {
                "#ComputerSystem.Reset": {
                    "target": f"{SYSTEM}/Actions/ComputerSystem.Reset",
                    "ResetType@Redfish.AllowableValues": RESET_TYPES,
                }
            },
            "AssetTag": "",
            "Bios": ref(f"{SYSTEM}/Bios"),
            "BiosVersion": idrac.bios_version,
            "Boot": boot,
            "Description": "Computer System which represents a machine (physical or virtual) and the local resources "
            "such as memory, cpu and other devices that can be accessed from that machine.",
            "HostName": f"esx-{spec.service_tag.lower()}" if idrac.host_state == "up" else "",
            "HostWatchdogTimer": {"FunctionEnabled": False, "Status": {"State": "Disabled"}, "TimeoutAction": "None"},
            **counted("HostingRoles", []),
            "Id": "System.Embedded.1",
            "IndicatorLED": "Lit",
            "LastResetTime": idrac.last_reset.isoformat(timespec="seconds"),
            **_boot_progress(idrac),
            "Links": {
                **counted("Chassis", [ref(CHASSIS)]),
                **counted("CooledBy", fans),
                **counted("ManagedBy", [ref(MANAGER)]),
                **counted("PoweredBy", psus),
                "Oem": {
                    "Dell": {
                        "@odata.type": "#DellOem.v1_3_0.DellOemLinks",
                        "DellSoftwareInstallationService": ref(f"{SYSTEM}/Oem/Dell/DellSoftwareInstallationService"),
                    }
                },
            },
            "Manufacturer": "Dell Inc.",
            "MemorySummary": {
                "MemoryMirroring": "System",
                "Status": status(idrac.subsystem_health("dimm"), rollup=True),
                "TotalSystemMemoryGiB": hw.memory_gib,
            },
            "Model": f"PowerEdge {hw.model}",
            "Name": "System",
            "Oem": {"Dell": {"@odata.type": "#DellOem.v1_3_0.DellOemResources", "DellSystem": _dell_system(idrac)}},
            "PartNumber": "0WMWCRA01",
            "PowerState": idrac.power_state,
            "ProcessorSummary": {
                "Count": hw.cpu_count,
                "CoreCount": hw.cpu_count * hw.cores_per_cpu,
                "LogicalProcessorCount": hw.cpu_count * hw.cores_per_cpu * 2,
                "Model": hw.cpu_model,
                "Status": status(rollup=True),
            },
            "SKU": spec.service_tag,
            "SerialNumber": spec.serial_number,
            "Status": status(idrac.rollup(), rollup=True),
            "Storage": ref(f"{SYSTEM}/Storage"),
            "SystemType": "Physical",
            **counted(
                "TrustedModules",
                [{"FirmwareVersion": "7.2.2.0", "InterfaceType": "TPM2_0", "Status": {"State": "Enabled"}}],
            ),
            "UUID": spec.system_uuid,
        }
    )
    if idrac.media_on_system():
        body["VirtualMedia"] = ref(f"{SYSTEM}/VirtualMedia")
        body["VirtualMediaConfig"] = {"ServiceEnabled": True}
    return body


def boot_options(idrac: SimIdrac) -> dict[str, Any]:
    body = collection(
        f"{SYSTEM}/BootOptions",
        "BootOptionCollection",
        "Boot Options Collection",
        "Collection of BootOptions",
        [f"{SYSTEM}/BootOptions/{b[0]}" for b in BOOT_OPTIONS],
    )
    return body


def boot_option(idrac: SimIdrac, option_id: str) -> dict[str, Any] | None:
    found = next((b for b in BOOT_OPTIONS if b[0] == option_id), None)
    if found is None:
        return None
    body = envelope(f"{SYSTEM}/BootOptions/{option_id}", "BootOption.v1_0_4.BootOption")
    body.update(
        {
            "BootOptionEnabled": True,
            "BootOptionReference": option_id,
            "Description": "Current settings of the UEFI Boot option",
            "DisplayName": found[1],
            "Id": option_id,
            "Name": "Uefi Boot Option",
            "UefiDevicePath": found[2],
        }
    )
    return body


def bios(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope(f"{SYSTEM}/Bios", "Bios.v1_2_0.Bios")
    installed = f"/redfish/v1/UpdateService/FirmwareInventory/Installed-159-{idrac.bios_version}__BIOS.Setup.1-1"
    body.update(
        {
            "Id": "Bios",
            "Name": "BIOS Configuration Current Settings",
            "Description": "BIOS Configuration Current Settings",
            "AttributeRegistry": "BiosAttributeRegistry.v1_0_3",
            "Attributes": dict(idrac.bios),
            "Actions": {
                "#Bios.ChangePassword": {"target": f"{SYSTEM}/Bios/Actions/Bios.ChangePassword"},
                "#Bios.ResetBios": {"target": f"{SYSTEM}/Bios/Actions/Bios.ResetBios"},
            },
            "@Redfish.Settings": {
                "@odata.context": "/redfish/v1/$metadata#Settings.Settings",
                "@odata.type": "#Settings.v1_3_3.Settings",
                "SettingsObject": ref(f"{SYSTEM}/Bios/Settings"),
                # iDRAC 8 has no SettingsApplyTime: the classic PATCH + configuration job is the way there.
                **({"SupportedApplyTimes": ["OnReset", "AtMaintenanceWindowStart", "InMaintenanceWindowOnReset"]}
                   if idrac.generation >= 9 else {}),
            },
            "Links": {**counted("SoftwareImages", [ref(installed)]), "ActiveSoftwareImage": ref(installed)},
        }
    )
    return body


def bios_settings(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope(f"{SYSTEM}/Bios/Settings", "Bios.v1_2_0.Bios")
    body.update(
        {
            "Id": "Settings",
            "Name": "BIOS Configuration Pending Settings",
            "Description": "BIOS Configuration Pending Settings. These settings will be applied on next system reboot.",
            "AttributeRegistry": "BiosAttributeRegistry.v1_0_3",
            "Attributes": dict(idrac.bios_pending),
            # The capture names this "DellManager.v1_0_0#DellManager.ClearPending", which DMTF's validator
            # rejects (an action key starts with "#"); same target, conformant key.
            "Actions": {
                "Oem": {
                    "#DellManager.ClearPending": {
                        "target": f"{SYSTEM}/Bios/Settings/Actions/Oem/DellManager.ClearPending"
                    }
                }
            },
            "Oem": {
                "Dell": {
                    "@odata.context": "/redfish/v1/$metadata#DellManager.DellManager",
                    "@odata.type": "#DellManager.v1_2_0.DellManager",
                    "Jobs": ref(f"{MANAGER}/Oem/Dell/Jobs"),
                }
            },
        }
    )
    return body


def bios_registry(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope(f"{SYSTEM}/Bios/BiosRegistry", "AttributeRegistry.v1_3_6.AttributeRegistry")
    entries = []
    for order, name in enumerate(sorted(idrac.bios)):
        entry: dict[str, Any] = {
            "AttributeName": name,
            "CurrentValue": None,
            "DisplayName": name,
            "DisplayOrder": 200 + order,
            "HelpText": f"{name}.",
            "Hidden": False,
            "Immutable": name in BIOS_READ_ONLY,
            "MenuPath": "./SysSettingsRef",
            "ReadOnly": name in BIOS_READ_ONLY,
            "ResetRequired": True,
            "WriteOnly": False,
        }
        if name in BIOS_ENUMS:
            entry["Type"] = "Enumeration"
            entry["Value"] = [{"ValueDisplayName": v, "ValueName": v} for v in BIOS_ENUMS[name]]
        elif name in BIOS_INTEGERS:
            entry.update(
                {
                    "Type": "Integer",
                    "LowerBound": BIOS_INTEGERS[name][0],
                    "UpperBound": BIOS_INTEGERS[name][1],
                    "ScalarIncrement": 1,
                }
            )
        else:
            entry.update({"Type": "String", "MaxLength": 64, "MinLength": 0, "ValueExpression": None})
        entries.append(entry)
    body.update(
        {
            "Description": "This registry defines a representation of BIOS Attribute instances",
            "Id": "BiosAttributeRegistry.v1_0_3",
            "Language": "en",
            "Name": "BIOS Attribute Registry",
            "OwningEntity": "Dell",
            "RegistryVersion": "1.0.3",
            "RegistryEntries": {"Attributes": entries, "Dependencies": [], "Menus": []},
            "SupportedSystems": [
                {
                    "FirmwareVersion": idrac.bios_version,
                    "ProductName": f"PowerEdge {idrac.hw.model}",
                    "SystemId": f"{idrac.hw.system_id:04X}",
                }
            ],
        }
    )
    return body


def _media_base(idrac: SimIdrac) -> str:
    return f"{SYSTEM}/VirtualMedia" if idrac.media_on_system() else f"{MANAGER}/VirtualMedia"


def virtual_media_collection(idrac: SimIdrac) -> dict[str, Any]:
    base = _media_base(idrac)
    description = "Collection of Virtual Media" if idrac.media_on_system() else "iDRAC Virtual Media Services Settings"
    name = "VirtualMedia Collection" if idrac.media_on_system() else "Virtual Media Services"
    return collection(base, "VirtualMediaCollection", name, description, [f"{base}/{s}" for s in idrac.media_slots()])


def virtual_media(
    idrac: SimIdrac, slot: str, *, base: str | None = None, state: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """One slot; ``base``/``state`` default to the iDRAC's own path and slot state."""
    state = state if state is not None else idrac.virtual_media.get(slot)
    if state is None:
        return None
    base = base or _media_base(idrac)
    body = envelope(f"{base}/{slot}", "VirtualMedia.v1_4_0.VirtualMedia")
    if slot in ("1", "2"):
        types, name, desc = ["CD", "DVD", "USBStick"], f"VirtualMedia Instance {slot}", "iDRAC Virtual Media Instance"
    elif slot == "CD":
        types, name, desc = ["CD", "DVD"], "Virtual CD", "iDRAC Virtual Media Services Settings"
    else:
        types, name, desc = ["USBStick"], "Virtual Removable Disk", "iDRAC Virtual Media Services Settings"
    body.update(
        {
            "Actions": {
                "#VirtualMedia.EjectMedia": {"target": f"{base}/{slot}/Actions/VirtualMedia.EjectMedia"},
                "#VirtualMedia.InsertMedia": {"target": f"{base}/{slot}/Actions/VirtualMedia.InsertMedia"},
            },
            "ConnectedVia": state["ConnectedVia"],
            "Description": desc,
            "Id": slot,
            "Image": state["Image"],
            "ImageName": state["ImageName"],
            "Inserted": state["Inserted"],
            **counted("MediaTypes", types),
            "Name": name,
            "Password": None,
            "TransferMethod": "Stream" if state["Inserted"] else None,
            "TransferProtocolType": state["TransferProtocolType"],
            "UserName": state["UserName"],
            "WriteProtected": state["WriteProtected"],
        }
    )
    return body


def storage_collection(idrac: SimIdrac) -> dict[str, Any]:
    return collection(
        f"{SYSTEM}/Storage",
        "StorageCollection",
        "Storage Collection",
        "Collection Of Storage entities",
        [f"{SYSTEM}/Storage/RAID.Integrated.1-1"],
    )


def storage(idrac: SimIdrac) -> dict[str, Any]:
    path = f"{SYSTEM}/Storage/RAID.Integrated.1-1"
    body = envelope(path, "Storage.v1_12_0.Storage")
    drives = [
        f"{path}/Drives/Disk.Bay.{i}:Enclosure.Internal.0-1:RAID.Integrated.1-1" for i in range(idrac.hw.disk_count)
    ]
    health = idrac.subsystem_health("disk")
    body.update(
        {
            "Description": "PERC H755 Front",
            "Id": "RAID.Integrated.1-1",
            "Name": "PERC H755 Front",
            **counted("Drives", [ref(d) for d in drives]),
            "Status": status(health, rollup=True),
            "StorageControllers": [
                {
                    "@odata.id": f"{path}#/StorageControllers/0",
                    "FirmwareVersion": "52.16.1-4405",
                    "Manufacturer": "DELL",
                    "MemberId": "0",
                    "Model": "PERC H755 Front",
                    "Name": "PERC H755 Front",
                    "Status": status(),
                }
            ],
            "StorageControllers@odata.count": 1,
        }
    )
    return body


def drive(idrac: SimIdrac, bay: int) -> dict[str, Any] | None:
    if not 0 <= bay < idrac.hw.disk_count:
        return None
    fqdd = f"Disk.Bay.{bay}:Enclosure.Internal.0-1:RAID.Integrated.1-1"
    body = envelope(f"{SYSTEM}/Storage/RAID.Integrated.1-1/Drives/{fqdd}", "Drive.v1_13_0.Drive")
    failed = bay == 1 and "disk" in idrac.health_faults
    body.update(
        {
            "BlockSizeBytes": 512,
            "CapacityBytes": 959656755200,
            "Description": "Disk",
            "Id": fqdd,
            "Manufacturer": "SAMSUNG",
            "MediaType": "SSD",
            "Model": "MZ7LH960HBJR0D3",
            "Name": f"Solid State Disk 0:1:{bay}",
            "Protocol": "SATA",
            "Revision": "HG58",
            "SerialNumber": f"S4{idrac.spec.service_tag}{bay:02d}",
            "Status": status("Critical" if failed else "OK"),
        }
    )
    return body


def software_installation_service(idrac: SimIdrac) -> dict[str, Any]:
    path = f"{SYSTEM}/Oem/Dell/DellSoftwareInstallationService"
    body = envelope(path, "DellSoftwareInstallationService.v1_1_2.DellSoftwareInstallationService")
    share_types = ["NFS", "CIFS", "HTTP", "HTTPS", "FTP", "TFTP"]
    body.update(
        {
            "Actions": {
                "#DellSoftwareInstallationService.GetRepoBasedUpdateList": {
                    "target": f"{path}/Actions/DellSoftwareInstallationService.GetRepoBasedUpdateList"
                },
                "#DellSoftwareInstallationService.InstallFromRepository": {
                    "ApplyUpdate@Redfish.AllowableValues": ["True", "False"],
                    "IgnoreCertWarning@Redfish.AllowableValues": ["On", "Off"],
                    "ShareType@Redfish.AllowableValues": share_types,
                    "target": f"{path}/Actions/DellSoftwareInstallationService.InstallFromRepository",
                },
            },
            "Description": "The DellSoftwareInstallationService resource provides some actions to support software "
            "installation functionality.",
            "Id": "DellSoftwareInstallationService",
            "Name": "DellSoftwareInstallationService",
        }
    )
    return body


_BOOT_STATES = {"down": "None", "shutting_down": "OSRunning", "posting": "SystemHardwareInitializationComplete",
                "booting": "OSBootStarted", "up": "OSRunning"}


def _boot_progress(idrac: Any) -> dict[str, Any]:
    """BootProgress (ComputerSystem v1.13): iDRAC 10 only here — the iDRAC 9 6.00 capture has LastResetTime
    but no BootProgress, and DSM must not count on what a real iDRAC 9 does not send."""
    if idrac.generation < 10:
        return {}
    return {"BootProgress": {"LastState": _BOOT_STATES.get(idrac.host_state, "None")}}
