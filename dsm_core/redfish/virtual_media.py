"""Virtual media: list the slots, insert an image, eject (REDFISH.md §2.9).

Before iDRAC 9 6.00.02 the slots live under the Manager (``CD``, ``RemovableDisk``); from then on under the
System (``1``, ``2``) and the Manager path fails with RAC0904. The path comes from the capability detected at
refresh (the System links VirtualMedia or it does not), never from a version string; the insert and eject
targets come from each slot's own Actions, resolved on the iDRAC's origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dsm_core.redfish.client import IdracClient, RedfishError
from dsm_core.redfish.dell import get_collection
from dsm_core.redfish.models import dig, members

MAX_SLOTS = 16
ALREADY_ATTACHED = ("VRM0021", "VRM0012")


@dataclass(frozen=True)
class MediaSlot:
    slot_id: str
    uri: str
    media_types: list[str]
    inserted: bool
    image: str | None
    image_name: str | None
    connected_via: str | None
    write_protected: bool | None
    insert_target: str
    eject_target: str

    def as_dict(self) -> dict[str, Any]:
        return {"slot": self.slot_id, "uri": self.uri, "media_types": self.media_types, "inserted": self.inserted,
                "image": self.image, "image_name": self.image_name, "connected_via": self.connected_via}

    def takes(self, media_type: str) -> bool:
        wanted = {"CD": {"CD", "DVD"}, "DVD": {"CD", "DVD"}}.get(media_type, {media_type})
        return bool(wanted & set(self.media_types)) or (not self.media_types and media_type in ("CD", "DVD"))


class MediaRefused(Exception):
    """The iDRAC would not insert or eject: its message and MessageId (VRM0021, RAC0904…)."""

    def __init__(self, message: str, message_id: str | None) -> None:
        super().__init__(message)
        self.message, self.message_id = message, message_id

    @property
    def already_attached(self) -> bool:
        return bool(self.message_id) and any(m in (self.message_id or "") for m in ALREADY_ATTACHED)


def _text(value: Any, limit: int = 2048) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def parse_slot(client: IdracClient, data: dict[str, Any]) -> MediaSlot | None:
    uri = data.get("@odata.id")
    slot_id = data.get("Id")
    if not isinstance(uri, str) or not isinstance(slot_id, str):
        return None
    uri = client.resolve(uri)
    insert = dig(data, "Actions", "#VirtualMedia.InsertMedia", "target")
    eject = dig(data, "Actions", "#VirtualMedia.EjectMedia", "target")
    found = data.get("MediaTypes")
    types: list[Any] = found if isinstance(found, list) else []
    wp = data.get("WriteProtected")
    return MediaSlot(
        slot_id[:32], uri, [str(t)[:32] for t in types[:8]], data.get("Inserted") is True,
        _text(data.get("Image")), _text(data.get("ImageName"), 255), _text(data.get("ConnectedVia"), 32),
        wp if isinstance(wp, bool) else None,
        client.resolve(insert) if isinstance(insert, str) else f"{uri}/Actions/VirtualMedia.InsertMedia",
        client.resolve(eject) if isinstance(eject, str) else f"{uri}/Actions/VirtualMedia.EjectMedia",
    )


async def read_slots(client: IdracClient, collection: str, expand: bool = True) -> list[MediaSlot]:
    data = await get_collection(client, collection, expand)
    out = []
    for member in members(data)[:MAX_SLOTS]:
        if "Id" not in member and isinstance(member.get("@odata.id"), str):
            member = await client.get(client.resolve(member["@odata.id"]))
        slot = parse_slot(client, member)
        if slot is not None:
            out.append(slot)
    return out


def image_protocol(image: str) -> str:
    """HTTP, HTTPS, NFS or CIFS, from how the image is written (REDFISH.md §2.9 payload forms)."""
    if image.startswith("//"):
        return "CIFS"
    scheme = urlsplit(image).scheme.upper()
    if scheme in ("HTTP", "HTTPS", "NFS", "CIFS"):
        return scheme
    if scheme == "SMB":
        return "CIFS"
    return "NFS"  # host:/export/path.iso


def insert_body(image: str, username: str | None, password: str | None, write_protected: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"Image": image, "Inserted": True, "WriteProtected": write_protected}
    if username:
        body["UserName"] = username
    if password:
        body["Password"] = password
    return body


async def _action(client: IdracClient, target: str, body: dict[str, Any]) -> None:
    try:
        await client.post(target, body)
    except RedfishError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            raise MediaRefused(exc.message, exc.message_id) from None
        raise


async def insert(client: IdracClient, slot: MediaSlot, image: str, username: str | None, password: str | None,
                 write_protected: bool = True) -> None:
    await _action(client, slot.insert_target, insert_body(image, username, password, write_protected))


async def eject(client: IdracClient, slot: MediaSlot) -> None:
    await _action(client, slot.eject_target, {})
