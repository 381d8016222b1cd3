"""Department quality for a month (shared/quality.py), on a known set of histories."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.quality import department_quality, month_bounds

START, END = month_bounds("2026-11")
DAY = timedelta(days=1)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def appeal(registered: datetime, *entries: tuple) -> dict:
    history = [{"status": "registered", "at": registered, "by": "intake"}]
    history += [{"status": s, "at": when, "by": by, **({"due_at": due} if due else {})} for s, when, by, due in entries]
    return {"registered_at": registered, "history": history}


KNOWN = [
    # On time, confirmed fixed: 24 hours.
    appeal(
        at(1),
        ("assigned", at(1), "dispatcher", None),
        ("resolved", at(2), "lifts", at(5)),
        ("closed", at(3), "resident", None),
    ),
    # Late, then disputed and reopened, resolved again on time (both resolutions count in November).
    appeal(
        at(3),
        ("resolved", at(10), "lifts", at(6)),
        ("reopened", at(11), "resident", at(14)),
        ("resolved", at(12), "lifts", at(14)),
    ),
    # Another department, resolved in October: not counted; its reopen in November is.
    appeal(
        datetime(2026, 10, 20, tzinfo=UTC),
        ("resolved", datetime(2026, 10, 30, tzinfo=UTC), "roads", datetime(2026, 11, 5, tzinfo=UTC)),
        ("reopened", at(2), "resident", None),
    ),
]


def test_the_figures_of_a_known_set():
    lifts, roads = department_quality(KNOWN, START, END)
    assert (lifts.department, lifts.resolved, lifts.on_time, lifts.disputed, lifts.reopens) == ("lifts", 3, 2, 1, 1)
    assert lifts.on_time_share == pytest.approx(2 / 3) and lifts.disputed_share == pytest.approx(1 / 3)
    # 24 h, 7 days, 9 days.
    assert lifts.median_hours_to_resolve == 7 * 24
    assert (roads.resolved, roads.reopens, roads.on_time_share, roads.median_hours_to_resolve) == (0, 1, None, None)


def test_the_month_is_kyiv_time_and_bad_months_are_named():
    start, end = month_bounds("2026-12")
    assert start.isoformat() == "2026-12-01T00:00:00+02:00" and end.isoformat() == "2027-01-01T00:00:00+02:00"
    with pytest.raises(ValueError, match="2026-13"):
        month_bounds("2026-13")
