"""Pure scheduling rules: recurrence in a zone (the stated DST rule), a day's safety, optimal windows."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsm_core.scheduling import (
    Busy,
    CheckPoint,
    ScheduleError,
    check_cron,
    day_status,
    occurrences,
    suggest_windows,
    zone,
)

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC", "America/Santiago")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), st.integers(0, 59), st.integers(0, 23), st.integers(0, 6),
       st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1)))
def test_weekly_occurrences_keep_their_local_time_except_in_a_gap(tz_name: str, minute: int, hour: int,
                                                                  weekday: int, after: datetime) -> None:
    tz = ZoneInfo(tz_name)
    start = after.replace(tzinfo=UTC)
    found = occurrences(f"{minute} {hour} * * {(weekday + 1) % 7}", tz_name, start, 8)
    assert len(found) == 8 and all(a < b for a, b in itertools.pairwise(found))
    assert found[0] > start
    for at in found:
        local = at.astimezone(tz)
        assert local.weekday() == weekday
        wall = datetime.combine(local.date(), time(hour, minute))
        if wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
            assert (local.hour, local.minute) == (hour, minute)  # an existing wall time is kept exactly
        else:  # the clock skipped it: it runs as far after the jump as it was into the gap (02:30 → 03:30)
            gap = wall.replace(tzinfo=tz).utcoffset() - (wall + timedelta(hours=3)).replace(tzinfo=tz).utcoffset()
            assert local.replace(tzinfo=None) == wall - gap and gap < timedelta(0)
    gaps = [b - a for a, b in itertools.pairwise(found)]
    assert all(timedelta(days=6, hours=21) <= g <= timedelta(days=7, hours=3) for g in gaps)


def test_the_skipped_hour_runs_as_far_after_the_jump_as_it_was_into_the_gap() -> None:
    found = occurrences("30 2 * * *", "Europe/Berlin", datetime(2027, 3, 27, 12, tzinfo=UTC), 2)
    assert [t.astimezone(ZoneInfo("Europe/Berlin")).strftime("%d %H:%M %Z") for t in found] == [
        "28 03:30 CEST", "29 02:30 CEST"]
    new_york = occurrences("15 2 * * *", "America/New_York", datetime(2027, 3, 13, 12, tzinfo=UTC), 1)
    assert new_york[0].astimezone(ZoneInfo("America/New_York")).strftime("%d %H:%M") == "14 03:15"


def test_the_repeated_hour_runs_once_at_its_first_occurrence() -> None:
    found = occurrences("30 2 * * *", "Europe/Berlin", datetime(2027, 10, 30, 12, tzinfo=UTC), 2)
    assert [t.isoformat() for t in found] == ["2027-10-31T00:30:00+00:00", "2027-11-01T01:30:00+00:00"]


def test_bad_zones_and_patterns_name_the_field_and_the_fix() -> None:
    for bad in ("CET", "+01:00", "Europe/Nowhere", ""):
        with pytest.raises(ScheduleError) as refused:
            zone(bad)
        assert refused.value.field == "timezone" and "IANA" in str(refused.value)
    for bad in ("every sunday", "0 2 * *", "0 2 * * * *", "61 2 * * *"):
        with pytest.raises(ScheduleError) as refused:
            check_cron(bad)
        assert refused.value.field == "cron" and "minute hour day month weekday" in str(refused.value)


def test_a_days_status_is_its_worst_target() -> None:
    at = datetime(2027, 1, 10, 6, tzinfo=UTC)
    safe, unsafe = CheckPoint("a", at, True), CheckPoint("a", at + timedelta(hours=6), False)
    assert day_status([]) == "unchecked"
    assert day_status([safe]) == "safe"
    assert day_status([safe, unsafe]) == "unsafe"  # unsafe at its last check
    assert day_status([unsafe, CheckPoint("a", at + timedelta(hours=12), True)]) == "warning"
    assert day_status([safe, CheckPoint("b", at, True, warning=True)]) == "warning"
    assert day_status([safe, CheckPoint("b", at, False)]) == "unsafe"


def test_optimal_windows_rank_by_history_and_avoid_conflicts() -> None:
    tz = ZoneInfo("UTC")
    first = date(2027, 2, 1)
    days = [datetime(2026, 12, 1, 6, tzinfo=UTC) + timedelta(days=d) for d in range(62)]  # ≥ 8 of each weekday
    history = [CheckPoint("good", at, True, 8, 8) for at in days]
    history += [CheckPoint("flaky", at, n % 3 != 0, 6, 8) for n, at in enumerate(days)]
    busy = [Busy(frozenset({"good"}), datetime(2027, 2, 2, 1, tzinfo=UTC), datetime(2027, 2, 2, 5, tzinfo=UTC))]
    found = suggest_windows(["good"], history, busy, first_day=first, days=5, duration_hours=4, tz=tz)
    assert [s.start.date().day for s in found] == [1, 3, 4, 5]  # the 2nd conflicts with a planned window
    assert all(s.confidence == "high" and s.all_targets_safe for s in found)
    mixed = suggest_windows(["good", "flaky"], history, [], first_day=first, days=3, duration_hours=4, tz=tz)
    assert all(s.confidence == "low" and "flaky" in s.reason for s in mixed)  # the weakest target decides
    unknown = suggest_windows(["new"], history, [], first_day=first, days=1, duration_hours=4, tz=tz)
    assert unknown[0].confidence == "low" and "no safety history" in unknown[0].reason


def test_a_valid_cron_pattern_whose_date_never_comes_is_refused_naming_the_field() -> None:
    """'0 0 30 2 *' (30 February) is valid to croniter but has no next time: it crashed `dsm windows create`."""
    from dsm_core.scheduling import ScheduleError, check_cron

    with pytest.raises(ScheduleError) as caught:
        check_cron("0 0 30 2 *")
    assert caught.value.field == "cron" and "never occurs" in caught.value.problem
    assert check_cron("0 0 29 2 *") == "0 0 29 2 *"  # a leap day comes
