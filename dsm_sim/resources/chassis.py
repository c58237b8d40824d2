"""Chassis/System.Embedded.1: identity, and sensors consistent with the server's health faults."""

from __future__ import annotations

from typing import Any

from dsm_sim.resources.common import CHASSIS, MANAGER, SYSTEM, collection, counted, envelope, ref, status
from dsm_sim.state import SimIdrac


def chassis_collection(idrac: SimIdrac) -> dict[str, Any]:
    return collection(
        "/redfish/v1/Chassis", "ChassisCollection", "Chassis Collection", "Collection of Chassis", [CHASSIS]
    )


def chassis(idrac: SimIdrac) -> dict[str, Any]:
    hw, spec = idrac.hw, idrac.spec
    body = envelope(CHASSIS, "Chassis.v1_16_0.Chassis")
    fans = [ref(f"{CHASSIS}/Thermal#/Fans/{i}") for i in range(hw.fan_count)] if idrac.has_legacy_thermal() else []
    psus = (
        [ref(f"{CHASSIS}/Power#/PowerSupplies/{i}") for i in range(hw.psu_count)] if idrac.has_legacy_thermal() else []
    )
    body.update(
        {
            "Actions": {
                "#Chassis.Reset": {
                    "ResetType@Redfish.AllowableValues": ["On", "ForceOff"],
                    "target": f"{CHASSIS}/Actions/Chassis.Reset",
                }
            },
            "AssetTag": None,
            "ChassisType": "RackMount" if hw.form_factor == "Monolithic" else "Blade",
            "Description": "It represents the properties for physical components for any system.It represent racks, "
            "rackmount servers, blades, standalone, modular systems,enclosures, and all other "
            "containers.The non-cpu/device centric parts of the schema are all accessed either directly "
            "or indirectly through this resource.",
            "EnvironmentalClass": "A2",
            "Id": "System.Embedded.1",
            "IndicatorLED": "Lit",
            "Links": {
                **counted("ComputerSystems", [ref(SYSTEM)]),
                **counted("CooledBy", fans),
                **counted("ManagedBy", [ref(MANAGER)]),
                **counted("ManagersInChassis", [ref(MANAGER)]),
                **counted("PoweredBy", psus),
            },
            "Location": {
                "Info": ";;;;1",
                "InfoFormat": "DataCenter;RoomName;Aisle;RackName;RackSlot",
                "Placement": {"Rack": "", "Row": ""},
                "PostalAddress": {"Building": "", "Room": ""},
            },
            "Manufacturer": "Dell Inc.",
            "Model": f"PowerEdge {hw.model}",
            "Name": "Computer System Chassis",
            "Oem": {
                "Dell": {
                    "@odata.type": "#DellOem.v1_3_0.DellOemResources",
                    "DellChassis": {
                        "@odata.context": "/redfish/v1/$metadata#DellChassis.DellChassis",
                        "@odata.id": f"{CHASSIS}/Oem/Dell/DellChassis/mainsystemchassis",
                        "@odata.type": "#DellChassis.v1_0_0.DellChassis",
                        "CanBeFRUed": True,
                        "Description": "This resource shall provide information about the enclosure or chassis "
                        "the system is in.",
                        "Id": "mainsystemchassis",
                        "Links": {"ComputerSystem": ref(SYSTEM)},
                        "Name": "DellChassis",
                        "SystemID": hw.system_id,
                    },
                }
            },
            "PartNumber": "0WMWCRA01",
            "PhysicalSecurity": {
                "IntrusionSensor": "Normal",
                "IntrusionSensorNumber": 115,
                "IntrusionSensorReArm": "Manual",
            },
            "PowerState": idrac.power_state,
            "SKU": spec.service_tag,
            "SerialNumber": spec.serial_number.replace("CN", "CNIVC", 1)[:14],
            "Status": status(idrac.rollup(), rollup=True),
            "UUID": spec.system_uuid,
        }
    )
    if idrac.has_legacy_thermal():
        body["Thermal"] = ref(f"{CHASSIS}/Thermal")
        body["Power"] = ref(f"{CHASSIS}/Power")
    if idrac.has_subsystems():
        body["ThermalSubsystem"] = ref(f"{CHASSIS}/ThermalSubsystem")
        body["PowerSubsystem"] = ref(f"{CHASSIS}/PowerSubsystem")
        if idrac.has_legacy_thermal():
            body["Thermal@Redfish.Deprecated"] = f"Please migrate to use {CHASSIS}/ThermalSubsystem"
            body["Power@Redfish.Deprecated"] = f"Please migrate to use {CHASSIS}/PowerSubsystem"
    return body


def _fan_rpm(idrac: SimIdrac, i: int) -> tuple[int, str]:
    """Fan 3 (index 2) has stopped when the server has a fan fault."""
    if "fan" in idrac.health_faults and i == 2:
        return 0, "Critical"
    on = idrac.power_state == "On"
    return (18600 - 240 * i if on else 0), "OK"


def _inlet(idrac: SimIdrac) -> float:
    return 47.0 if "temp" in idrac.health_faults else 22.0


def thermal(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope(f"{CHASSIS}/Thermal", "Thermal.v1_7_1.Thermal")
    fans = []
    for i in range(idrac.hw.fan_count):
        rpm, health = _fan_rpm(idrac, i)
        name = f"System Board Fan{i + 1}A"
        fans.append(
            {
                "@odata.id": f"{CHASSIS}/Thermal#/Fans/{i}",
                "@odata.type": "#Thermal.v1_7_1.Fan",
                "FanName": name,
                "HotPluggable": True,
                "LowerThresholdCritical": 480,
                "LowerThresholdFatal": None,
                "LowerThresholdNonCritical": 840,
                "MaxReadingRange": None,
                "MemberId": str(i),
                "MinReadingRange": None,
                "Name": name,
                "PhysicalContext": "SystemBoard",
                "Reading": rpm,
                "ReadingUnits": "RPM",
                **counted("Redundancy", []),
                **counted("RelatedItem", [ref(CHASSIS)]),
                "SensorNumber": 56 + i,
                "Status": status(health),
                "UpperThresholdCritical": None,
                "UpperThresholdFatal": None,
                "UpperThresholdNonCritical": None,
            }
        )
    temps = []
    readings = [
        ("System Board Inlet Temp", "Intake", _inlet(idrac), 42, "temp"),
        ("System Board Exhaust Temp", "Exhaust", _inlet(idrac) + 15, 80, None),
        ("CPU1 Temp", "CPU", 37.0, 99, None),
        ("CPU2 Temp", "CPU", 39.0, 99, None),
    ]
    for i, (name, ctx, value, upper, fault) in enumerate(readings):
        health = "Critical" if fault and fault in idrac.health_faults else "OK"
        temps.append(
            {
                "@odata.context": "/redfish/v1/$metadata#Thermal.Thermal",
                "@odata.id": f"{CHASSIS}/Thermal#/Temperatures/{i}",
                "@odata.type": "#Thermal.v1_7_1.Temperature",
                "LowerThresholdCritical": 3,
                "LowerThresholdFatal": None,
                "LowerThresholdNonCritical": None,
                "MaxReadingRangeTemp": None,
                "MemberId": str(i),
                "MinReadingRangeTemp": None,
                "Name": name,
                "PhysicalContext": ctx,
                "ReadingCelsius": value,
                **counted("RelatedItem", [ref(CHASSIS)]),
                "SensorNumber": i + 1,
                "Status": status(health),
                "UpperThresholdCritical": upper,
                "UpperThresholdFatal": None,
                "UpperThresholdNonCritical": None,
            }
        )
    redundancy = [
        {
            "@odata.id": f"{CHASSIS}/Thermal#/Redundancy/0",
            "@odata.type": "#Redundancy.v1_4_0.Redundancy",
            "MaxNumSupported": None,
            "MemberId": "0",
            "MinNumNeeded": None,
            "Mode": "N+m",
            "Name": "System Board Fan Redundancy",
            "RedundancyEnabled": True,
            **counted("RedundancySet", []),
            "Status": status("Warning" if "fan" in idrac.health_faults else "OK"),
        }
    ]
    body.update(
        {
            "Description": "Represents the properties for Temperature and Cooling",
            **counted("Fans", fans),
            "Id": "Thermal",
            "Name": "Thermal",
            **counted("Redundancy", redundancy),
            **counted("Temperatures", temps),
        }
    )
    return body


def _psu_failed(idrac: SimIdrac, i: int) -> bool:
    """PSU 2 (index 1) is lost when the server has a PSU fault."""
    return "psu" in idrac.health_faults and i == idrac.hw.psu_count - 1


def _psu_view(idrac: SimIdrac, i: int, failed: bool) -> dict[str, Any]:
    return {
        "DetailedState": "Failure Detected" if failed else "Presence Detected",
        "DeviceDescription": f"Power Supply {i + 1}",
        "Id": f"PSU.Slot.{i + 1}",
        "LastSystemInventoryTime": idrac.last_reset.isoformat(timespec="seconds"),
        "LastUpdateTime": idrac.clock.wall().isoformat(timespec="seconds"),
        "Name": "DellPowerSupplyView",
        "PMBusMonitoring": "Capable",
        "Range1MaxInputPowerWatts": int(idrac.hw.psu_watts * 1.1),
        "RedMinNumberNeeded": 1,
        **counted("RedTypeOfSet", ["N+1", "Sparing"]),
        "RedundancyStatus": "Lost" if failed else "Full",
    }


def power(idrac: SimIdrac) -> dict[str, Any]:
    hw = idrac.hw
    body = envelope(f"{CHASSIS}/Power", "Power.v1_7_1.Power")
    on = idrac.power_state == "On"
    consumed = 614 if on else 12
    supplies, volts = [], []
    for i in range(hw.psu_count):
        failed = _psu_failed(idrac, i)
        slot = f"PSU.Slot.{i + 1}"
        supplies.append(
            {
                "@odata.context": "/redfish/v1/$metadata#Power.Power",
                "@odata.type": "#Power.v1_7_1.PowerSupply",
                "@odata.id": f"{CHASSIS}/Power#/PowerSupplies/{i}",
                "Name": f"PS{i + 1} Status",
                "MemberId": str(i),
                "FirmwareVersion": "00.2A.2B",
                "InputRanges": [
                    {
                        "InputType": "AC",
                        "MaximumFrequencyHz": 63,
                        "MaximumVoltage": 264,
                        "MinimumFrequencyHz": 47,
                        "MinimumVoltage": 180,
                        "OutputWattage": hw.psu_watts,
                    }
                ],
                "EfficiencyPercent": 91.0,
                "HotPluggable": True,
                "PowerOutputWatts": 0.0 if failed else consumed / hw.psu_count,
                "PowerInputWatts": 0.0 if failed else consumed / hw.psu_count * 1.1,
                "LastPowerOutputWatts": 0.0 if failed else consumed / hw.psu_count,
                "LineInputVoltage": 0 if failed else 240,
                "LineInputVoltageType": "AC240V",
                "Manufacturer": "DELL",
                "Model": f"PWR SPLY,{hw.psu_watts}W,RDNT,ARTESYN",
                "PartNumber": "07GN3CA02",
                "PowerCapacityWatts": hw.psu_watts,
                "PowerSupplyType": "AC",
                "SerialNumber": f"PH{idrac.spec.service_tag}{i}",
                "SparePartNumber": "07GN3CA02",
                **counted("Redundancy", []),
                "RelatedItem": [ref(CHASSIS)],
                "Status": status("Critical" if failed else "OK"),
                "Oem": {
                    "Dell": {
                        "@odata.type": "#DellOem.v1_3_0.DellOemResources",
                        "DellPowerSupply": {
                            "@odata.context": "/redfish/v1/$metadata#DellPowerSupply.DellPowerSupply",
                            "@odata.type": "#DellPowerSupply.v1_1_0.DellPowerSupply",
                            "@odata.id": f"{CHASSIS}/Power/Oem/Dell/DellPowerSupply/{slot}",
                            "Id": slot,
                            "Name": "DellPowerSupply",
                            "IsSwitchingSupply": True,
                            "ActiveInputVoltage": "Unknown",
                            "RequestedState": "NotApplicable",
                            "Links": {},
                            **counted("OperationalStatus", ["Error" if failed else "OK"]),
                        },
                        "DellPowerSupplyView": {
                            "@odata.context": "/redfish/v1/$metadata#DellPowerSupplyView.DellPowerSupplyView",
                            "@odata.type": "#DellPowerSupplyView.v1_3_0.DellPowerSupplyView",
                            "@odata.id": f"{CHASSIS}/Power/Oem/Dell/DellPowerSupplyInventory/{slot}",
                            **_psu_view(idrac, i, failed),
                        },
                    }
                },
            }
        )
        volts.append(
            {
                "@odata.context": "/redfish/v1/$metadata#Power.Power",
                "@odata.type": "#Power.v1_7_1.Voltage",
                "@odata.id": f"{CHASSIS}/Power#/Voltages/{i}",
                "Name": f"PS{i + 1} Voltage 1",
                "MemberId": str(i),
                "LowerThresholdCritical": None,
                "LowerThresholdFatal": None,
                "LowerThresholdNonCritical": None,
                "PhysicalContext": "PowerSupply",
                "ReadingVolts": 0.0 if failed else 240.0,
                "SensorNumber": 109 + i,
                "RelatedItem": [ref(f"{CHASSIS}/Power#/PowerSupplies/{i}")],
                "Status": status("Critical" if failed else "OK"),
                "UpperThresholdCritical": None,
                "UpperThresholdFatal": None,
                "UpperThresholdNonCritical": None,
            }
        )
    control = [
        {
            "@odata.context": "/redfish/v1/$metadata#Power.Power",
            "@odata.type": "#Power.v1_7_1.PowerControl",
            "@odata.id": f"{CHASSIS}/Power#/PowerControl/0",
            "Name": "System Power Control",
            "MemberId": "0",
            "PowerAllocatedWatts": hw.psu_watts * 2,
            "PowerAvailableWatts": 0,
            "PowerCapacityWatts": float(hw.psu_watts * max(hw.psu_count, 1)),
            "PowerConsumedWatts": consumed,
            "PowerLimit": {"CorrectionInMs": 0, "LimitException": "HardPowerOff", "LimitInWatts": 1205},
            "PowerMetrics": {
                "AverageConsumedWatts": consumed - 2,
                "IntervalInMin": 1,
                "MaxConsumedWatts": consumed + 2,
                "MinConsumedWatts": consumed - 4,
            },
            "PowerRequestedWatts": 2517.8,
            "RelatedItem": [ref(CHASSIS)],
        }
    ]
    body.update(
        {
            "Name": "Power",
            "Id": "Power",
            "Description": "Power",
            **counted("PowerControl", control),
            **counted("PowerSupplies", supplies),
            **counted("Redundancy", []),
            **counted("Voltages", volts),
        }
    )
    return body


def thermal_subsystem(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope(f"{CHASSIS}/ThermalSubsystem", "ThermalSubsystem.v1_0_0.ThermalSubsystem")
    health = idrac.subsystem_health("fan")
    body.update(
        {
            "Description": "Represents the properties of a Thermal Subsystem of the Chassis",
            "Name": "Thermal Subsystem for Chassis",
            "FanRedundancy": [
                {
                    "RedundancyType": "NPlusM",
                    "MaxSupportedInGroup": None,
                    "MinNeededInGroup": None,
                    **counted("RedundancyGroup", []),
                    "Status": {"State": "Enabled", "Health": health},
                }
            ],
            "Fans": ref(f"{CHASSIS}/ThermalSubsystem/Fans"),
            "Status": {"State": "Enabled", "Health": health},
            "Id": "ThermalSubsystem",
        }
    )
    return body


def fans(idrac: SimIdrac) -> dict[str, Any]:
    base = f"{CHASSIS}/ThermalSubsystem/Fans"
    return collection(
        base,
        "FanCollection",
        "Fan Collection",
        "Collection of Fans",
        [f"{base}/Fan.Embedded.{i + 1}A" for i in range(idrac.hw.fan_count)],
    )


def fan(idrac: SimIdrac, fan_id: str) -> dict[str, Any] | None:
    ids = [f"Fan.Embedded.{i + 1}A" for i in range(idrac.hw.fan_count)]
    if fan_id not in ids:
        return None
    i = ids.index(fan_id)
    rpm, health = _fan_rpm(idrac, i)
    body = envelope(f"{CHASSIS}/ThermalSubsystem/Fans/{fan_id}", "Fan.v1_1_0.Fan")
    body.update(
        {
            "Id": fan_id,
            "Name": f"Fan {i + 1}A",
            "Description": "Represents fan properties of the chassis",
            "Status": status(health),
            "PhysicalContext": "SystemBoard",
            "HotPluggable": True,
            "SpeedPercent": {"SpeedRPM": rpm},
            "Location": {"PartLocation": {"ServiceLabel": f"System Board Fan{i + 1}A", "LocationType": "Bay"}},
        }
    )
    return body


def power_subsystem(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope(f"{CHASSIS}/PowerSubsystem", "PowerSubsystem.v1_0_0.PowerSubsystem")
    health = idrac.subsystem_health("psu")
    body.update(
        {
            "Description": "Represents the properties of a Power Subsystem of the Chassis",
            "Name": "Power Subsystem for Chassis",
            "PowerSupplies": ref(f"{CHASSIS}/PowerSubsystem/PowerSupplies"),
            "PowerSupplyRedundancy": [],
            "Status": {"State": "Enabled", "Health": health},
            "CapacityWatts": float(idrac.hw.psu_watts * max(idrac.hw.psu_count, 1)),
            "Allocation": {"RequestedWatts": 2517.8, "AllocatedWatts": idrac.hw.psu_watts * 2},
            "Id": "PowerSubsystem",
        }
    )
    return body


def power_supplies(idrac: SimIdrac) -> dict[str, Any]:
    base = f"{CHASSIS}/PowerSubsystem/PowerSupplies"
    return collection(
        base,
        "PowerSupplyCollection",
        "Power Supply Collection",
        "Collection of Power Supplies",
        [f"{base}/PSU.Slot.{i + 1}" for i in range(idrac.hw.psu_count)],
    )


def power_supply(idrac: SimIdrac, psu_id: str) -> dict[str, Any] | None:
    ids = [f"PSU.Slot.{i + 1}" for i in range(idrac.hw.psu_count)]
    if psu_id not in ids:
        return None
    i = ids.index(psu_id)
    failed = _psu_failed(idrac, i)
    body = envelope(f"{CHASSIS}/PowerSubsystem/PowerSupplies/{psu_id}", "PowerSupply.v1_1_0.PowerSupply")
    body.update(
        {
            "Description": "An instance of PowerSupply",
            "FirmwareVersion": "00.2A.2B",
            "HotPluggable": True,
            "Id": psu_id,
            "InputNominalVoltageType": "AC240V",
            "Manufacturer": "DELL",
            "Model": f"PWR SPLY,{idrac.hw.psu_watts}W,RDNT,ARTESYN",
            "Name": f"PS{i + 1} Status",
            "PartNumber": "07GN3CA02",
            "PowerCapacityWatts": idrac.hw.psu_watts,
            "PowerSupplyType": "AC",
            "SerialNumber": f"PH{idrac.spec.service_tag}{i}",
            "SparePartNumber": "07GN3CA02",
            "Status": status("Critical" if failed else "OK"),
            "Oem": {
                "Dell": {
                    "@odata.type": "#DellOemPower.v1_0_0.DellOemPower",
                    "DellPowerSupply": {
                        "ActiveInputVoltage": "Unknown",
                        "IsSwitchingSupply": True,
                        **counted("OperationalStatus", ["Error" if failed else "OK"]),
                        "RequestedState": "NotApplicable",
                    },
                    "DellPowerSupplyView": {
                        k: v for k, v in _psu_view(idrac, i, failed).items() if k not in ("Id", "Name")
                    },
                }
            },
        }
    )
    return body
