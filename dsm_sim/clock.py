"""Simulated time: real elapsed time multiplied by a scale, so a 20-minute firmware job runs in seconds.

Everything time-dependent in the simulator (jobs, power transitions, session idle timeouts, iDRAC
reboots) is evaluated lazily against this clock when a request arrives, so a thousand idle iDRACs
cost nothing between requests.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


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
