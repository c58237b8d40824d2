"""Pure scheduling rules: recurrence in a window's time zone, overlaps, a day's safety status, optimal windows.

No database and no clock of their own: the scheduler, the services and the console pass ``now`` in, so every rule
is tested on a controlled clock.

Recurrence reads the cron pattern on the wall clock of the window's IANA zone (``0 2 * * 0`` is 02:00 in Berlin
summer and winter alike). Two wall times are special, and DSM's rule for them is stated here and in the README:

- a time the clock **skips** (02:30 on the spring-forward night in Europe/Berlin) runs as far after the jump as it
  was after the skipped hour began: 02:30 runs at 03:30 local time — the window happens that night, not never;
- a time the clock **repeats** (02:30 on the fall-back night) runs once, at its first occurrence (summer time).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

MAX_OCCURRENCES = 1000


class ScheduleError(ValueError):
    """A pattern or zone that cannot be used; the message says what to give instead."""

    def __init__(self, field_name: str, problem: str, fix: str) -> None:
        super().__init__(f"{field_name} {problem}; {fix}")
        self.field = field_name
        self.problem = problem
        self.fix = fix


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name, or a ScheduleError naming the field (``Europe/Berlin``, not ``CET`` or ``+01:00``)."""
    text = (name or "").strip()
    if not text or text.startswith(("+", "-")) or ("/" not in text and text not in ("UTC", "Etc/UTC")):
        raise ScheduleError("timezone", f"{name!r} is not an IANA time zone",
                            "give a name such as Europe/Berlin, America/New_York or UTC")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        near = sorted(z for z in available_timezones() if z.lower().endswith(text.lower().rsplit("/", 1)[-1]))[:3]
        raise ScheduleError("timezone", f"{name!r} is not an IANA time zone",
                            "give a name such as " + (", ".join(near) or "Europe/Berlin or UTC")) from None


def check_cron(pattern: str) -> str:
    """A five-field cron pattern (minute hour day month weekday), stripped; or a ScheduleError."""
    text = " ".join((pattern or "").split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise ScheduleError("cron", f"{pattern!r} is not a five-field cron pattern",
                            "give minute hour day month weekday, e.g. '30 2 * * 0' (Sundays 02:30)")
    try:  # valid, yet a date that never comes ('0 0 30 2 *': 30 February) has no next time to run
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except ValueError:  # croniter's CroniterBadDateError: "failed to find next date"
        raise ScheduleError("cron", f"{pattern!r} never occurs (no such date in any year)",
                            "give a day that exists in the month, e.g. '0 0 28 2 *' or 'L' for the last day") from None
    return text


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``tz`` as UTC, by the module's rule: a skipped time moves forward by the gap, a
    repeated time is its first occurrence."""
    aware = wall.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC)


def occurrences(pattern: str, tz_name: str, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` starts (UTC) of ``pattern`` read in ``tz_name``, strictly after ``after``."""
    tz = zone(tz_name)
    text = check_cron(pattern)
    wall_after = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=2)  # a gap's moved times come later
    it = croniter(text, wall_after)
    found: list[datetime] = []
    guard = 0
    while len(found) < count and guard < MAX_OCCURRENCES + count * 4:
        guard += 1
        start = localize(it.get_next(datetime), tz)
        if start > after and (not found or start > found[-1]):
            found.append(start)
    return found


def first_occurrence(pattern: str, tz_name: str, at_or_after: datetime) -> datetime:
    """The first start of ``pattern`` at or after ``at_or_after`` (a recurring window's first instance)."""
    return occurrences(pattern, tz_name, at_or_after - timedelta(seconds=1), 1)[0]


def closest_starts(pattern: str, tz_name: str, first: datetime, count: int = 400) -> tuple[timedelta, datetime]:
    """The shortest time between two consecutive starts among the first ``count`` + 1 from ``first`` (a year of a
    daily pattern, so a time-zone change is among them), and where it falls: a recurring window longer than that
    would overlap its own next instance."""
    starts = [first, *occurrences(pattern, tz_name, first, count)]
    gap, at = min(((b - a, a) for a, b in pairwise(starts)), default=(timedelta.max, first))
    return gap, at


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


# --- a day's safety, as the calendar shows it -----------------------------------------------------------------------

DAY_STATUSES = ("safe", "warning", "unsafe", "unchecked")
_RANK = {"unchecked": 0, "safe": 1, "warning": 2, "unsafe": 3}


@dataclass(frozen=True)
class CheckPoint:
    """One stored safety check, reduced to what the calendar and the suggestions read."""

    target: str
    at: datetime
    safe: bool
    healthy: int = 0
    total: int = 0
    warning: bool = False


def target_day_status(checks: Sequence[CheckPoint]) -> str:
    """One target's day: unsafe when its last check that day was unsafe; warning when it was unsafe earlier that
    day (or safe with warnings); safe when every check was safe; unchecked without a check."""
    if not checks:
        return "unchecked"
    ordered = sorted(checks, key=lambda c: c.at)
    if not ordered[-1].safe:
        return "unsafe"
    if any(not c.safe or c.warning for c in ordered):
        return "warning"
    return "safe"


def day_status(checks: Iterable[CheckPoint]) -> str:
    """The worst of the targets' statuses that day."""
    by_target: dict[str, list[CheckPoint]] = {}
    for c in checks:
        by_target.setdefault(c.target, []).append(c)
    worst = "unchecked"
    for items in by_target.values():
        status = target_day_status(items)
        if _RANK[status] > _RANK[worst]:
            worst = status
    return worst


def daily_statuses(checks: Iterable[CheckPoint], tz: ZoneInfo) -> dict[date, str]:
    """Every day (in ``tz``) that has checks, with its status; O(checks)."""
    by_day: dict[date, list[CheckPoint]] = {}
    for c in checks:
        by_day.setdefault(c.at.astimezone(tz).date(), []).append(c)
    return {d: day_status(items) for d, items in by_day.items()}


# --- optimal windows ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Busy:
    """An existing window: its targets and its time."""

    targets: frozenset[str]
    start: datetime
    end: datetime
    title: str = ""


@dataclass
class Suggestion:
    start: datetime
    end: datetime
    duration_hours: float
    confidence: str
    affected_targets: list[str]
    all_targets_safe: bool
    avg_healthy: float | None
    avg_total: float | None
    reason: str
    score: float = field(default=0.0, repr=False)

    def view(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "duration_hours": self.duration_hours,
            "confidence": self.confidence, "affected_targets": self.affected_targets,
            "all_targets_safe": self.all_targets_safe, "avg_healthy": self.avg_healthy, "avg_total": self.avg_total,
            "reason": self.reason,
        }


_CONFIDENCE_RANK = {"high": 2, "medium": 1, "low": 0}


def _ratio(items: Sequence[CheckPoint]) -> float | None:
    return sum(c.safe for c in items) / len(items) if items else None


def suggest_windows(
    targets: Sequence[str],
    checks: Sequence[CheckPoint],
    busy: Sequence[Busy],
    *,
    first_day: date,
    days: int,
    duration_hours: float,
    tz: ZoneInfo,
    local_start: time = time(2, 0),
    limit: int = 10,
) -> list[Suggestion]:
    """Windows worth proposing over ``days`` days from ``first_day``, best first.

    Each day offers one window at ``local_start`` (02:00 by default: the quiet hours) for ``duration_hours``. A day
    whose window overlaps an existing window on one of the targets is not offered. Confidence per target comes from
    its safety history: the share of safe checks on the same weekday (or overall, with fewer than three such
    checks), and its latest verdict; the window's confidence is its weakest target's:
    high (≥ 95 % safe, ≥ 5 checks, latest safe), medium (≥ 80 %, latest safe), low otherwise or without history.
    """
    wanted = list(dict.fromkeys(targets))
    history: dict[str, list[CheckPoint]] = {t: [] for t in wanted}
    for c in checks:
        if c.target in history:
            history[c.target].append(c)
    for items in history.values():
        items.sort(key=lambda c: c.at)
    found: list[Suggestion] = []
    length = timedelta(hours=duration_hours)
    for n in range(days):
        day = first_day + timedelta(days=n)
        start = localize(datetime.combine(day, local_start), tz)
        end = start + length
        clash = next((b for b in busy if b.targets & set(wanted) and overlaps(start, end, b.start, b.end)), None)
        if clash is not None:
            continue
        levels: list[str] = []
        notes: list[str] = []
        healthy: list[int] = []
        total: list[int] = []
        all_safe = True
        for t in wanted:
            items = [c for c in history[t] if c.at < start]
            if not items:
                levels.append("low")
                notes.append(f"{t}: no safety history")
                all_safe = False
                continue
            latest = items[-1]
            all_safe = all_safe and latest.safe
            same_day = [c for c in items if c.at.astimezone(tz).weekday() == day.weekday()]
            basis = same_day if len(same_day) >= 3 else items
            ratio = _ratio(basis) or 0.0
            healthy.append(latest.healthy)
            total.append(latest.total)
            if ratio >= 0.95 and len(basis) >= 5 and latest.safe:
                levels.append("high")
            elif ratio >= 0.8 and latest.safe:
                levels.append("medium")
                notes.append(f"{t}: {ratio:.0%} of {len(basis)} checks safe")
            else:
                levels.append("low")
                notes.append(f"{t}: {ratio:.0%} of {len(basis)} checks safe" + ("" if latest.safe else
                                                                                  ", latest unsafe"))
        confidence = min(levels, key=lambda lv: _CONFIDENCE_RANK[lv]) if levels else "low"
        reason = "; ".join(notes) if notes else "every target safe in its history, no conflicting window"
        found.append(Suggestion(
            start=start, end=end, duration_hours=duration_hours, confidence=confidence, affected_targets=wanted,
            all_targets_safe=all_safe, avg_healthy=(sum(healthy) / len(healthy)) if healthy else None,
            avg_total=(sum(total) / len(total)) if total else None, reason=reason,
            score=_CONFIDENCE_RANK[confidence] * 1000 - n,
        ))
    found.sort(key=lambda s: -s.score)
    return found[:limit]


def matches_any(name: str, patterns: str) -> bool:
    """Whether ``name`` matches one of the comma-separated glob ``patterns`` (``prod-*,core``)."""
    return any(fnmatch.fnmatchcase(name, p.strip()) for p in patterns.split(",") if p.strip())
