"""What the triage queue, the department board and the supervisor board read, as typed models.

The console only reads appeals and incidents here (the dispatcher owns them); what a board changes goes through the
dispatcher's triage API or as a `DepartmentUpdate` on `dept.updates`. No page reads more than its rows:

- triage queue and department board: the numbers of the page's rows, and the counts, come from the console's queues
  in memory (services/console/queues.py); the rows are read by number (`_id` with `$in`), so a page costs its page
  size, however many appeals wait. The department's open incidents: `incidents` by `department` + `status`.
- supervisor board: open and overdue appeals by department, and the overdue appeals, from the same queues; today's
  intake, the last 30 days' resolutions and the open incidents grouped from the store by a background job
  (`supervisor_history`), shown with the time it ran.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import phonenumbers
from fastapi import Depends, Request
from pymongo import ASCENDING, DESCENDING

from services.console.queues import OPEN, TRIAGE, Move, QueueBook, moves_of_documents, placement_of_document
from services.console.repository import SUMMARY_FIELDS, AppealSummary, IncidentSummary, _read, summary
from shared.errors import TransientError
from shared.quality import DepartmentQuality, department_quality, history_query, month_bounds
from shared.store import APPEALS, INCIDENTS, Store

# What a row of a board reads of an appeal: its summary, and what says where it waits (the book checks it).
ROW_FIELDS = {**SUMMARY_FIELDS, "updated_at": 1}
# What the scan of open appeals reads of each: where it waits, what orders it, the version of its last change.
PLACE_FIELDS = {"status": 1, "received_at": 1, "updated_at": 1, "assignment.department": 1, "assignment.due_at": 1}
UNCLASSIFIED = "unclassified"
# What a department may report on an appeal in each status, as the dispatcher accepts it: the board offers only
# these, so nobody sends a report the dispatcher would refuse (it would go to dept.updates.dlq, unseen).
ACTIONS_BY_STATUS = {
    "assigned": ("accepted", "in_progress", "resolved", "rejected", "misrouted"),
    "accepted": ("in_progress", "resolved", "rejected", "misrouted"),
    "in_progress": ("in_progress", "resolved", "rejected", "misrouted"),
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
class SupervisorHistory:
    """The supervisor's figures that need a grouping over the store, as the background job last computed them."""

    computed_at: datetime
    day_start: datetime
    intake_by_channel: dict[str, int]
    unclassified_today: int
    closed: list[dict[str, Any]]
    incidents: list[IncidentLine]
    open_incidents: int
    on_time_since: datetime
    # Execution control: this month's quality by department, residents to ask for their verdict by phone, and
    # resolutions the resident disputed twice (the supervisor decides).
    month: str = ""
    quality: list[DepartmentQuality] = field(default_factory=list)
    callbacks: list[AppealSummary] = field(default_factory=list)
    disputed: list[AppealSummary] = field(default_factory=list)


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
    def __init__(self, store: Store, queues: QueueBook) -> None:
        self.store = store
        self.queues = queues

    @property
    def appeals(self):
        return self.store.db[APPEALS]

    async def rows(self, appeal_ids: list[str], queue: str | None = None) -> list[dict[str, Any]]:
        """The appeals' summary fields by number, in the order given. With `queue`: only those the store still has
        there; one it has elsewhere moves in the book at once (an event not yet heard of), so the next page is right."""
        if not appeal_ids:
            return []
        cursor = self.appeals.find({"_id": {"$in": appeal_ids}}, ROW_FIELDS)
        found = {document["_id"]: document for document in await _read(cursor.to_list())}
        if queue is not None:
            moved = [document for document in found.values() if _queue_of(document) != queue]
            self.queues.apply(moves_of_documents(moved))
            for appeal_id in set(appeal_ids) - found.keys():
                self.queues.leave(appeal_id, queue)
            found = {appeal_id: document for appeal_id, document in found.items() if _queue_of(document) == queue}
        return [found[appeal_id] for appeal_id in appeal_ids if appeal_id in found]

    async def open_appeals(self) -> list[Move]:
        """Where every open appeal waits, as the store has it: one projected scan, what builds and heals the queues."""
        cursor = self.appeals.find({"status": {"$in": list(OPEN)}}, PLACE_FIELDS)
        return moves_of_documents(await _read(cursor.to_list()))

    def _built(self) -> None:
        if not self.queues.built:
            raise TransientError("the queues are still being read from the store")

    async def triage_queue(self, limit: int) -> tuple[list[TriageEntry], int]:
        """The appeals waiting for an operator, oldest first, and how many wait in all."""
        self._built()
        documents = await self.rows(self.queues.page(TRIAGE, limit), TRIAGE)
        entries = [TriageEntry(summary(document), *triage_reason(document)) for document in documents]
        return entries, self.queues.count(TRIAGE)

    async def department_tasks(self, department: str, limit: int) -> tuple[list[AppealSummary], int]:
        """The department's open appeals, the soonest due first, and how many it has open in all."""
        self._built()
        documents = await self.rows(self.queues.page(department, limit), department)
        return [summary(document) for document in documents], self.queues.count(department)

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

    async def supervisor_history(self, now: datetime, day_start: datetime) -> SupervisorHistory:
        """The figures of what has happened (today's intake, the last 30 days' resolutions, the open incidents):
        grouped from the store by the background job."""
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
        return SupervisorHistory(
            computed_at=now,
            day_start=day_start,
            intake_by_channel=dict(sorted(((row["_id"], row["count"]) for row in today), key=lambda item: -item[1])),
            unclassified_today=sum(row["unclassified"] for row in today),
            closed=closed,
            incidents=incidents,
            open_incidents=open_incidents,
            on_time_since=since,
            month=month,
            quality=department_quality(resolved_this_month, month_start, month_end),
            callbacks=[summary(document) for document in awaiting if phone_only(document.get("contact") or {})][:50],
            disputed=[summary(document) for document in disputed],
        )

    async def supervisor_board(
        self, now: datetime, history: SupervisorHistory, overdue_limit: int = 25
    ) -> SupervisorBoard:
        """The board as of `now`: what is open and overdue from the queues, the rest from the last `history`."""
        self._built()
        open_now = [
            {"_id": department, "open": opened, "overdue": overdue}
            for department, (opened, overdue) in self.queues.open_by_department(now).items()
        ]
        overdue = await self.rows(self.queues.overdue(now, overdue_limit))
        return SupervisorBoard(
            day_start=history.day_start,
            intake_by_channel=history.intake_by_channel,
            unclassified_today=history.unclassified_today,
            departments=department_lines(open_now, history.closed),
            overdue=[summary(document) for document in overdue],
            incidents=history.incidents,
            open_incidents=history.open_incidents,
            on_time_since=history.on_time_since,
            month=history.month,
            quality=history.quality,
            callbacks=history.callbacks,
            disputed=history.disputed,
        )


def _queue_of(document: dict[str, Any]) -> str | None:
    placement = placement_of_document(document)
    return placement.queue if placement else None


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
    return BoardReads(request.app.state.store, request.app.state.queues)


BoardsDep = Annotated[BoardReads, Depends(board_reads)]
