"""Virtual media workflows: test the share → insert (eject and retry once on VRM0021/VRM0012) → boot once
from the virtual CD → reboot → record; and eject → record. The slot collection is the capability detected at
refresh (Systems path on iDRAC 9 ≥ 6.00.02 and iDRAC 10, Managers path before)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlmodel import col, select

from dsm_core.credentials.secret import Secret
from dsm_core.db.engine import session_scope
from dsm_core.jobtypes import MediaMountDetails, MediaUnmountDetails
from dsm_core.models import VirtualMediaSession
from dsm_core.redfish import boot as boot_api
from dsm_core.redfish import virtual_media as vm
from dsm_core.redfish.update import UpdateRefused
from dsm_core.timeutil import utcnow
from dsm_worker.workflows.common import caps, client, restart_host
from dsm_worker.workflows.engine import Step, StepContext, StepFailed, Workflow

SHARE_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
SHARE_PORTS = {"NFS": 2049, "CIFS": 445}


def _mount(ctx: StepContext) -> MediaMountDetails:
    found: MediaMountDetails = ctx.shared["details"]
    return found


def share_host(image: str) -> tuple[str, int | None]:
    """(host, port) of the share an image lives on, whatever way it is written."""
    protocol = vm.image_protocol(image)
    if image.startswith("//"):
        return image[2:].split("/", 1)[0], SHARE_PORTS["CIFS"]
    if "://" in image:
        parts = urlsplit(image)
        return parts.hostname or "", parts.port or {"HTTP": 80, "HTTPS": 443}.get(protocol, SHARE_PORTS.get(protocol))
    return image.split(":", 1)[0], SHARE_PORTS["NFS"]


async def check_share(image: str) -> str:
    """Reachability and, over HTTP(S), the image's existence: what the worker can see before the iDRAC tries.
    No redirect is followed and no credential is sent (a share that wants them answers 401: reachable)."""
    protocol = vm.image_protocol(image)
    host, port = share_host(image)
    if not host:
        raise StepFailed(f"the image {image[:200]!r} names no share host")
    if protocol in ("HTTP", "HTTPS"):
        try:
            async with httpx.AsyncClient(timeout=SHARE_TIMEOUT, trust_env=False, follow_redirects=False,
                                         verify=False) as http:
                response = await http.head(image)
                if response.status_code in (405, 501):
                    async with http.stream("GET", image, headers={"Range": "bytes=0-0"}) as streamed:
                        status = streamed.status_code
                else:
                    status = response.status_code
        except httpx.HTTPError as exc:
            raise StepFailed(f"the share {host}:{port} is not reachable from the worker: "
                             f"{type(exc).__name__} {str(exc)[:200]}") from None
        if status in (401, 403):
            return f"{host}:{port} answers; the image needs credentials ({status}); the iDRAC is given them"
        if status not in (200, 206):
            raise StepFailed(f"the image is not on the share: {protocol} {status} for {image[:300]}")
        return f"{host}:{port} answers and has the image ({status})"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
        writer.close()
    except (OSError, TimeoutError) as exc:
        raise StepFailed(f"the {protocol} share {host}:{port} is not reachable from the worker: {exc}") from None
    return (f"{protocol} share {host}:{port} reachable (the image's existence is checked by the iDRAC when it "
            "mounts it: the worker has no {protocol} client)").replace("{protocol}", protocol)


async def test_share(ctx: StepContext) -> None:
    verdict = await check_share(_mount(ctx).image_url)
    ctx.details["share"] = verdict
    ctx.note(verdict)


async def _slots(ctx: StepContext) -> list[vm.MediaSlot]:
    path = caps(ctx).virtual_media_path
    return await vm.read_slots(client(ctx), path, True)


def _pick(slots: list[vm.MediaSlot], media_type: str) -> vm.MediaSlot | None:
    fitting = [s for s in slots if s.takes(media_type)]
    return next((s for s in fitting if not s.inserted), fitting[0] if fitting else None)


async def insert_done(ctx: StepContext) -> str | None:
    if _mount(ctx).test_only:
        return "share test only"
    image = _mount(ctx).image_url
    for slot in await _slots(ctx):
        if slot.inserted and slot.image == image:
            ctx.shared["slot"] = slot.as_dict()
            return f"already mounted in slot {slot.slot_id}"
    return None


async def insert(ctx: StepContext) -> None:
    d, c = _mount(ctx), client(ctx)
    slot = _pick(await _slots(ctx), d.media_type)
    if slot is None:
        raise StepFailed(f"this iDRAC has no virtual media slot for {d.media_type} at {caps(ctx).virtual_media_path}")
    username = ctx.shared.get("share_username")
    password: Secret | None = ctx.shared.get("share_password")
    if password is not None:
        problem = await ctx.job.share_problem(ctx.server)
        if problem is not None:
            raise StepFailed(f"not sent: {problem}")
    secret = password.reveal() if password else None
    ctx.details.update({"slot": slot.slot_id, "path": slot.insert_target})
    try:
        await vm.insert(c, slot, d.image_url, username, secret, d.write_protected)
    except vm.MediaRefused as exc:
        if not exc.already_attached:
            raise StepFailed(f"the iDRAC refused the mount: {exc.message} [{exc.message_id}]") from None
        ctx.note(f"{exc.message_id}: {exc.message[:200]}; ejecting and retrying once")
        try:
            await vm.eject(c, slot)
        except vm.MediaRefused as eject_exc:
            ctx.note(f"eject: {eject_exc.message[:200]} [{eject_exc.message_id}]")
        ctx.details["retried"] = exc.message_id
        try:
            await vm.insert(c, slot, d.image_url, username, secret, d.write_protected)
        except vm.MediaRefused as again:
            raise StepFailed(f"the mount failed again after an eject: {again.message} [{again.message_id}]") from None
    ctx.shared["slot"] = slot.as_dict()
    ctx.note(f"{d.image_url} mounted in slot {slot.slot_id} ({slot.uri})")


async def boot_once_done(ctx: StepContext) -> str | None:
    if _mount(ctx).test_only or not _mount(ctx).boot_once:
        return "no boot from the virtual CD asked"
    return None


async def boot_once(ctx: StepContext) -> None:
    try:
        await boot_api.set_override(client(ctx), caps(ctx).boot_patch, "Cd", "Once")
    except UpdateRefused as exc:
        raise StepFailed(f"the iDRAC refused the one-time boot from the virtual CD: {exc}") from None
    ctx.note("next boot: the virtual CD, once")


async def mount_reboot_done(ctx: StepContext) -> str | None:
    if _mount(ctx).test_only or not _mount(ctx).reboot:
        return "no reboot asked"
    return None


async def mount_reboot(ctx: StepContext) -> None:
    await restart_host(ctx, "boot from the mounted image")


def record_mount(engine: Any, server_id: uuid.UUID, job_id: uuid.UUID, media_type: str, image: str,
                 write_protected: bool, username: str | None, password_sealed: str | None) -> None:
    with session_scope(engine) as s:
        row = s.exec(select(VirtualMediaSession).where(VirtualMediaSession.server_id == server_id,
                                                       VirtualMediaSession.remote_image_url == image)).first()
        row = row or VirtualMediaSession(server_id=server_id, remote_image_url=image,
                                         image_name=image.rsplit("/", 1)[-1][:255] or image[:255])
        row.media_type, row.is_mounted, row.inserted, row.write_protected = media_type, True, True, write_protected
        row.share_username, row.share_password_sealed = username, password_sealed
        row.mount_job_id, row.mounted_at, row.unmounted_at = job_id, utcnow(), None
        s.add(row)


async def record(ctx: StepContext) -> None:
    d = _mount(ctx)
    if d.test_only:
        ctx.details["outcome"] = "share_ok"
        return
    await ctx.job.db(record_mount, ctx.job.engine, ctx.server.id, ctx.job.job.id,
                     "CD" if d.media_type == "DVD" else d.media_type, d.image_url, d.write_protected,
                     ctx.shared.get("share_username"), ctx.shared.get("share_password_sealed"))
    ctx.details["outcome"] = "mounted"
    ctx.details["slot"] = ctx.shared.get("slot")


MOUNT = Workflow("virtual_media_mount", (
    Step("test_share", test_share),
    Step("insert", insert, insert_done),
    Step("boot_once", boot_once, boot_once_done),
    Step("reboot", mount_reboot, mount_reboot_done),
    Step("record", record),
))


# --- unmount -------------------------------------------------------------------------------------------------


async def eject(ctx: StepContext) -> None:
    d: MediaUnmountDetails = ctx.shared["details"]
    ejected = []
    for slot in await _slots(ctx):
        if not slot.inserted or (d.media_type and not slot.takes(d.media_type)):
            continue
        try:
            await vm.eject(client(ctx), slot)
        except vm.MediaRefused as exc:
            if "VRM0009" not in (exc.message_id or ""):  # nothing connected: already ejected
                raise StepFailed(f"the iDRAC refused to eject slot {slot.slot_id}: {exc.message}") from None
        ejected.append({"slot": slot.slot_id, "image": slot.image})
        ctx.note(f"ejected {slot.image or '(unnamed image)'} from slot {slot.slot_id}")
    ctx.details["ejected"] = ejected
    if not ejected:
        ctx.note("nothing was mounted")
    await ctx.job.db(record_unmount, ctx.job.engine, ctx.server.id, ctx.job.job.id,
                     [e["image"] for e in ejected if e["image"]])


def record_unmount(engine: Any, server_id: uuid.UUID, job_id: uuid.UUID | None, images: list[str] | None) -> None:
    """Sessions of these images (all mounted ones when None) marked unmounted."""
    with session_scope(engine) as s:
        stmt = select(VirtualMediaSession).where(VirtualMediaSession.server_id == server_id,
                                                 col(VirtualMediaSession.is_mounted).is_(True))
        if images is not None:
            stmt = stmt.where(col(VirtualMediaSession.remote_image_url).in_(images))
        for row in s.exec(stmt).all():
            row.is_mounted, row.inserted, row.unmounted_at = False, False, utcnow()
            row.unmount_job_id = job_id or row.unmount_job_id
            s.add(row)


UNMOUNT = Workflow("virtual_media_unmount", (Step("eject", eject),))


def sync_sessions(engine: Any, server_id: uuid.UUID, slots: list[vm.MediaSlot]) -> None:
    """Refresh keeps virtual_media_sessions current: what the iDRAC shows inserted is mounted, the rest not."""
    inserted = {s.image: s for s in slots if s.inserted and s.image}
    with session_scope(engine) as s:
        rows = s.exec(select(VirtualMediaSession).where(VirtualMediaSession.server_id == server_id)).all()
        known = {r.remote_image_url: r for r in rows}
        for row in rows:
            if row.is_mounted and row.remote_image_url not in inserted:
                row.is_mounted, row.inserted, row.unmounted_at = False, False, utcnow()
                s.add(row)
        for image, slot in inserted.items():
            row = known.get(image) or VirtualMediaSession(
                server_id=server_id, remote_image_url=image,
                image_name=(slot.image_name or image.rsplit("/", 1)[-1])[:255])
            if not row.is_mounted:
                row.is_mounted, row.inserted, row.mounted_at, row.unmounted_at = True, True, utcnow(), None
            media = "USBStick" if "USBStick" in slot.media_types and "CD" not in slot.media_types else "CD"
            row.media_type = media
            if slot.write_protected is not None:
                row.write_protected = slot.write_protected
            s.add(row)
