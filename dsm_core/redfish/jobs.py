"""The Dell job follower: from a ``JID_…`` (or the task monitor a 202 pointed at) to an outcome.

REDFISH.md §2.2 and §1.7: read the Dell job queue (``Oem/Dell/Jobs/<JID>``, then ``Jobs/<JID>``, then the
DMTF TaskService and JobService), survive the iDRAC rebooting itself mid-poll (connection refused, 401 with
a dead session, 503 while it boots, 404 from a TaskService that forgot the task), within a time budget; and
name outcomes as Dell means them: ``CompletedWithErrors`` is not success, SUP029 is "already compliant",
``Scheduled`` may mean "waiting for the host to reboot".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from dsm_core.redfish.client import IdracClient, RedfishError
from dsm_core.redfish.models import dig, members
from dsm_core.redfish.tls import CertificateChanged

MANAGER = "/redfish/v1/Managers/iDRAC.Embedded.1"
JOB_ID_PREFIXES = ("JID_", "RID_")
Outcome = Literal[
    "running", "scheduled", "completed", "completed_with_errors", "failed", "reboot_failed", "already_compliant",
]
TERMINAL: frozenset[str] = frozenset(
    {"completed", "completed_with_errors", "failed", "reboot_failed", "already_compliant"}
)
ALREADY_COMPLIANT_IDS = ("SUP029",)
""""Firmware versions on server match catalog, applicable updates are not present in the repository.\""""
FAILED_STATES = {"failed", "aborted", "cancelled", "canceled", "exception", "killed"}
SCHEDULED_STATES = {"scheduled", "pendingactivation", "rebootpending", "waiting", "new", "scheduling",
                    "readyforexecution", "pending"}


def _text(value: str, limit: int) -> str:
    """Outside text, length-capped; shown through dsm_core.text.visible like every device string."""
    return value[:limit]


def job_id_from(location: str | None) -> str | None:
    """``JID_…`` from a 202's Location (``/redfish/v1/TaskService/Tasks/JID_1``, ``…/Jobs/JID_1``) or an id."""
    if not location:
        return None
    last = location.rstrip("/").rsplit("/", 1)[-1]
    return last if last.startswith(JOB_ID_PREFIXES) and last[4:].replace("_", "").isalnum() else None


def _short_id(message_id: str | None) -> str | None:
    """``IDRAC.2.8.SUP029`` and ``SUP029`` are the same message."""
    return message_id.rsplit(".", 1)[-1] if message_id else None


@dataclass(frozen=True)
class DellJob:
    job_id: str
    state: str  # as the iDRAC says it
    percent: int | None
    message: str | None
    message_id: str | None
    name: str | None = None
    job_type: str | None = None

    @property
    def outcome(self) -> Outcome:
        state = self.state.replace(" ", "").lower()
        if _short_id(self.message_id) in ALREADY_COMPLIANT_IDS:
            return "already_compliant"
        if state == "completed":
            return "completed"
        if state == "completedwitherrors":
            return "completed_with_errors"
        if state == "rebootfailed":
            return "reboot_failed"
        if state in FAILED_STATES:
            return "failed"
        if state in SCHEDULED_STATES:
            return "scheduled"
        return "running"

    def describe(self) -> str:
        pct = f" {self.percent}%" if self.percent is not None else ""
        mid = f" [{_short_id(self.message_id)}]" if self.message_id else ""
        return f"{self.job_id} {self.state}{pct}: {_text(self.message or '', 300)}{mid}"

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "state": self.state, "percent": self.percent, "message": self.message,
                "message_id": self.message_id, "outcome": self.outcome, "name": self.name}

    @classmethod
    def parse(cls, job_id: str, data: dict[str, Any]) -> DellJob:
        """A Dell OEM job, or a DMTF Task / Job (``TaskState``/``JobState``, ``Messages``) mapped onto one."""
        state = data.get("JobState") or dig(data, "Oem", "Dell", "JobState") or data.get("TaskState") or "Unknown"
        message = data.get("Message") or dig(data, "Oem", "Dell", "Message")
        message_id = data.get("MessageId") or dig(data, "Oem", "Dell", "MessageId")
        msgs = data.get("Messages")
        if not message and isinstance(msgs, list) and msgs and isinstance(msgs[0], dict):
            message, message_id = msgs[0].get("Message"), message_id or msgs[0].get("MessageId")
        percent = data.get("PercentComplete")
        task_state = str(data.get("TaskState") or "")
        if task_state == "Exception":
            state = "Failed"
        elif task_state == "UserIntervention" and percent == 100:
            state = "Scheduled"  # staged; a reboot (or AC cycle) applies it (REDFISH.md §2.2)
        return cls(
            job_id,
            _text(str(state), 40),
            percent if isinstance(percent, int) and 0 <= percent <= 100 else None,
            _text(str(message), 2000) if message else None,
            _text(str(message_id), 64) if message_id else None,
            _text(str(data.get("Name")), 200) if data.get("Name") else None,
            _text(str(data.get("JobType")), 64) if data.get("JobType") else None,
        )


def job_paths(job_id: str, task_uri: str | None = None) -> list[str]:
    paths = [f"{MANAGER}/Oem/Dell/Jobs/{job_id}", f"{MANAGER}/Jobs/{job_id}"]
    if task_uri:
        paths.append(task_uri)
    paths += [f"/redfish/v1/TaskService/Tasks/{job_id}", f"/redfish/v1/JobService/Jobs/{job_id}"]
    return list(dict.fromkeys(paths))


async def read_job(client: IdracClient, job_id: str, task_uri: str | None = None) -> DellJob:
    """The job's state from the first place that knows it; ``missing`` when none does (a 404 everywhere)."""
    last: RedfishError | None = None
    for path in job_paths(job_id, task_uri):
        try:
            return DellJob.parse(job_id, await client.get(path))
        except RedfishError as exc:
            if exc.status not in (400, 404, 405):
                raise
            last = exc
    return DellJob(job_id, "Missing", None, last.message if last else "not found", None)


async def list_jobs(client: IdracClient) -> list[DellJob]:
    """The whole Dell job queue (to find the jobs a repository update spawned, by difference)."""
    for path in (f"{MANAGER}/Oem/Dell/Jobs", f"{MANAGER}/Jobs"):
        try:
            data = await client.get(path, params={"$expand": "*($levels=1)"})
        except RedfishError as exc:
            if exc.status in (400, 404, 405):
                continue
            raise
        out = []
        for member in members(data):
            jid = member.get("Id")
            if isinstance(jid, str) and jid.startswith(JOB_ID_PREFIXES):
                out.append(DellJob.parse(jid, member) if "JobState" in member else DellJob(jid, "Unknown", None,
                                                                                             None, None))
        return out
    return []


TRANSIENT_STATUS = {None, 401, 404, 500, 502, 503, 504}


class JobBudgetExceeded(Exception):
    pass


@dataclass
class FollowState:
    """What the follower saw last: the caller stores it so that a new worker resumes the poll."""

    last: DellJob | None = None
    unreachable_since: float | None = None
    outages: int = 0


async def follow(
    client: IdracClient,
    job_id: str,
    *,
    budget: float,
    poll: float = 5.0,
    task_uri: str | None = None,
    stop_when_scheduled: Callable[[DellJob, float], bool] | None = None,
    on_change: Callable[[DellJob], Awaitable[None]] | None = None,
    on_outage: Callable[[str], Awaitable[None]] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DellJob:
    """Poll ``job_id`` until it is terminal (or ``stop_when_scheduled(job, seconds_scheduled)`` says a job
    that stays Scheduled is waiting for a reboot). Connection errors, dead sessions, 5xx and a 404 while the
    iDRAC restarts are waited out (the client logs in again once it answers); ``budget`` seconds bound it.
    """
    deadline = time.monotonic() + budget
    scheduled_since: float | None = None
    seen: tuple[str, int | None, str | None] | None = None
    missing_since: float | None = None
    while True:
        if cancelled is not None and cancelled():
            raise asyncio.CancelledError()
        try:
            job = await read_job(client, job_id, task_uri)
        except (RedfishError, CertificateChanged) as exc:
            status = exc.status if isinstance(exc, RedfishError) else None
            if isinstance(exc, CertificateChanged) or status not in TRANSIENT_STATUS:
                raise
            if on_outage is not None:
                await on_outage(str(exc))
            job = None
        now = time.monotonic()
        if job is not None and job.state == "Missing":
            # right after an iDRAC reboot the job queue may not be loaded yet: wait a while before believing it
            missing_since = missing_since or now
            if now - missing_since > min(300.0, budget / 4):
                return job
        elif job is not None:
            missing_since = None
            key = (job.state, job.percent, job.message)
            if key != seen and on_change is not None:
                await on_change(job)
            seen = key
            if job.outcome in TERMINAL:
                return job
            if job.outcome == "scheduled":
                scheduled_since = scheduled_since or now
                if stop_when_scheduled is not None and stop_when_scheduled(job, now - scheduled_since):
                    return job
            else:
                scheduled_since = None
        if now > deadline:
            where = job.describe() if job is not None else "the iDRAC did not answer"
            raise JobBudgetExceeded(f"Dell job {job_id} did not finish within {budget:.0f} s ({where})")
        await asyncio.sleep(poll if job is not None else min(30.0, poll * 3))
