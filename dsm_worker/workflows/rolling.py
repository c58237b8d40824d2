"""rolling_cluster_update, per host: safety_check, enter_maintenance_mode, firmware_update, reboot_server,
wait_for_online, verify_health, exit_maintenance_mode, verify_cluster_health.

The firmware part is the firmware workflow's own steps, run in three parts on the same records: ``firmware_update``
stages (backup, plan, lc_ready, install), ``reboot_server`` restarts the host once (intent and evidence, as for any
reset), ``wait_for_online`` follows the staged Dell jobs through POST and waits for ESXi to reconnect,
``verify_health`` compares the versions and reads the iDRAC's and vCenter's health. A resumed or retried run
therefore never sends an update or a reset twice.

Every step reads the real state first: a host already in maintenance is not entered again, one already out is not
exited again, firmware already at the target is not installed again. The safety rule is checked on the live
cluster before a host goes down — in ``safety_check`` and again, under the job's lock, the moment before the
maintenance task starts — counting the hosts this job itself has down. A failure stops the run where it is: the
host stays in maintenance (its last safe state) and the error names it; retry resumes from the failed step, cancel
returns the host to service when it is healthy.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dsm_core.db.engine import session_scope
from dsm_core.jobtypes import FullUpdateDetails, HostStepDetails, RollingUpdateDetails
from dsm_core.redfish import dell
from dsm_core.redfish.client import OutcomeUnknown, RedfishError
from dsm_core.redfish.models import dig
from dsm_core.safety import HEALTHY_STATUSES, cluster_verdict
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.safety import cluster_facts_from, record_cluster_check
from dsm_core.services.vcenter import record_maintenance, tags_contradict
from dsm_core.vcenter.model import HostState, Inventory, VcenterApi, VcenterError
from dsm_worker.workflows import firmware as fw
from dsm_worker.workflows.common import backup, backup_done, client, poll, sleep
from dsm_worker.workflows.engine import Step, StepContext, StepFailed, Workflow, run_workflow

HEALTHY_IDRAC = ("OK", "Warning")
HostLimits = RollingUpdateDetails | FullUpdateDetails | HostStepDetails
"""Every job whose host steps run: each says min_required_hosts, maintenance_timeout_seconds, online_timeout_seconds."""


# --- what the host steps share ---------------------------------------------------------------------------------


class Run:
    """One rolling update's state across its hosts (never stored: the records are the workflow rows)."""

    def __init__(self, vc: VcenterApi, details: HostLimits, cluster_id: Any, cluster_moref: str,
                 cluster_name: str) -> None:
        self.vc = vc
        self.details = details
        self.cluster_id = cluster_id
        self.cluster_moref = cluster_moref
        self.cluster_name = cluster_name
        self.lock = asyncio.Lock()
        """Held from a host's last safety check until its maintenance task has started: two hosts of one job
        never both pass the check on the same cluster state."""
        self.down: set[str] = set()
        """Names of the hosts this job has in maintenance now."""


def _run(ctx: StepContext) -> Run:
    found: Run = ctx.shared["run"]
    return found


def _host(ctx: StepContext) -> dict[str, Any]:
    found: dict[str, Any] = ctx.shared["host"]
    return found


async def _vc(ctx: StepContext, fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except VcenterError as exc:
        raise StepFailed(f"vCenter: {exc}") from None


async def _state(ctx: StepContext) -> HostState:
    state: HostState = await _vc(ctx, _run(ctx).vc.host_state, _host(ctx)["moref"])
    return state


async def _inventory(ctx: StepContext) -> Inventory:
    inventory: Inventory = await _vc(ctx, _run(ctx).vc.inventory)
    return inventory


def _vc_poll(ctx: StepContext) -> float:
    return min(2.0, max(0.2, poll(ctx)))


async def _sub(ctx: StepContext, *steps: Step) -> dict[str, dict[str, Any]]:
    """Firmware steps run as part of this host's record (their rows carry the firmware workflow's name)."""
    part = Workflow("firmware_update", steps, cleanup=None)
    return await run_workflow(part, ctx.job, ctx.task, ctx.server, ctx.log, ctx.shared, seed_earlier=True)


def _judge(ctx: StepContext, inventory: Inventory) -> Any:
    run, host = _run(ctx), _host(ctx)
    facts = cluster_facts_from(inventory, run.cluster_moref)
    if facts is None:
        raise StepFailed(f"cluster {run.cluster_name} is no longer in vCenter: the plan cannot go on")
    members = {h.moref for h in inventory.hosts if h.cluster == run.cluster_moref}
    if host["moref"] not in members:
        raise StepFailed(f"host {host['host']} left cluster {run.cluster_name} since the plan was accepted: "
                         "the run stops rather than update a host outside the plan")
    _same_machine(ctx, inventory)
    ours = run.down - {host["host"]}
    return cluster_verdict(facts, run.details.min_required_hosts, going_down=1, ours_in_maintenance=ours)


def _same_machine(ctx: StepContext, inventory: Inventory) -> None:
    """The server this step is about to touch is the host vCenter evacuates (or evacuated): the host's serial number,
    as vCenter reports it now, is the server's service tag. A link made by hand to the wrong server, or a plan that
    pairs a host with another machine, stops here — before the maintenance task and before any reset."""
    host = _host(ctx)
    info = next((h for h in inventory.hosts if h.moref == host["moref"]), None)
    if info is None:
        raise StepFailed(f"host {host['host']} is no longer in vCenter")
    if tags_contradict(ctx.server.service_tag, info.service_tag):
        raise StepFailed(f"server {ctx.server.ip_address} (service tag {ctx.server.service_tag}) is not host "
                         f"{host['host']} (serial number {info.service_tag}): nothing is done to either; fix the "
                         "link (`dsm vcenter link`) and start a new run")


def _audit_maintenance(engine: Any, moref: str, cluster_id: Any, entered: bool, job_id: Any) -> None:
    record_maintenance(ServiceContext(engine, SYSTEM), moref, cluster_id, entered, job_id)


async def _maintenance_changed(ctx: StepContext, entered: bool) -> None:
    run = _run(ctx)
    await ctx.job.db(_audit_maintenance, ctx.job.engine, _host(ctx)["moref"], run.cluster_id, entered,
                     ctx.job.job.id)


def _store_check(engine: Any, cluster_id: Any, verdict: Any, job_id: Any) -> dict[str, Any]:
    with session_scope(engine) as s:
        return record_cluster_check(s, cluster_id, verdict, job_id=job_id)


# --- 1 safety_check ----------------------------------------------------------------------------------------------


async def safety_check(ctx: StepContext) -> None:
    run, host = _run(ctx), _host(ctx)
    state = await _state(ctx)
    if state.maintenance_mode and host["host"] in run.down:
        ctx.note("the host is already down by this run's own hand")
        return
    verdict = _judge(ctx, await _inventory(ctx))
    view = await ctx.job.db(_store_check, ctx.job.engine, run.cluster_id, verdict, ctx.job.job.id)
    ctx.details.update(verdict=verdict.status, healthy=verdict.healthy, total=verdict.total, margin=verdict.margin,
                       reasons=[r.message for r in verdict.reasons], check_id=view["check_id"])
    if not verdict.safe:
        raise StepFailed(f"taking {host['host']} down is not safe now: " + "; ".join(r.message for r in
                                                                                      verdict.reasons))
    ctx.note(f"safe: {verdict.healthy} of {verdict.total} host(s) healthy, margin {verdict.margin}")


# --- 2 enter_maintenance_mode -----------------------------------------------------------------------------------


async def enter_done(ctx: StepContext) -> str | None:
    if ctx.resumed and (ctx.details.get("task") or ctx.details.get("entering")):
        return None  # this step had started entering: find out how far it got
    state = await _state(ctx)
    if state.maintenance_mode:
        _run(ctx).down.add(_host(ctx)["host"])
        return "the host is already in maintenance mode"
    return None


async def _follow_task(ctx: StepContext, task: str, budget: float, what: str) -> str | None:
    """Waits for a vCenter task; returns its error, or None on success. Raises TimeoutError past ``budget``."""
    run = _run(ctx)
    deadline = time.monotonic() + budget
    while True:
        state = await _vc(ctx, run.vc.task_state, task)
        if state.done:
            return state.error if state.state == "error" else None
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await sleep(ctx, _vc_poll(ctx))


async def enter_maintenance_mode(ctx: StepContext) -> None:
    run, host = _run(ctx), _host(ctx)
    timeout = run.details.maintenance_timeout_seconds
    task = ctx.details.get("task")
    # the worker died between asking vCenter and recording the task: the host's state says how far it got
    if task is None and ctx.details.get("entering") and (await _state(ctx)).maintenance_mode:
        run.down.add(host["host"])
        await _maintenance_changed(ctx, True)
        ctx.note("the host entered maintenance mode before the previous worker died")
        return
    if task is None:
        async with run.lock:
            verdict = _judge(ctx, await _inventory(ctx))  # the state may have changed since safety_check
            if not verdict.safe:
                raise StepFailed(f"not entering maintenance on {host['host']}: no longer safe: "
                                 + "; ".join(r.message for r in verdict.reasons))
            # the intent is recorded first: a run resumed after a death here counts this host as down
            ctx.details["entering"] = True
            run.down.add(host["host"])
            await ctx.save()
            task = await _vc(ctx, run.vc.enter_maintenance, host["moref"], timeout,
                             bool(getattr(run.details, "evacuate_powered_off_vms", False)))
            ctx.details["task"] = task
            await ctx.save()
    ctx.note(f"entering maintenance (task {task}, evacuation timeout {timeout} s)")
    try:
        error = await _follow_task(ctx, task, timeout + 30.0, "enter maintenance")
    except TimeoutError:
        error = f"did not finish in {timeout} s"
        try:
            await _vc(ctx, run.vc.cancel_task, task)
        except StepFailed as exc:
            ctx.note(f"the task could not be cancelled: {exc}")
    state = await _state(ctx)
    if error is None and state.maintenance_mode:
        ctx.details["vms_left"] = list(state.running_vms)
        await _maintenance_changed(ctx, True)
        ctx.note("in maintenance mode")
        return
    if not state.maintenance_mode:
        run.down.discard(host["host"])
        ctx.details.pop("entering", None)
        ctx.details.pop("task", None)
    ctx.details["vms_not_moved"] = list(state.running_vms)
    vms = ", ".join(state.running_vms[:20]) or "none reported"
    raise StepFailed(f"{host['host']} did not enter maintenance mode: {error or 'the host is not in maintenance'}; "
                     f"VMs still running on it: {vms}")


# --- 3 firmware_update, 4 reboot_server ---------------------------------------------------------------------------


async def firmware_update(ctx: StepContext) -> None:
    steps = await _sub(ctx, Step("backup", backup, backup_done), Step("plan", fw.plan),
                       Step("lc_ready", fw.lc_ready, fw.lc_done), Step("install", fw.install, fw.install_done))
    plan, install = steps.get("plan", {}), steps.get("install", {})
    ctx.details["updates"] = [{"name": u.get("name"), "from": u.get("from"), "to": u.get("to")}
                              for u in plan.get("updates", [])]
    ctx.details["outcome"] = install.get("outcome") or ("already installed" if not install.get("updates")
                                                         else "staged")


async def reboot_server(ctx: StepContext) -> None:
    if "reboot" not in ctx.earlier:  # before a reset is sent: the machine is the host, and that host is evacuated
        inventory = await _inventory(ctx)
        _same_machine(ctx, inventory)
        info = next(h for h in inventory.hosts if h.moref == _host(ctx)["moref"])
        if not info.maintenance_mode:
            raise StepFailed(f"{_host(ctx)['host']} is not in maintenance mode: its VMs may be running, and it is not "
                             "restarted; nothing was sent to its iDRAC")
    steps = await _sub(ctx, Step("reboot", fw.reboot, fw.reboot_done))
    ctx.details["restarted"] = "reset" in steps.get("reboot", {})
    if not ctx.details["restarted"]:
        ctx.note("no restart needed: nothing waits for one")


# --- 5 wait_for_online -----------------------------------------------------------------------------------------------


async def wait_for_online(ctx: StepContext) -> None:
    try:
        await _sub(ctx, Step("apply", fw.apply, fw.apply_done))
    except StepFailed as exc:
        raise StepFailed(f"the firmware did not apply while {_host(ctx)['host']} restarted: {exc}") from None
    run = _run(ctx)
    budget = float(run.details.online_timeout_seconds)
    deadline = time.monotonic() + budget
    while True:
        state = await _state(ctx)
        if state.connected:
            ctx.details["connection_state"] = state.connection_state
            ctx.note("ESXi is connected to vCenter")
            return
        if time.monotonic() > deadline:
            raise StepFailed(f"{_host(ctx)['host']} did not reconnect to vCenter in {budget:.0f} s "
                             f"(it is {state.connection_state}); it stays in maintenance mode")
        await sleep(ctx, _vc_poll(ctx))


# --- 6 verify_health ---------------------------------------------------------------------------------------------


async def _idrac_health(ctx: StepContext) -> str | None:
    try:
        body = await client(ctx).get(dell.SYSTEM, {"$select": "Status,PowerState"})
    except (RedfishError, OutcomeUnknown) as exc:
        raise StepFailed(f"the iDRAC did not answer the health read: {exc}") from None
    health = dig(body, "Status", "HealthRollup") or dig(body, "Status", "Health")
    return health if isinstance(health, str) else None


async def verify_health(ctx: StepContext) -> None:
    if "plan" in ctx.earlier:  # a firmware update ran before: its versions are checked first
        steps = await _sub(ctx, Step("verify", fw.verify))
        ctx.details["firmware"] = steps.get("verify", {}).get("outcome")
    health = await _idrac_health(ctx)
    state = await _state(ctx)
    ctx.details.update(idrac_health=health, host_status=state.overall_status)
    if health not in HEALTHY_IDRAC:
        raise StepFailed(f"{_host(ctx)['host']}: the iDRAC reports health {health or 'unknown'} after the update; "
                         "the host stays in maintenance mode until it is looked at")
    if state.overall_status not in HEALTHY_STATUSES:
        raise StepFailed(f"{_host(ctx)['host']}: vCenter reports status {state.overall_status}; the host stays in "
                         "maintenance mode")
    ctx.note(f"healthy: iDRAC {health}, vCenter {state.overall_status}")


# --- 7 exit_maintenance_mode ------------------------------------------------------------------------------------


async def exit_done(ctx: StepContext) -> str | None:
    if ctx.resumed and ctx.details.get("task"):
        return None
    state = await _state(ctx)
    if not state.maintenance_mode:
        _run(ctx).down.discard(_host(ctx)["host"])
        return "the host is not in maintenance mode"
    return None


async def _exit(ctx: StepContext) -> None:
    run, host = _run(ctx), _host(ctx)
    task = ctx.details.get("task")
    if task is None:
        task = await _vc(ctx, run.vc.exit_maintenance, host["moref"], 600)
        ctx.details["task"] = task
        await ctx.save()
    try:
        error = await _follow_task(ctx, task, 660.0, "exit maintenance")
    except TimeoutError:
        error = "did not finish in 600 s"
    state = await _state(ctx)
    if state.maintenance_mode:
        raise StepFailed(f"{host['host']} did not leave maintenance mode: {error or 'it is still in maintenance'}")
    run.down.discard(host["host"])
    await _maintenance_changed(ctx, False)
    ctx.note("back in service")


async def exit_maintenance_mode(ctx: StepContext) -> None:
    await _exit(ctx)


# --- 8 verify_cluster_health --------------------------------------------------------------------------------------


async def verify_cluster_health(ctx: StepContext) -> None:
    run, host = _run(ctx), _host(ctx)
    inventory = await _inventory(ctx)
    facts = cluster_facts_from(inventory, run.cluster_moref)
    if facts is None:
        raise StepFailed(f"cluster {run.cluster_name} is no longer in vCenter")
    mine = next((h for h in facts.hosts if h.name == host["host"]), None)
    problems = []
    if mine is None or not mine.healthy:
        problems.append(f"{host['host']} is not back healthy ({mine.connection_state if mine else 'gone'}, "
                        f"{mine.overall_status if mine else '-'})")
    others = [h for h in facts.hosts if h.name not in run.down]
    for h in others:
        if h.connection_state != "connected":
            problems.append(f"host {h.name} is {h.connection_state}")
        elif h.maintenance_mode:
            problems.append(f"host {h.name} is in maintenance mode (not by this run)")
    healthy = sum(h.healthy for h in facts.hosts)
    if healthy < run.details.min_required_hosts:
        problems.append(f"{healthy} healthy host(s), below the minimum of {run.details.min_required_hosts}")
    ctx.details.update(healthy=healthy, total=len(facts.hosts))
    if problems:
        raise StepFailed(f"cluster {run.cluster_name} is not healthy after {host['host']}: " + "; ".join(problems)
                         + "; the next host waits")
    ctx.note(f"cluster healthy: {healthy} of {len(facts.hosts)} host(s)")


# --- clean-up (cancel) -------------------------------------------------------------------------------------------


async def cleanup(ctx: StepContext) -> None:
    """Cancelled: Dell jobs queued and not started are deleted (the firmware clean-up); the host returns to service
    when it is healthy — connected, its iDRAC healthy, no update half applied — and is otherwise left in maintenance,
    said in the log."""
    await fw.cleanup(ctx)
    host = _host(ctx)
    state = await _state(ctx)
    if not state.maintenance_mode:
        return
    applying = ctx.earlier.get("firmware_update") is not None and "verify_health" not in ctx.earlier \
        and ctx.earlier.get("reboot_server", {}).get("restarted")
    health = None
    try:
        health = await _idrac_health(ctx)
    except StepFailed as exc:
        ctx.note(f"left in maintenance mode: {exc}")
        return
    if applying or not state.connected or health not in HEALTHY_IDRAC:
        why = ("an update was applied and not verified" if applying else
               f"ESXi is {state.connection_state}" if not state.connected else f"iDRAC health {health}")
        ctx.note(f"{host['host']} left in maintenance mode: not healthy to return ({why})")
        ctx.shared.setdefault("left_in_maintenance", []).append(host["host"])
        return
    ctx.details.pop("task", None)
    ctx.resumed = False
    await _exit(ctx)
    ctx.shared.setdefault("returned", []).append(host["host"])
    ctx.note(f"{host['host']} returned to service")


ROLLING_HOST = Workflow(
    "rolling_cluster_update",
    (
        Step("safety_check", safety_check),
        Step("enter_maintenance_mode", enter_maintenance_mode, enter_done),
        Step("firmware_update", firmware_update),
        Step("reboot_server", reboot_server),
        Step("wait_for_online", wait_for_online),
        Step("verify_health", verify_health),
        Step("exit_maintenance_mode", exit_maintenance_mode, exit_done),
        Step("verify_cluster_health", verify_cluster_health),
    ),
    cleanup=cleanup,
)

PREPARE_HOST = Workflow(
    "prepare_host_for_update",
    (Step("safety_check", safety_check), Step("enter_maintenance_mode", enter_maintenance_mode, enter_done)),
    cleanup=cleanup,
)
"""A host made ready for work by hand or by another tool: safe to take down, then in maintenance, VMs moved."""

VERIFY_HOST = Workflow(
    "verify_host_after_update",
    (
        Step("verify_health", verify_health),
        Step("exit_maintenance_mode", exit_maintenance_mode, exit_done),
        Step("verify_cluster_health", verify_cluster_health),
    ),
)
"""A host back from its work: healthy (iDRAC and vCenter), out of maintenance, and its cluster healthy again."""
