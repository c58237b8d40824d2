"""Simulated time: real elapsed time multiplied by a scale, so a 20-minute firmware job runs in seconds.

Everything time-dependent in the simulator (jobs, power transitions, session idle timeouts, iDRAC
reboots) is evaluated lazily against this clock when a request arrives, so a thousand idle iDRACs
cost nothing between requests.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone


class SimClock:
    def __init__(self, time_scale: float = 1.0, start: datetime | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time scale must be > 0")
        self.scale = time_scale
        self._t0 = time.monotonic()
        self._start = start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> float:
        """Simulated seconds since the fleet started."""
        return (time.monotonic() - self._t0) * self.scale

    def wall(self, at: float | None = None) -> datetime:
        return self._start + timedelta(seconds=self.now() if at is None else at)

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.scale


def dell_time(value: datetime, offset_hours: int = -6) -> str:
    """iDRAC timestamps carry the iDRAC's local offset, e.g. 2024-06-11T00:12:59-05:00."""
    return value.astimezone(timezone(timedelta(hours=offset_hours))).isoformat(timespec="seconds")
