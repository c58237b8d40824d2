"""The Dell job follower: outcomes named as Dell means them, and a poll that waits out the iDRAC restarting
itself (connection refused, a dead session, 503 while it boots, a job queue that answers 404 until it has
loaded) within a budget. The iDRAC's answers are scripted; ``jobs.follow`` and ``DellJob`` are the real code."""

from __future__ import annotations

from typing import Any, cast

import pytest

from dsm_core.redfish.client import IdracClient, RedfishError
from dsm_core.redfish.jobs import DellJob, JobBudgetExceeded, follow, job_id_from


def job(state: str, mid: str = "PR19", pct: int | None = 50, message: str = "Job in progress.") -> dict[str, Any]:
    return {"Id": "JID_1", "JobState": state, "MessageId": mid, "PercentComplete": pct, "Message": message}


@pytest.mark.parametrize(("body", "outcome"), [
    (job("Completed", "RED001", 100, "Job completed successfully."), "completed"),
    (job("CompletedWithErrors", "RED063", 100, "Completed with errors"), "completed_with_errors"),
    (job("Failed", "RED007", 100, "Internal error"), "failed"),
    (job("RebootFailed", "RED029", 0, "Reboot failed"), "reboot_failed"),
    (job("Scheduled", "JCP001", 0, "Task successfully scheduled."), "scheduled"),
    (job("Running"), "running"),
    (job("Downloading"), "running"),
    # SUP029 is "already compliant" whether the iDRAC calls the job Completed or Failed
    (job("Completed", "IDRAC.2.8.SUP029", 100, "Firmware versions on server match catalog"), "already_compliant"),
    (job("Failed", "SUP029", 100, "Firmware versions on server match catalog"), "already_compliant"),
    # DMTF Task shapes (TaskService): an exception fails; user intervention at 100 % is staged for a reboot
    ({"TaskState": "Exception", "Messages": [{"Message": "Update failed", "MessageId": "RED097"}]}, "failed"),
    ({"TaskState": "UserIntervention", "PercentComplete": 100}, "scheduled"),
    ({"TaskState": "Completed", "PercentComplete": 100, "Oem": {"Dell": {"JobState": "Completed"}}}, "completed"),
])
def test_outcomes_are_dell_s(body: dict[str, Any], outcome: str) -> None:
    assert DellJob.parse("JID_1", body).outcome == outcome


def test_outside_text_is_capped_and_a_bad_percent_is_dropped() -> None:
    parsed = DellJob.parse("JID_1", {"JobState": "Running" * 100, "Message": "x" * 10_000, "PercentComplete": 900})
    assert len(parsed.state) <= 40 and parsed.message is not None and len(parsed.message) <= 2000
    assert parsed.percent is None


@pytest.mark.parametrize(("location", "jid"), [
    ("/redfish/v1/TaskService/Tasks/JID_724411870233", "JID_724411870233"),
    ("https://10.0.0.9/redfish/v1/Managers/iDRAC.Embedded.1/Jobs/JID_1/", "JID_1"),
    ("/redfish/v1/Managers/iDRAC.Embedded.1/Jobs/RID_12", "RID_12"),
    ("/redfish/v1/TaskService/Tasks/42", None),
    ("/redfish/v1/TaskService/Tasks/JID_1;rm -rf", None),
    (None, None),
])
def test_the_job_id_comes_from_the_location(location: str | None, jid: str | None) -> None:
    assert job_id_from(location) == jid


class Restarting:
    """An iDRAC mid self-update: each GET answers from a script of bodies and errors (the last repeats)."""

    def __init__(self, script: list[Any]) -> None:
        self.script, self.asked, self.paths = script, 0, []

    async def get(self, path: str, params: Any = None) -> dict[str, Any]:
        self.paths.append(path)
        step = self.script[min(self.asked, len(self.script) - 1)]
        self.asked += 1
        if isinstance(step, int | type(None)):
            raise RedfishError("GET", path, step, "no answer" if step is None else f"HTTP {step}")
        return dict(step)


async def test_the_poll_waits_out_an_idrac_restart() -> None:
    script = [job("Running", pct=90), None, None, 401, 503, 503, 404, 404, 404, 404,
              job("Completed", "RED001", 100, "Job completed successfully.")]
    idrac = Restarting(script)
    outages: list[str] = []
    changes: list[str] = []

    async def outage(text: str) -> None:
        outages.append(text)

    async def changed(j: DellJob) -> None:
        changes.append(j.state)

    done = await follow(cast(IdracClient, idrac), "JID_1", budget=30, poll=0.001, on_outage=outage,
                        on_change=changed)
    assert done.outcome == "completed"
    assert len(outages) == 5  # refused twice, a dead session, two 503s: waited, not failed
    assert changes == ["Running", "Completed"]
    # a 404 on the OEM job path falls back to the other places a job can be read, on the iDRAC's own origin
    assert "/redfish/v1/TaskService/Tasks/JID_1" in idrac.paths and "/redfish/v1/JobService/Jobs/JID_1" in idrac.paths
    assert all(p.startswith("/redfish/v1/") for p in idrac.paths)


async def test_a_job_that_never_ends_stops_at_the_budget() -> None:
    idrac = Restarting([job("Running", pct=10)])
    with pytest.raises(JobBudgetExceeded, match="did not finish within"):
        await follow(cast(IdracClient, idrac), "JID_1", budget=0.05, poll=0.01)


async def test_an_error_that_is_not_a_restart_is_not_waited_out() -> None:
    idrac = Restarting([403])
    with pytest.raises(RedfishError):
        await follow(cast(IdracClient, idrac), "JID_1", budget=5, poll=0.01)


async def test_scheduled_stops_the_poll_only_when_the_caller_says_it_waits_for_a_reboot() -> None:
    idrac = Restarting([job("Scheduled", "JCP001", 0)])
    seen: list[float] = []

    def waits_for_reboot(j: DellJob, seconds: float) -> bool:
        seen.append(seconds)
        return len(seen) >= 3

    done = await follow(cast(IdracClient, idrac), "JID_1", budget=5, poll=0.001, stop_when_scheduled=waits_for_reboot)
    assert done.outcome == "scheduled" and len(seen) == 3 and seen[0] == 0.0
