"""Department quality for a month, from the appeals' histories (the console's supervisor board and
`cityline report departments` both show it): on-time share, disputed-resolution share, reopen count and median time
to resolve, per department.

A month is the city's (Europe/Kyiv). A resolution counts in the month it was reported, for the department that
reported it; it is on time when reported by the due time in force then (extensions and pauses included, as the
dispatcher records it on the history entry), and disputed when the resident's next verdict on it was "not fixed".
"""

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# What follows a resolution: the resident's verdict on it, or the next resolution.
_VERDICTS = ("reopened", "disputed", "closed")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` -> its first instant and the next month's, in Kyiv time. ValueError naming the input."""
    match = MONTH.match(month)
    if match is None:
        raise ValueError(f"month {month!r}: expected YYYY-MM, e.g. 2026-11")
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, number, 1, tzinfo=KYIV)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=KYIV)
    return start, end


@dataclass
class DepartmentQuality:
    department: str
    resolved: int = 0
    on_time: int = 0
    disputed: int = 0
    reopens: int = 0
    hours_to_resolve: list[float] = field(default_factory=list)

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.resolved if self.resolved else None

    @property
    def disputed_share(self) -> float | None:
        return self.disputed / self.resolved if self.resolved else None

    @property
    def median_hours_to_resolve(self) -> float | None:
        return statistics.median(self.hours_to_resolve) if self.hours_to_resolve else None


def department_quality(appeals: Iterable[dict[str, Any]], start: datetime, end: datetime) -> list[DepartmentQuality]:
    """Each department's figures over [start, end), from appeal documents (their `registered_at` and `history`)."""
    found: dict[str, DepartmentQuality] = defaultdict(lambda: DepartmentQuality(""))
    for appeal in appeals:
        history = appeal.get("history") or []
        registered = appeal.get("registered_at")
        held_by = ""
        for index, entry in enumerate(history):
            status, at = entry.get("status"), entry.get("at")
            if status == "resolved":
                held_by = entry.get("by", "")
            inside = at is not None and start <= at < end
            if not inside or not held_by:
                continue
            line = found[held_by]
            line.department = held_by
            if status == "reopened":
                line.reopens += 1
            if status != "resolved":
                continue
            line.resolved += 1
            due = entry.get("due_at")
            line.on_time += due is None or at <= due
            verdict = next((later["status"] for later in history[index + 1 :] if later["status"] in _VERDICTS), None)
            line.disputed += verdict in ("reopened", "disputed")
            if registered is not None:
                line.hours_to_resolve.append((at - registered) / timedelta(hours=1))
    return sorted(found.values(), key=lambda line: line.department)


def history_query(start: datetime, end: datetime) -> dict[str, Any]:
    """The store's filter for appeals with a resolution or a reopen in [start, end)."""
    return {"history": {"$elemMatch": {"status": {"$in": ["resolved", "reopened"]}, "at": {"$gte": start, "$lt": end}}}}
