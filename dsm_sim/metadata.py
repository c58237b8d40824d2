"""The service's $metadata document: which DMTF schemas (and versions) its payloads use.

Validators resolve every @odata.type through it, so it lists each namespace the simulator emits.
"""

from __future__ import annotations

from functools import lru_cache

_SCHEMAS = {
    "ServiceRoot": "v1_10_0",
    "AccountService": "v1_11_0",
    "SessionService": "v1_1_8",
    "Session": "v1_3_0",
    "SessionCollection": None,
    "TaskService": "v1_2_0",
    "Task": "v1_5_1",
    "TaskCollection": None,
    "JobService": "v1_0_4",
    "Job": "v1_0_5",
    "JobCollection": None,
    "ComputerSystem": "v1_16_0",
    "ComputerSystemCollection": None,
    "Bios": "v1_2_0",
    "AttributeRegistry": "v1_3_6",
    "BootOption": "v1_0_4",
    "BootOptionCollection": None,
    "VirtualMedia": "v1_4_0",
    "VirtualMediaCollection": None,
    "Storage": "v1_12_0",
    "StorageCollection": None,
    "Drive": "v1_13_0",
    "Manager": "v1_12_0",
    "ManagerCollection": None,
    "LogService": "v1_2_0",
    "LogServiceCollection": None,
    "LogEntry": "v1_9_0",
    "LogEntryCollection": None,
    "Chassis": "v1_16_0",
    "ChassisCollection": None,
    "Thermal": "v1_7_1",
    "Power": "v1_7_1",
    "ThermalSubsystem": "v1_0_0",
    "Fan": "v1_1_0",
    "FanCollection": None,
    "PowerSubsystem": "v1_0_0",
    "PowerSupply": "v1_1_0",
    "PowerSupplyCollection": None,
    "UpdateService": "v1_9_0",
    "SoftwareInventory": "v1_4_0",
    "SoftwareInventoryCollection": None,
    "Redundancy": "v1_4_0",
    "Settings": "v1_3_3",
    "Resource": "v1_14_0",
    "Message": "v1_1_2",
}
_DELL = (
    "DellOem",
    "DellSystem",
    "DellManager",
    "DellJob",
    "DellJobCollection",
    "DellJobService",
    "DellLCService",
    "DellSoftwareInstallationService",
    "DellSoftwareInventory",
    "DellServiceRoot",
    "DelliDRACCard",
    "DellPowerSupply",
    "DellPowerSupplyView",
    "DellOemPower",
    "DellChassis",
    "DellLCLogEntry",
)


@lru_cache(maxsize=1)
def metadata_document() -> str:
    refs = []
    for name, version in sorted(_SCHEMAS.items()):
        includes = f'<edmx:Include Namespace="{name}"/>'
        if version:
            includes += f'<edmx:Include Namespace="{name}.{version}"/>'
        refs.append(
            f'<edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/{name}_v1.xml">{includes}</edmx:Reference>'
        )
    for name in _DELL:
        refs.append(
            f'<edmx:Reference Uri="/redfish/v1/Schemas/{name}_v1.xml"><edmx:Include Namespace="{name}"/>'
            "</edmx:Reference>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" '
        'Version="4.0">'
        + "".join(refs)
        + '<edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">'
        '<EntityContainer Name="Service" Extends="ServiceRoot.v1_10_0.ServiceContainer"/></Schema>'
        "</edmx:DataServices></edmx:Edmx>"
    )
