"""The Dell job queue of one simulated iDRAC: Scheduled → Running → Completed | Failed | CompletedWithErrors.

A job's state is a function of simulated time: it is computed when read, and its effect (new firmware,
applied BIOS settings, an exported profile) is applied exactly once when the clock passes its end.
Reboot-required jobs stay Scheduled until the host is reset, as on a real iDRAC.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_jid = itertools.count(int(7.2e11))


def new_job_id(prefix: str = "JID") -> str:
    return f"{prefix}_{next(_jid):012d}"


@dataclass
class SimJob:
    id: str
    job_type: str  # Dell JobType: FirmwareUpdate, BIOSConfiguration, ExportConfiguration, ...
    name: str
    created: float  # sim seconds
    duration: float  # sim seconds once running
    start_at: float | None  # None: waits for the next host reset
    on_complete: Callable[[], None] | None = None
    fail_with: tuple[str, str] | None = None  # (MessageId, Message) when the job is to fail
    with_errors: tuple[str, str] | None = None  # CompletedWithErrors outcome
    success: tuple[str, str] = ("SYS053", "Successfully applied the configuration.")
    result: Any = None  # e.g. the exported SCP
    target_uri: str | None = None
    applied: bool = False
    apply_with_errors: bool = False  # CompletedWithErrors that still applied what it could (an SCP import)
    cancelled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def tick(self, now: float) -> None:
        if self.applied or self.cancelled or self.start_at is None:
            return
        if now >= self.start_at + self.duration:
            self.applied = True
            clean = self.with_errors is None or self.apply_with_errors
            if self.fail_with is None and clean and self.on_complete is not None:
                self.on_complete()

    def state(self, now: float) -> tuple[str, int, str, str]:
        """(JobState, PercentComplete, MessageId, Message) at ``now``."""
        if self.cancelled:
            return "Failed", 0, "SYS018", "Job was cancelled by the user."
        if self.start_at is None:
            return "Scheduled", 0, "JCP001", "Task successfully scheduled."
        if now < self.start_at:
            return "Scheduled", 0, "JCP001", "Task successfully scheduled."
        elapsed = now - self.start_at
        if elapsed < self.duration:
            pct = max(1, min(99, int(100 * elapsed / self.duration))) if self.duration else 99
            return "Running", pct, "PR19", "Job in progress."
        if self.fail_with is not None:
            return "Failed", 100, *self.fail_with
        if self.with_errors is not None:
            return "CompletedWithErrors", 100, *self.with_errors
        return "Completed", 100, *self.success

    def finished(self, now: float) -> bool:
        return self.state(now)[0] in ("Completed", "Failed", "CompletedWithErrors")
