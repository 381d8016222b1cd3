"""What the triage queue, the department board and the supervisor board read from the store, as typed models.

The console only reads appeals and incidents here (the dispatcher owns them); what a board changes goes through the
dispatcher's triage API or as a `DepartmentUpdate` on `dept.updates`. Each screen is one or two queries on an index
(see `ensure_board_indexes`), never a scan of every appeal:

- triage queue: `status` + `received_at` (`triage_oldest`);
- department board: `assignment.department` + `status` + `assignment.due_at` (`department_open_by_due`), and the
  department's open incidents (`incidents` by `department` + `status`);
- supervisor board: today's intake on `received_at`, open appeals on `status` + `assignment.due_at` (the
  dispatcher's `open_by_due`), appeals closed in the last days on `status` + `updated_at` (`closed_recently`);
  execution control: the month's department quality (appeals with a resolution or reopen this month), the residents
  to call back for their verdict (`status` + `awaiting_reply.expires_at`, the dispatcher's `unanswered`) and the
  disputed appeals.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import phonenumbers
from fastapi import Depends, Request
from pymongo import ASCENDING, DESCENDING

from services.console.repository import SUMMARY_FIELDS, AppealSummary, IncidentSummary, _read, summary
from shared.quality import DepartmentQuality, department_quality, history_query, month_bounds
from shared.store import APPEALS, INCIDENTS, Store

# The appeal statuses of work in progress at a department, and of an appeal nobody has closed yet.
ACTIVE = ("assigned", "accepted", "in_progress", "reopened")
OPEN = ("triage", *ACTIVE)
CLOSED = ("resolved", "rejected")
UNCLASSIFIED = "unclassified"
# What a department may report on an appeal in each status, as the dispatcher accepts it: the board offers only
# these, so nobody sends a report the dispatcher would refuse (it would go to dept.updates.dlq, unseen).
ACTIONS_BY_STATUS = {
    "assigned": ("accepted", "in_progress", "resolved", "rejected", "misrouted"),
    "accepted": ("in_progress", "resolved", "rejected", "misrouted"),
    "in_progress": ("in_progress", "resolved", "rejected", "misrouted"),
    "reopened": ("accepted", "in_progress", "resolved", "rejected", "misrouted"),
}
# The on-time share counts appeals closed within this many days.
ON_TIME_WINDOW = timedelta(days=30)


async def ensure_board_indexes(store: Store) -> None:
    """The indexes the boards' queries use; built at the console's start (the store keeps one copy of each)."""
    appeals = store.db[APPEALS]
    await appeals.create_index([("status", ASCENDING), ("received_at", ASCENDING)], name="triage_oldest")
    await appeals.create_index(
        [("assignment.department", ASCENDING), ("status", ASCENDING), ("assignment.due_at", ASCENDING)],
        name="department_open_by_due",
    )
    await appeals.create_index([("status", ASCENDING), ("updated_at", ASCENDING)], name="closed_recently")
    # The appeal pages: a caller's appeals by their number; a department's appeals, newest first.
    await appeals.create_index([("contact.phone", ASCENDING)], name="caller", sparse=True)
    await appeals.create_index(
        [("assignment.department", ASCENDING), ("received_at", ASCENDING)], name="department_newest"
    )
    await store.db[INCIDENTS].create_index(
        [("department", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)], name="department_open"
    )


@dataclass(frozen=True)
class TriageEntry:
    appeal: AppealSummary
    # Why it waits for a person: "unclassified", "misrouted" (a department sent it back) or "no_district".
    reason: str
    note: str


class IncidentLine(IncidentSummary):
    """An open incident as the boards list it: with its due time."""

    due_at: datetime

    @classmethod
    def of(cls, document: dict[str, Any]) -> "IncidentLine":
        return cls.from_document(document, due_at=document["due_at"])  # type: ignore[return-value]


@dataclass(frozen=True)
class DepartmentLine:
    department: str
    open: int = 0
    overdue: int = 0
    closed: int = 0  # resolved in the on-time window
    on_time: int = 0

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.closed if self.closed else None


@dataclass(frozen=True)
class SupervisorBoard:
    day_start: datetime
    intake_by_channel: dict[str, int]
    unclassified_today: int
    departments: list[DepartmentLine]
    overdue: list[AppealSummary]
    incidents: list[IncidentLine]
    open_incidents: int
    on_time_since: datetime
    # Execution control: this month's quality by department, residents to ask for their verdict by phone, and
    # resolutions the resident disputed twice (the supervisor decides).
    month: str = ""
    quality: list[DepartmentQuality] = field(default_factory=list)
    callbacks: list[AppealSummary] = field(default_factory=list)
    disputed: list[AppealSummary] = field(default_factory=list)

    @property
    def intake_today(self) -> int:
        return sum(self.intake_by_channel.values())

    @property
    def unclassified_share(self) -> float | None:
        return self.unclassified_today / self.intake_today if self.intake_today else None


def triage_reason(document: dict[str, Any]) -> tuple[str, str]:
    """Why an appeal waits in triage, from what the dispatcher recorded: its category, or the last note."""
    category = (document.get("classification") or {}).get("category")
    reason_text = (document.get("assignment") or {}).get("reason", "")
    if reason_text.startswith("misrouted by"):
        return "misrouted", reason_text
    if category in (None, UNCLASSIFIED):
        return "unclassified", reason_text
    return "no_district", reason_text


class BoardReads:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def appeals(self):
        return self.store.db[APPEALS]

    async def triage_queue(self, limit: int) -> tuple[list[TriageEntry], int]:
        """The appeals waiting for an operator, oldest first, and how many wait in all."""
        cursor = self.appeals.find({"status": "triage"}, SUMMARY_FIELDS).sort("received_at", ASCENDING).limit(limit)
        documents = await _read(cursor.to_list())
        waiting = await _read(self.appeals.count_documents({"status": "triage"}))
        return [TriageEntry(summary(document), *triage_reason(document)) for document in documents], waiting

    async def department_tasks(self, department: str, limit: int) -> tuple[list[AppealSummary], int]:
        """The department's open appeals, the soonest due first, and how many it has open in all."""
        selector = {"assignment.department": department, "status": {"$in": list(ACTIVE)}}
        cursor = self.appeals.find(selector, SUMMARY_FIELDS).sort("assignment.due_at", ASCENDING).limit(limit)
        documents = await _read(cursor.to_list())
        total = await _read(self.appeals.count_documents(selector))
        return [summary(document) for document in documents], total

    async def department_incidents(self, department: str, limit: int = 50) -> list[IncidentLine]:
        cursor = (
            self.store.db[INCIDENTS]
            .find({"department": department, "status": "open"}, {"texts": 0})
            .sort("due_at", ASCENDING)
            .limit(limit)
        )
        return [IncidentLine.of(document) for document in await _read(cursor.to_list())]

    async def task(self, appeal_id: str) -> dict[str, Any] | None:
        """The fields a department report needs: the appeal's department, status and correlation id."""
        return await _read(
            self.appeals.find_one(
                {"_id": appeal_id}, {"assignment.department": 1, "status": 1, "correlation_id": 1, "text": 1}
            )
        )

    async def supervisor_board(self, now: datetime, day_start: datetime, overdue_limit: int = 25) -> SupervisorBoard:
        today = await _read(
            (
                await self.appeals.aggregate(
                    [
                        {"$match": {"received_at": {"$gte": day_start}}},
                        {
                            "$group": {
                                "_id": "$channel",
                                "count": {"$sum": 1},
                                "unclassified": {
                                    "$sum": {"$cond": [{"$eq": ["$classification.category", UNCLASSIFIED]}, 1, 0]}
                                },
                            }
                        },
                    ]
                )
            ).to_list()
        )
        open_now = await _read(
            (
                await self.appeals.aggregate(
                    [
                        {"$match": {"status": {"$in": list(OPEN)}}},
                        {
                            "$group": {
                                "_id": "$assignment.department",
                                "open": {"$sum": 1},
                                "overdue": {"$sum": {"$cond": [{"$lt": ["$assignment.due_at", now]}, 1, 0]}},
                            }
                        },
                    ]
                )
            ).to_list()
        )
        since = now - ON_TIME_WINDOW
        closed = await _read(
            (
                await self.appeals.aggregate(
                    [
                        {"$match": {"status": "resolved", "updated_at": {"$gte": since}}},
                        {
                            "$group": {
                                "_id": "$assignment.department",
                                "closed": {"$sum": 1},
                                "on_time": {"$sum": {"$cond": [{"$lte": ["$updated_at", "$assignment.due_at"]}, 1, 0]}},
                            }
                        },
                    ]
                )
            ).to_list()
        )
        overdue = await _read(
            self.appeals.find({"status": {"$in": list(OPEN)}, "assignment.due_at": {"$lt": now}}, SUMMARY_FIELDS)
            .sort("assignment.due_at", ASCENDING)
            .limit(overdue_limit)
            .to_list()
        )
        incidents_cursor = self.store.db[INCIDENTS].find({"status": "open"}, {"texts": 0})
        incidents = [
            IncidentLine.of(document)
            for document in await _read(incidents_cursor.sort("last_at", DESCENDING).limit(20).to_list())
        ]
        open_incidents = await _read(self.store.db[INCIDENTS].count_documents({"status": "open"}))
        month = day_start.strftime("%Y-%m")
        month_start, month_end = month_bounds(month)
        resolved_this_month = await _read(
            self.appeals.find(history_query(month_start, month_end), {"registered_at": 1, "history": 1}).to_list()
        )
        asking = {"status": "resolved", "awaiting_reply.expires_at": {"$gt": now}, "awaiting_reply.used_at": None}
        awaiting = await _read(
            self.appeals.find(asking, {**SUMMARY_FIELDS, "contact.email": 1, "contact.notifications": 1})
            .sort("awaiting_reply.expires_at", ASCENDING)
            .limit(500)
            .to_list()
        )
        disputed = await _read(
            self.appeals.find({"status": "disputed"}, SUMMARY_FIELDS).sort("updated_at", DESCENDING).limit(25).to_list()
        )
        return SupervisorBoard(
            day_start=day_start,
            intake_by_channel=dict(sorted(((row["_id"], row["count"]) for row in today), key=lambda item: -item[1])),
            unclassified_today=sum(row["unclassified"] for row in today),
            departments=department_lines(open_now, closed),
            overdue=[summary(document) for document in overdue],
            incidents=incidents,
            open_incidents=open_incidents,
            on_time_since=since,
            month=month,
            quality=department_quality(resolved_this_month, month_start, month_end),
            callbacks=[summary(document) for document in awaiting if phone_only(document.get("contact") or {})][:50],
            disputed=[summary(document) for document in disputed],
        )


def department_lines(open_now: list[dict[str, Any]], closed: list[dict[str, Any]]) -> list[DepartmentLine]:
    """One line per department from the two groupings, the most overdue first."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for row in (*open_now, *closed):
        counts[row["_id"] or ""].update({key: value for key, value in row.items() if key != "_id"})
    lines = [DepartmentLine(department, **dict(found)) for department, found in counts.items() if department]
    return sorted(lines, key=lambda line: (-line.overdue, -line.open, line.department))


def phone_only(contact: dict[str, Any]) -> bool:
    """A resident the verdict question cannot reach in writing: a fixed-line number (no SMS) and no e-mail. An
    operator calls them back and records the answer."""
    phone = contact.get("phone")
    if not phone or contact.get("email") or contact.get("notifications") is False:
        return False
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(phone, "UA"))
    except phonenumbers.NumberParseException:
        return False
    return kind == phonenumbers.PhoneNumberType.FIXED_LINE


def board_reads(request: Request) -> BoardReads:
    return BoardReads(request.app.state.store)


BoardsDep = Annotated[BoardReads, Depends(board_reads)]
