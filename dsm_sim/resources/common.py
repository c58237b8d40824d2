"""OData envelope helpers and the Dell error body shape."""

from __future__ import annotations

from typing import Any

SYSTEM = "/redfish/v1/Systems/System.Embedded.1"
MANAGER = "/redfish/v1/Managers/iDRAC.Embedded.1"
CHASSIS = "/redfish/v1/Chassis/System.Embedded.1"


def envelope(path: str, odata_type: str, context: str | None = None) -> dict[str, Any]:
    """``odata_type`` like "ComputerSystem.v1_16_0.ComputerSystem"; the context names the entity set."""
    ctx = context or odata_type.split(".")[0] + "." + odata_type.split(".")[-1]
    return {"@odata.context": f"/redfish/v1/$metadata#{ctx}", "@odata.id": path, "@odata.type": f"#{odata_type}"}


def ref(path: str) -> dict[str, str]:
    return {"@odata.id": path}


def collection(path: str, type_name: str, name: str, description: str, members: list[str]) -> dict[str, Any]:
    body = envelope(path, f"{type_name}.{type_name}", f"{type_name}.{type_name}")
    body.update(
        {
            "Description": description,
            "Members": [ref(m) for m in members],
            "Members@odata.count": len(members),
            "Name": name,
        }
    )
    return body


def status(health: str = "OK", state: str = "Enabled", rollup: bool = False) -> dict[str, str]:
    out = {"Health": health, "State": state}
    if rollup:
        out["HealthRollup"] = health
    return out


def counted(key: str, items: list[Any]) -> dict[str, Any]:
    return {key: items, f"{key}@odata.count": len(items)}


def error(
    message_id: str,
    message: str,
    resolution: str = "No response action is required.",
    severity: str = "Warning",
    args: list[str] | None = None,
) -> dict[str, Any]:
    """The error body iDRACs send: a Base GeneralError wrapping Dell's own MessageId (IDRAC.2.8.xxx)."""
    full_id = message_id if "." in message_id else f"IDRAC.2.8.{message_id}"
    return {
        "error": {
            "@Message.ExtendedInfo": [
                {
                    "Message": message,
                    "MessageArgs": args or [],
                    "MessageArgs@odata.count": len(args or []),
                    "MessageId": full_id,
                    "RelatedProperties": [],
                    "RelatedProperties@odata.count": 0,
                    "Resolution": resolution,
                    "Severity": severity,
                }
            ],
            "code": "Base.1.12.GeneralError",
            "message": "A general error has occurred. See ExtendedInfo for more information",
        }
    }
