"""openmanage_sync: every server an OpenManage Enterprise appliance knows, created or updated by service tag.

The whole device list is read first (every page, until the appliance's own count), the session is logged out
whatever happened, and only then is anything written — in one transaction, by the system. A page that fails
fails the job: a truncated list is never taken for the inventory.
"""

from __future__ import annotations

from typing import Any

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.models import JobTask, OpenmanageSettings
from dsm_core.models.settings import SINGLETON_ID
from dsm_core.openmanage.client import OmeClient, OmeError, OmeServer, parse_device
from dsm_core.redfish.client import RedfishError
from dsm_core.redfish.tls import CertificateChanged, TlsPolicy
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.openmanage import record_sync, store_pin
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog


def _settings(engine: Any) -> OpenmanageSettings:
    with read_scope(engine) as s:
        row = s.get(OpenmanageSettings, SINGLETON_ID)
    if row is None or not row.host or not row.username or not row.password_sealed:
        raise TaskFailed("no OpenManage Enterprise appliance is configured: an admin runs "
                         "`dsm openmanage configure --host HOST --username USER --password-stdin`")
    return row


def _store_pin(engine: Any, fingerprint: str) -> None:
    with session_scope(engine) as s:
        store_pin(s, fingerprint)


def _record(engine: Any, devices: list[OmeServer]) -> dict[str, Any]:
    return record_sync(ServiceContext(engine, SYSTEM), devices)


async def openmanage_sync(ctx: JobContext) -> Outcome:
    settings = await ctx.db(_settings, ctx.engine)
    assert settings.host is not None and settings.username is not None

    async def work(task: JobTask, log: TaskLog) -> None:
        policy = TlsPolicy(settings.tls_verify_mode, settings.tls_fingerprint_sha256)
        recorder = ctx.worker.activity.recorder(None, ctx.job.id, task.id, ctx.job.created_by)
        client = OmeClient(str(settings.host), settings.port, str(settings.username),
                           ctx.unseal(settings.password_sealed), policy, ctx.worker.client_settings(), recorder)
        devices: list[OmeServer] = []
        network = ctx.worker.network_settings
        cap, loopback = int(network.max_sync_devices), bool(network.allow_loopback_devices)
        try:
            await client.login()
            async for device in client.servers():
                if len(devices) >= cap:
                    raise TaskFailed(f"OpenManage {client.endpoint} lists more than {cap} server devices; nothing was "
                                     "changed (if that many are real, an admin raises network.max_sync_devices)")
                devices.append(parse_device(device, loopback))
        except CertificateChanged as exc:
            raise TaskFailed(f"TLS certificate of OpenManage {client.endpoint} changed: pinned {exc.pinned}, "
                             f"presented {exc.presented}. Nothing was sent. If it was replaced on purpose, configure "
                             "it again with --fingerprint of the new certificate") from None
        except (OmeError, RedfishError) as exc:
            raise TaskFailed(f"{exc}; nothing was changed (a partial list is never recorded)") from None
        finally:
            if not await client.close():
                log.add(f"the session on OpenManage {client.endpoint} could not be closed; it ends at its timeout")
        if policy.learned:
            await ctx.db(_store_pin, ctx.engine, policy.learned)
        stats = await ctx.db(_record, ctx.engine, devices)
        log.add(f"{stats['devices']} server device(s): {stats['created']} created, {stats['updated']} updated, "
                f"{stats['unchanged']} unchanged, {stats['skipped']} skipped, {stats['conflicts']} conflict(s)")
        for item in stats["skipped_devices"]:
            log.add(f"skipped {item['device']}: {item['reason']}")
        for item in stats["conflicting_devices"]:
            log.add(f"conflict {item['device']}: {item['reason']}")
        ctx.result["openmanage"] = stats

    return await ctx.run_targets([(None, f"openmanage {settings.host}")], work, 1, 1800.0)
