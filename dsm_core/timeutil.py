"""UTC time helpers: every timestamp DSM stores is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes even for timezone columns; treat them as the UTC they were."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: an age back from now (``90m``, ``2h``, ``7d``, ``1w``) or an ISO time (no offset = UTC).

    Raises ValueError with the accepted forms; callers name the field."""
    value = text.strip()
    unit = value[-1:].lower()
    if unit in _AGE_UNITS and value[:-1].isdigit():
        return (now or utcnow()) - timedelta(seconds=int(value[:-1]) * _AGE_UNITS[unit])
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an age nor an ISO time; give e.g. 2h, 7d or "
                         "2026-11-30T08:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def humanize_age(then: datetime | None, now: datetime | None = None) -> str:
    """``3 m ago``, ``2 h 5 m ago``, ``in 4 m`` (scheduled): what a table shows instead of an ISO time."""
    if then is None:
        return "-"
    seconds = int(((now or utcnow()) - then.astimezone(UTC)).total_seconds()) if then.tzinfo else \
        int(((now or utcnow()) - then.replace(tzinfo=UTC)).total_seconds())
    text = humanize_duration(abs(seconds))
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def humanize_duration(seconds: float | None) -> str:
    """``45 s``, ``12 m``, ``2 h 5 m``, ``3 d 4 h``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} m"
    if s < 86_400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} m" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def humanize_bytes(value: float | None, unit: str = "B") -> str:
    """``960 GB``, ``1.9 TB`` (decimal, as disk vendors and iDRACs label them)."""
    if value is None:
        return "-"
    n = float(value)
    order = ("B", "KB", "MB", "GB", "TB", "PB")
    i = order.index(unit)
    while n >= 1000 and i < len(order) - 1:
        n /= 1000
        i += 1
    return f"{n:.0f} {order[i]}" if n >= 100 or n == int(n) else f"{n:.1f} {order[i]}"
