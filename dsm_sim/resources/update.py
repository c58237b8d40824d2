"""UpdateService and FirmwareInventory (ids `Installed-<ComponentID>-<Version>__<FQDD>`, as iDRACs name them)."""

from __future__ import annotations

from typing import Any

from dsm_sim.resources.common import collection, counted, envelope, ref, status
from dsm_sim.state import Component, SimIdrac

INVENTORY = "/redfish/v1/UpdateService/FirmwareInventory"


def update_service(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope("/redfish/v1/UpdateService", "UpdateService.v1_9_0.UpdateService")
    body.update(
        {
            "Actions": {
                "#UpdateService.SimpleUpdate": {
                    "@Redfish.OperationApplyTimeSupport": {
                        "@odata.type": "#Settings.v1_3_3.OperationApplyTimeSupport",
                        "SupportedValues": ["Immediate", "OnReset"],
                    },
                    "TransferProtocol@Redfish.AllowableValues": ["HTTP", "NFS", "CIFS", "TFTP", "HTTPS"],
                    "target": "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
                },
            },
            "Description": "Represents the properties for the Update Service",
            "FirmwareInventory": ref(INVENTORY),
            "HttpPushUri": INVENTORY,
            "Id": "UpdateService",
            "MaxImageSizeBytes": None,
            "Name": "Update Service",
            "ServiceEnabled": True,
            "Status": status(),
        }
    )
    if idrac.generation >= 9:
        body["MultipartHttpPushUri"] = "/redfish/v1/UpdateService/MultipartUpload"
    return body


def inventory_entries(idrac: SimIdrac) -> list[tuple[str, Component, str, str]]:
    """(member id, component, version, prefix) for every member, as a real iDRAC lists them."""
    out = []
    for comp in idrac.components:
        out.append((comp.inventory_id("Installed"), comp, comp.version, "Installed"))
        if comp.previous and comp.updateable:
            out.append((comp.inventory_id("Previous", comp.previous), comp, comp.previous, "Previous"))
    return out


def firmware_inventory(idrac: SimIdrac) -> dict[str, Any]:
    return collection(
        INVENTORY,
        "SoftwareInventoryCollection",
        "Firmware Inventory Collection",
        "Collection of Firmware Inventory",
        [f"{INVENTORY}/{e[0]}" for e in inventory_entries(idrac)],
    )


def firmware_item(idrac: SimIdrac, member_id: str) -> dict[str, Any] | None:
    entry = next((e for e in inventory_entries(idrac) if e[0] == member_id), None)
    if entry is None:
        return None
    member, comp, version, prefix = entry
    parts = [p for p in version.replace("-", ".").split(".")]
    nums = [int(p) if p.isdigit() else 0 for p in parts] + [0, 0, 0]
    body = envelope(f"{INVENTORY}/{member}", "SoftwareInventory.v1_4_0.SoftwareInventory")
    dell_id = f"DCIM:{prefix.upper()}_0x23_{comp.fqdd}"
    body.update(
        {
            "Description": "Represents Firmware Inventory",
            "Id": member,
            "Name": comp.name,
            "Oem": {
                "Dell": {
                    "@odata.type": "#DellOem.v1_3_0.DellOemResources",
                    "DellSoftwareInventory": {
                        "@odata.context": "/redfish/v1/$metadata#DellSoftwareInventory.DellSoftwareInventory",
                        "@odata.id": f"{INVENTORY}/{member}/Oem/Dell/DellSoftwareInventory/{dell_id}",
                        "@odata.type": "#DellSoftwareInventory.v1_1_1.DellSoftwareInventory",
                        "BuildNumber": nums[3],
                        **counted("Classifications", ["Firmware"]),
                        "ComponentID": comp.component_id,
                        "ComponentType": comp.component_type,
                        "Description": "The DellSoftwareInventory resource is a "
                        "representation of an available device firmware in the managed system.",
                        "DeviceID": None,
                        "ElementName": comp.name,
                        "HashValue": None,
                        "Id": dell_id,
                        **counted("IdentityInfoType", ["OrgID:ComponentType:ComponentID"]),
                        **counted("IdentityInfoValue", [f"DCIM:firmware:{comp.component_id}"]),
                        "InstallationDate": idrac.last_reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "IsEntity": True,
                        "MajorVersion": nums[0],
                        "MinorVersion": nums[1],
                        "Name": "DellSoftwareInventory",
                        "RevisionNumber": nums[2],
                        "RevisionString": None,
                        "Status": prefix,
                        "SubDeviceID": None,
                        "SubVendorID": None,
                        "VendorID": None,
                        "impactsTPMmeasurements": False,
                    },
                }
            },
            "ReleaseDate": "2022-10-01T00:00:00Z",
            "SoftwareId": comp.component_id,
            "Status": status(),
            "Updateable": comp.updateable,
            "Version": version,
        }
    )
    return body
