"""Jobs from the operator's side: create (validated per type), cancel, list, show.

The worker claims and runs them (dsm_worker). A job names its targets by id in ``target_scope``:
servers and groups are resolved from the operator's REFs and names now, so a typo is refused at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import pydantic
from sqlmodel import Session, col, select

from dsm_core.jobtypes import JOB_TYPE_SPECS, OWN_KEYS, validate_details
from dsm_core.models import (
    ActivitySettings,
    CredentialSet,
    FirmwareRepository,
    Job,
    JobTask,
    ScpBackup,
    Server,
    Vcenter,
    VcenterCluster,
    VcenterHost,
    WorkerHeartbeat,
    WorkflowExecution,
)
from dsm_core.models.base import JOB_STATUSES
from dsm_core.package_files import SETTING as PACKAGE_DIRS
from dsm_core.package_files import FileRefused, check_named, parse_dirs
from dsm_core.redfish.scp import ProfileError, admin_attributes, parse_profile
from dsm_core.services import disruption
from dsm_core.services.configuration_rules import check_configuration
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import Conflict, NotFound, PermissionDenied, Unsafe, ValidationError
from dsm_core.services.groups import get_group
from dsm_core.services.servers import get_server
from dsm_core.services.settings import read_singleton
from dsm_core.services.views import by_id_or_prefix, row_view
from dsm_core.timeutil import utcnow
from dsm_core.urls import redact_credentials

FINISHED = ("completed", "failed", "cancelled")


def _details_error(job_type: str, exc: pydantic.ValidationError) -> ValidationError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    field = f"details.{loc}" if loc else "details"
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(JOB_TYPE_SPECS[job_type].details.model_fields) or "none"
        return ValidationError(field, f"is not a detail of {job_type}", f"details it takes: {allowed}")
    if kind == "missing":
        return ValidationError(field, f"is required for {job_type}", f"add --detail {loc}=VALUE")
    message = first["msg"].removeprefix("Value error, ")
    if "input" not in first:
        return ValidationError(field, message)
    return ValidationError(field, f"{message} (got {redact_credentials(repr(first['input']))})")


def _resolve_targets(
    session: Session, /, job_type: str, servers: list[str], groups: list[str], clusters: list[str]
) -> dict[str, list[str]]:
    rule = JOB_TYPE_SPECS[job_type].targets
    scope: dict[str, list[str]] = {}
    if servers:
        scope["servers"] = list(dict.fromkeys(str(get_server(session, ref).id) for ref in servers))
    if groups:
        scope["groups"] = list(dict.fromkeys(str(get_group(session, name).id) for name in groups))
    if clusters:
        known = set(session.exec(select(col(VcenterHost.cluster)).where(col(VcenterHost.cluster).is_not(None))).all())
        known |= set(session.exec(select(col(VcenterCluster.name))).all())
        for name in clusters:
            if name not in known:
                raise NotFound(
                    f"cluster {name!r} is not known; `dsm clusters list` shows them (a vcenter_sync job reads them: "
                    "`dsm vcenter sync`)"
                )
        scope["clusters"] = list(dict.fromkeys(clusters))
    n_servers, n_groups, n_clusters = (len(scope.get(k, [])) for k in ("servers", "groups", "clusters"))
    wrong = None
    if rule == "none" and scope:
        wrong = "takes no targets"
    elif rule == "servers" and not scope:
        wrong = "needs targets: --server REF, --group NAME or --cluster NAME"
    elif rule == "one_server" and (n_servers != 1 or n_groups or n_clusters):
        wrong = "needs exactly one --server REF"
    elif rule == "clusters" and (not n_clusters or n_servers or n_groups):
        wrong = "needs one or more --cluster NAME and nothing else"
    elif rule == "groups" and (not n_groups or n_servers or n_clusters):
        wrong = "needs one or more --group NAME and nothing else"
    elif rule == "one_cluster_or_group" and (n_servers or n_clusters + n_groups != 1):
        wrong = "needs exactly one --cluster NAME or one --group NAME"
    elif rule == "servers_or_address" and (n_groups or n_clusters):
        wrong = "takes --server REF targets or --detail address=IP, not groups or clusters"
    if wrong:
        raise ValidationError("target_scope", f"{job_type} {wrong}")
    return scope


def check_package_file(session: Session, /, field: str, path: str) -> None:
    """A file a job (or a repository) names must lie where an admin lets the worker read (package_files)."""
    dirs = parse_dirs(read_singleton(session, ActivitySettings).package_dirs or "")
    try:
        check_named(path, dirs)
    except FileRefused as exc:
        raise ValidationError(field, str(exc), f"name a regular file inside {PACKAGE_DIRS} (dsm settings show "
                              "activity)") from None


def _check_references(session: Session, /, job_type: str, details: dict[str, Any]) -> list[str]:
    """Names in details must exist now; returns the credential set ids the job may use."""
    set_ids: list[str] = []
    named_sets = list(details.get("credential_sets", []))
    if details.get("credential_set"):
        named_sets.append(details["credential_set"])
    for name in named_sets:
        cs = session.exec(select(CredentialSet).where(CredentialSet.name == name)).first()
        if cs is None:
            raise ValidationError(
                "details.credential_sets",
                f"credential set {name!r} does not exist",
                "`dsm credentials list` shows the sets",
            )
        set_ids.append(str(cs.id))
    if details.get("file"):
        check_package_file(session, "details.file", str(details["file"]))
    repo = details.get("repository")
    if repo and session.exec(select(FirmwareRepository).where(FirmwareRepository.name == repo)).first() is None:
        raise ValidationError(
            "details.repository", f"firmware repository {repo!r} does not exist", "add the local repository first"
        )
    for name in details.get("vcenters", []) + ([details["vcenter"]] if details.get("vcenter") else []):
        if session.exec(select(Vcenter).where(Vcenter.name == name)).first() is None:
            raise ValidationError("details.vcenters", f"vCenter {name!r} is not configured", "add the vCenter first")
    if job_type == "scp_import":
        try:
            backup = session.get(ScpBackup, uuid.UUID(details["backup_id"]))
        except ValueError:
            backup = None
        if backup is None:
            raise ValidationError(
                "details.backup_id",
                f"{details['backup_id']!r} is not an SCP backup id",
                "export one with an scp_export job first",
            )
    return set_ids


def _check_scp_import(tx: Tx, scope: dict[str, list[str]], details: dict[str, Any]) -> None:
    """A backup goes back onto its own server unless the import says otherwise; one that would set iDRAC
    accounts, passwords, network or certificates is an admin's to import (redfish.scp.admin_attribute)."""
    backup = tx.session.get(ScpBackup, uuid.UUID(details["backup_id"]))
    assert backup is not None  # _check_references found it
    target = scope["servers"][0]
    if str(backup.server_id) != target and not details.get("from_other_server"):
        source = tx.session.get(Server, backup.server_id)
        raise ValidationError("details.from_other_server", f"backup {backup.id} was exported from "
                              f"{source.ip_address if source else 'a removed server'}, not from the target",
                              "importing it clones that server's settings: say so with --from-other-server "
                              "(from_other_server=true; the audit row records it)")
    if not {"ALL", "IDRAC"} & set(details.get("targets") or ["ALL"]) or tx.actor.may("admin"):
        return
    try:
        touched = admin_attributes(parse_profile(backup.profile_text or ""))
    except ProfileError:
        return  # the worker refuses a profile it cannot read; nothing of it is the admin's to vet
    if touched:
        raise PermissionDenied(f"this import would set {len(touched)} iDRAC account, password, network or certificate "
                               f"attribute(s) ({', '.join(touched[:3])}…): an admin's; import with --target BIOS, "
                               f"NIC or RAID instead, or ask an admin; {tx.actor.username} is {tx.actor.role}")


def _dsm_plan(session: Session, scope: dict[str, list[str]], details: dict[str, Any]) -> dict[str, Any]:
    """A rolling update runs a plan DSM made, never one its caller wrote: the plan in ``details`` must be the one DSM
    builds now for the same cluster and settings (by digest, as ``start_rolling_update`` checks the plan its caller
    was shown), and the job stores DSM's own. A written plan could pair a host with another machine's server, or say
    "safe" of an unsafe cluster; the worker would evacuate one host and restart another."""
    from dsm_core.services.rolling import build_plan

    if scope.get("clusters"):
        cluster = scope["clusters"][0]
    else:
        found = session.exec(select(VcenterCluster).where(
            VcenterCluster.server_group_id == uuid.UUID(scope["groups"][0]))).first()
        if found is None:
            raise ValidationError("target_scope", "the group is not a vCenter cluster's group",
                                  "a rolling update goes through vCenter: give --cluster NAME")
        cluster = found.name
    built = build_plan(session, cluster, repository=details.get("repository"), image_uri=details.get("image_uri"),
                       max_concurrent=int(details["max_concurrent"]),
                       min_required_hosts=int(details["min_required_hosts"]))
    given = details["plan"].get("digest") if isinstance(details["plan"], dict) else None
    if given != built["digest"]:
        raise ValidationError("details.plan", f"is not the plan DSM makes for {built['cluster']} now (digest "
                              f"{str(given)[:16] if given else 'none'}, DSM's {built['digest']})",
                              "leave the plan out (the worker plans the run when it starts), or read it with "
                              f"`dsm rolling-update {built['cluster']} --plan` and start it there")
    if not built["safe"]:
        raise Unsafe(f"the plan of {built['cluster']} is not safe: " + "; ".join(built["problems"]))
    return {k: v for k, v in built.items() if k != "problems"}


@mutation("jobs.create", "operator")
def create_job(
    tx: Tx,
    /,
    job_type: str,
    *,
    servers: list[str] | None = None,
    groups: list[str] | None = None,
    clusters: list[str] | None = None,
    details: dict[str, Any] | None = None,
    schedule_at: datetime | None = None,
    parent_job_id: uuid.UUID | None = None,
    disruption_override: str | None = None,
) -> dict[str, Any]:
    job = new_job(tx, job_type, servers=servers, groups=groups, clusters=clusters, details=details,
                  schedule_at=schedule_at, parent_job_id=parent_job_id, disruption_override=disruption_override)
    tx.audit("job", job.id, job_type=job_type, target_scope=job.target_scope, details=audit_details(job.details or {}),
             schedule_at=schedule_at.isoformat() if schedule_at else None)
    return row_view(job)


def new_job(
    tx: Tx,
    job_type: str,
    *,
    servers: list[str] | None = None,
    groups: list[str] | None = None,
    clusters: list[str] | None = None,
    details: dict[str, Any] | None = None,
    schedule_at: datetime | None = None,
    parent_job_id: uuid.UUID | None = None,
    disruption_override: str | None = None,
) -> Job:
    """A validated job added to ``tx`` (no audit row: the calling mutation records its own, once).

    Every job is made here, so every creation-time rule is here: its type's role, its details, its targets, the
    references and files it names, and the disruption rule (services.disruption; ``disruption_override``: an
    admin's reason to take servers down despite it)."""
    if job_type not in JOB_TYPE_SPECS:
        raise ValidationError(
            "job_type", f"{job_type!r} is not a job type", "use one of " + ", ".join(sorted(JOB_TYPE_SPECS))
        )
    spec = JOB_TYPE_SPECS[job_type]
    if not tx.actor.may(spec.role):
        raise PermissionDenied(f"{spec.label} jobs need the {spec.role} role; {tx.actor.username} is {tx.actor.role}")
    try:
        clean = validate_details(job_type, details)
    except pydantic.ValidationError as exc:
        raise _details_error(job_type, exc) from None
    if schedule_at is not None and schedule_at.tzinfo is None:
        raise ValidationError(
            "schedule_at", "has no time zone", "give an ISO time with an offset, e.g. 2026-12-01T02:00+00:00"
        )
    if parent_job_id is not None and tx.session.get(Job, parent_job_id) is None:
        raise NotFound(f"parent job {parent_job_id} does not exist")
    scope = _resolve_targets(tx.session, job_type, servers or [], groups or [], clusters or [])
    if JOB_TYPE_SPECS[job_type].targets == "servers_or_address" and bool(scope) == bool(clean.get("address")):
        raise ValidationError(
            "target_scope", f"{job_type} needs either --server REF or --detail address=IP", "give exactly one of them"
        )
    set_ids = _check_references(tx.session, job_type, clean)
    if job_type == "scp_import":
        _check_scp_import(tx, scope, clean)
    if job_type == "rolling_cluster_update" and clean.get("plan") is not None:
        clean["plan"] = _dsm_plan(tx.session, scope, clean)
    clean = check_configuration(tx.session, job_type, scope, clean)
    clean = disruption.check(tx, job_type, scope, clean, disruption_override)
    job = Job(
        job_type=job_type,
        target_scope=scope,
        details=clean,
        created_by=tx.actor.user_id,
        schedule_at=schedule_at,
        parent_job_id=parent_job_id,
        credential_set_ids=set_ids or None,
    )
    tx.session.add(job)
    return job


def audit_details(details: dict[str, Any]) -> dict[str, Any]:
    """What the job was asked to do (the power action, the image, the attributes), for the audit log. URLs with
    credentials are refused at input; a user part in any URL form (scheme://, //host, host:/) is hidden all
    the same (dsm_core.urls), so none reaches the log from a row written past DSM."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redact_credentials(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {k: clean(v) for k, v in details.items()}


def find_job(session: Session, /, job_id: str | uuid.UUID) -> Job:
    job = by_id_or_prefix(session, Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} does not exist; `dsm jobs list` shows the jobs")
    return cast(Job, job)


@query()
def find_job_id(session: Session, /, job_id: str | uuid.UUID) -> str:
    """The full id of ``job_id`` (or of its last 8 digits)."""
    return str(find_job(session, job_id).id)


@mutation("jobs.cancel", "operator")
def cancel_job(tx: Tx, /, job_id: str | uuid.UUID) -> dict[str, Any]:
    job = find_job(tx.session, job_id)
    spec = JOB_TYPE_SPECS.get(job.job_type)
    after_failure = job.status == "failed" and spec is not None and spec.cancel_after_failure
    if job.status in FINISHED and not after_failure:
        raise Conflict(f"job {job.id} is already {job.status}; only pending or running jobs can be cancelled")
    previous = job.status
    if after_failure:
        # The workflow stopped at a failure with its target in its last safe state (a host in maintenance): the
        # worker takes the job once more only to run the clean-up, and ends it cancelled.
        job.status, job.cancel_requested, job.completed_at = "pending", True, None
        job.claimed_by, job.lease_expires_at = None, None
    elif job.status == "pending":
        job.status = "cancelled"
        job.completed_at = utcnow()
        job.error = f"cancelled by {tx.actor.username} before it started"
        for task in tx.session.exec(select(JobTask).where(JobTask.job_id == job.id, JobTask.status == "pending")).all():
            task.status = "cancelled"
            tx.session.add(task)
    else:
        job.cancel_requested = True  # the worker running it stops at its next safe point
    tx.session.add(job)
    tx.audit("job", job.id, previous_status=previous, job_type=job.job_type)
    return row_view(job)


@mutation("jobs.retry", "operator")
def retry_job(tx: Tx, /, job_id: str | uuid.UUID, *, from_step: str | None = None) -> dict[str, Any]:
    """Run a finished job again.

    A workflow job (firmware_update, ...) is resumed: the *same* job goes back to pending and its worker
    starts at the failed step (or ``from_step`` and every step after it), keeping what earlier steps did.
    Any other job is repeated as a new job with the old one's type, targets and details; the old one stays
    as it ended. Targets are the ids the old job resolved, so a server renamed since is still the same
    server; one deleted since is refused by name, never silently dropped.
    """
    old = find_job(tx.session, job_id)
    if old.status not in FINISHED:
        raise Conflict(f"job {old.id} is {old.status}; retry a job once it has ended (or cancel it first)")
    scope = dict(old.target_scope or {})
    for sid in scope.get("servers", []):
        if tx.session.get(Server, uuid.UUID(sid)) is None:
            raise NotFound(f"server {sid} of job {old.id} no longer exists; create a new job for the others")
    spec = JOB_TYPE_SPECS.get(old.job_type)
    # the disruption rule holds for a retry as for a new job (an admin's override carries over only to an admin)
    stored = old.details or {}
    override = stored.get("disruption_override") if tx.actor.may("admin") else None
    details = disruption.check(tx, old.job_type, scope, {k: v for k, v in stored.items() if k not in OWN_KEYS},
                               override, old.id) if old.job_type in JOB_TYPE_SPECS else dict(stored)
    if spec is not None and spec.workflow:
        return _resume_workflow(tx, old, from_step)
    if from_step is not None:
        raise ValidationError("from_step", f"{old.job_type} jobs do not run in steps",
                              "leave out --from-step; the job is repeated as a new job")
    job = Job(
        job_type=old.job_type,
        target_scope=scope,
        details=details,
        created_by=tx.actor.user_id,
        credential_set_ids=old.credential_set_ids,
    )
    tx.session.add(job)
    tx.audit("job", job.id, job_type=job.job_type, retry_of=str(old.id), target_scope=scope)
    return row_view(job)


def _resume_workflow(tx: Tx, job: Job, from_step: str | None) -> dict[str, Any]:
    if job.status == "completed" and from_step is None:
        raise Conflict(f"job {job.id} completed; give --from-step NAME to run steps of it again")
    rows = list(tx.session.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job.id)).all())
    if from_step is not None:
        names = sorted({r.step_name for r in rows}, key=lambda n: min(r.step_number for r in rows
                                                                       if r.step_name == n))
        if from_step not in names:
            raise ValidationError("from_step", f"{from_step!r} is not a step this job has run",
                                  "steps recorded: " + (", ".join(names) or "none yet (retry without it)"))
        first = min(r.step_number for r in rows if r.step_name == from_step)
        chosen = [r for r in rows if r.step_number >= first]
    else:
        chosen = [r for r in rows if r.step_status in ("failed", "running")]
    for r in chosen:
        r.step_status, r.step_error = "pending", None
        tx.session.add(r)
    previous = job.status
    job.status, job.error, job.completed_at, job.cancel_requested = "pending", None, None, False
    job.claimed_by, job.lease_expires_at, job.progress = None, None, 0
    job.details = {k: v for k, v in (job.details or {}).items() if k != "result"}
    tx.session.add(job)
    for task in tx.session.exec(select(JobTask).where(JobTask.job_id == job.id)).all():
        if task.status != "completed" or from_step is not None:
            task.status, task.error, task.completed_at = "pending", None, None
            tx.session.add(task)
    steps = sorted({r.step_name for r in chosen})
    tx.audit("job", job.id, job_type=job.job_type, resumed=True, previous_status=previous, from_step=from_step,
             steps_reset=steps)
    return row_view(job)


WORKER_ALIVE_SECONDS = 30
"""A worker beats every few seconds; one silent this long is gone (the console's WORKER DOWN uses the same)."""


def waiting_reasons(session: Session, /, jobs: Sequence[Job | tuple[uuid.UUID, str, str]],
                    now: datetime | None = None) -> dict[uuid.UUID, str]:
    """Why pending jobs may never start: no worker runs, or none of the running ones handles the type.
    ``jobs`` are rows or (id, job_type, status) triples (the console reads columns, not rows)."""
    triples = [(j.id, j.job_type, j.status) if isinstance(j, Job) else j for j in jobs]
    pending = [(jid, jtype) for jid, jtype, status in triples if status == "pending"]
    if not pending:
        return {}
    cutoff = (now or utcnow()) - timedelta(seconds=WORKER_ALIVE_SECONDS)
    alive = session.exec(select(WorkerHeartbeat).where(col(WorkerHeartbeat.last_beat_at) >= cutoff,
                                                       col(WorkerHeartbeat.status) != "stopped")).all()
    handled = {t for w in alive for t in (w.handled_types or [])}
    if not alive:
        return {jid: "waiting: no worker is running (start `dsm worker`, or the dsm-worker service)"
                for jid, _ in pending}
    return {
        jid: f"waiting: no running worker handles {jtype} (this version's workers do not run it yet)"
        for jid, jtype in pending if handled and jtype not in handled
    }


def _with_reason(view: dict[str, Any], reasons: dict[uuid.UUID, str], job: Job) -> dict[str, Any]:
    view["waiting"] = reasons.get(job.id)
    return view


@query("viewer")
def list_jobs(
    session: Session, /, *, status: str | None = None, job_type: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    if status is not None and status not in JOB_STATUSES:
        raise ValidationError("status", f"{status!r} is not a job status", "use one of " + ", ".join(JOB_STATUSES))
    if job_type is not None and job_type not in JOB_TYPE_SPECS:
        raise ValidationError(
            "type", f"{job_type!r} is not a job type", "use one of " + ", ".join(sorted(JOB_TYPE_SPECS))
        )
    if not 1 <= limit <= 10_000:
        raise ValidationError("limit", f"{limit} is out of range", "use 1 to 10000")
    stmt = select(Job).order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(limit)
    if status:
        stmt = stmt.where(Job.status == status)
    if job_type:
        stmt = stmt.where(Job.job_type == job_type)
    found = list(session.exec(stmt).all())
    reasons = waiting_reasons(session, found)
    return [_with_reason(row_view(j), reasons, j) for j in found]


@query("viewer")
def show_job(session: Session, /, job_id: str) -> dict[str, Any]:
    job = find_job(session, job_id)
    view = _with_reason(row_view(job), waiting_reasons(session, [job]), job)
    tasks = session.exec(select(JobTask).where(col(JobTask.job_id) == job.id).order_by(col(JobTask.created_at))).all()
    view["tasks"] = [row_view(t) for t in tasks]
    children = list(session.exec(select(Job).where(col(Job.parent_job_id) == job.id)
                                 .order_by(col(Job.created_at), col(Job.id))).all())
    reasons = waiting_reasons(session, children)
    view["children"] = [_with_reason(row_view(c), reasons, c) for c in children]
    steps = session.exec(select(WorkflowExecution).where(col(WorkflowExecution.job_id) == job.id)
                         .order_by(col(WorkflowExecution.server_id), col(WorkflowExecution.step_number))).all()
    view["steps"] = [row_view(s) for s in steps]
    return view
