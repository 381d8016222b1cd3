"""The dispatcher's store access, one repository per subscriber: `load` (the one read phase of a batch) and `apply`
(its one write phase: bulk, unordered, idempotent), mapping the typed documents of services/dispatcher/documents.py.

Every write onto an appeal carries the id of the event it stands for and is filtered on its absence from the
history, so a redelivered batch changes nothing; incident writes are additive for the same reason.
"""

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, UpdateMany, UpdateOne

from services.dispatcher.documents import AppealDoc, IncidentDoc
from services.dispatcher.domain import OPEN_STATUSES, Incident, StatusChange
from services.dispatcher.domain.assignments import AssignmentSnapshot, AssignmentWrites, RoutedBatch
from services.dispatcher.domain.reports import ReportSnapshot, ReportWrites
from shared.appeals import HistoryEntry, StageUpdate, as_operation
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import AppealAssigned, AppealEscalated
from shared.contracts.residents import ResidentReplied
from shared.store import APPEALS, INCIDENTS, Store


async def ensure_indexes(store: Store) -> None:
    # The overdue check scans open appeals by due time; incidents are found by place key.
    await store.db[APPEALS].create_index([("status", ASCENDING), ("assignment.due_at", ASCENDING)], name="open_by_due")
    await store.db[INCIDENTS].create_index([("key", ASCENDING), ("status", ASCENDING)], name="open_by_key")
    # Resolved appeals waiting for the resident's verdict, by when it is due (closed unanswered after).
    await store.db[APPEALS].create_index(
        [("status", ASCENDING), ("awaiting_reply.expires_at", ASCENDING)], name="unanswered"
    )


class AssignmentRepository(Protocol):
    async def load(self, batch: RoutedBatch) -> AssignmentSnapshot: ...
    async def apply(self, writes: AssignmentWrites) -> None: ...


class ReportRepository(Protocol):
    async def load(self, updates: Sequence[DepartmentUpdate]) -> ReportSnapshot: ...
    async def apply(self, writes: ReportWrites) -> None: ...


class ReplyRepository(Protocol):
    async def load(self, replies: Sequence[ResidentReplied]) -> dict[str, AppealDoc]: ...
    async def apply(self, writes: ReportWrites) -> None: ...


class OverdueRepository(Protocol):
    async def load(self, now: datetime, limit: int) -> list[AppealDoc]: ...
    async def apply(self, escalated: Sequence[AppealEscalated]) -> None: ...
    async def load_unanswered(self, now: datetime, limit: int) -> list[AppealDoc]: ...
    async def close(self, closures: Sequence[StatusChange]) -> None: ...


class DispatcherRepository(Protocol):
    """What the triage desk reads: appeals by id, and the page of appeals waiting for an operator."""

    async def load_appeals(self, appeal_ids: Sequence[str]) -> dict[str, AppealDoc]: ...
    async def triage_page(self, limit: int, after: str | None) -> list[dict]: ...
    async def record_staff_action(self, appeal_id: str, entry: HistoryEntry) -> bool | None: ...


# ---- documents and updates ------------------------------------------------------------------------------------------


def assignment_update(event: AppealAssigned) -> StageUpdate:
    """Classification and assignment onto the appeal together, in one update, with the two history entries."""
    assignment, classification = event.assignment, event.classification
    return StageUpdate(
        appeal_id=event.appeal_id,
        fields={
            "classification": classification.model_dump(mode="python"),
            "assignment": assignment.model_dump(mode="python"),
        },
        entries=(
            HistoryEntry(
                "classified",
                classification.decided_at or event.occurred_at,
                classification.decision_id,
                # An operator's decision in manual triage is recorded as theirs.
                "operator" if classification.decided_by == "operator" else "classifier",
            ),
            HistoryEntry(
                "assigned" if assignment.outcome == "assigned" else "triage",
                event.occurred_at,
                str(event.event_id),
                "dispatcher",
                assignment.reason,
            ),
        ),
    )


def status_update(changes: Sequence[StatusChange], due_at: datetime | None = None) -> StageUpdate:
    """One appeal's changes of one batch in one update: its history gains an entry per report, each with the due time
    in force after it (`due_at`: the due time before the batch, where known)."""
    fields: dict[str, Any] = {}
    entries = []
    assignment: dict[str, Any] | None = None
    for change in changes:
        if change.reroute is not None:
            assignment = change.reroute.assignment.model_dump(mode="python")
            due_at = change.reroute.assignment.due_at
        if change.new_due_at is not None:
            due_at = change.new_due_at
            if assignment is not None:
                assignment["due_at"] = due_at
        if change.awaiting is not None:
            fields["awaiting_reply"] = change.awaiting.model_dump(mode="python")
        entries.append(HistoryEntry(change.status, change.at, change.event_id, change.by, change.note, due_at))
    if assignment is not None:
        fields["assignment"] = assignment
    elif any(change.new_due_at is not None for change in changes):
        fields["assignment.due_at"] = due_at
    if changes[-1].appeal_status:
        fields["status"] = changes[-1].appeal_status
    return StageUpdate(appeal_id=changes[0].appeal_id, fields=fields, entries=tuple(entries))


def status_updates(
    changes: Sequence[StatusChange], due_before: Mapping[str, datetime | None] | None = None
) -> list[StageUpdate]:
    by_appeal: dict[str, list[StatusChange]] = defaultdict(list)
    for change in changes:
        by_appeal[change.appeal_id].append(change)
    due_before = due_before or {}
    return [status_update(group, due_before.get(appeal_id)) for appeal_id, group in by_appeal.items()]


def incident_document(incident: Incident) -> dict[str, Any]:
    return IncidentDoc(**{name: getattr(incident, name) for name in Incident.__dataclass_fields__}).model_dump(
        mode="python", by_alias=True, exclude={"closed_at"}
    )


def incident_of(document: dict[str, Any]) -> Incident:
    stored = IncidentDoc.model_validate(document)
    return Incident(**{name: getattr(stored, name) for name in Incident.__dataclass_fields__})


# What grows as appeals join an incident; everything else is set once, when it opens.
_GROWN = {"appeal_ids", "texts", "last_at", "due_at", "urgency"}


def incident_upsert(incident: Incident) -> UpdateOne:
    """Additive, so a redelivery or a second dispatcher instance adds its appeals rather than overwriting."""
    document = incident_document(incident)
    return UpdateOne(
        {"_id": incident.incident_id},
        {
            "$setOnInsert": {k: v for k, v in document.items() if k not in _GROWN | {"_id"}},
            "$addToSet": {"appeal_ids": {"$each": document["appeal_ids"]}},
            "$max": {"last_at": incident.last_at},
            "$min": {"due_at": incident.due_at},
            "$set": {"texts": document["texts"], "urgency": incident.urgency},
        },
        upsert=True,
    )


# The appeal as routing a classified event needs it: whether this assignment is written already, and the stored one.
_ASSIGNMENT_STATE = {"assignment": 1, "history": 1}


# What the overdue check needs of an appeal to escalate it.
_OVERDUE = {"status": 1, "assignment": 1, "classification": 1, "correlation_id": 1, "escalated_due_at": 1}


def _one_batch(wanted: Sequence[Any], per_item: int = 1) -> int:
    """The first batch of a find for `wanted` ids, bigger than the whole answer: the driver's default (101
    documents) would make a batch of a few hundred appeals a find and a getMore, two store round trips; and a first
    batch exactly as big as the answer leaves the cursor open on this store, for a getMore that returns nothing."""
    return len(wanted) * per_item + 1


class _Appeals:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def find(self, appeal_ids: Sequence[str], projection: dict[str, int] | None = None) -> dict[str, AppealDoc]:
        if not appeal_ids:
            return {}
        cursor = self.store.db[APPEALS].find(
            {"_id": {"$in": list(appeal_ids)}}, projection, batch_size=_one_batch(appeal_ids)
        )
        return {document["_id"]: AppealDoc.model_validate(document) async for document in cursor}

    async def write(self, updates: Sequence[StageUpdate]) -> None:
        if updates:
            await self.store.db[APPEALS].bulk_write([as_operation(update) for update in updates], ordered=False)

    async def write_incidents(self, operations: Sequence[UpdateOne | UpdateMany]) -> None:
        if operations:
            await self.store.db[INCIDENTS].bulk_write(list(operations), ordered=False)


class MongoAssignments(_Appeals):
    async def load(self, batch: RoutedBatch) -> AssignmentSnapshot:
        """The batch's appeals and the open incidents of its places, read together."""
        appeals, incidents = await asyncio.gather(
            self.find(batch.appeal_ids, _ASSIGNMENT_STATE), self.open_incidents(batch.places)
        )
        return AssignmentSnapshot(appeals, incidents)

    async def open_incidents(self, keys: Sequence[str]) -> dict[str, Incident]:
        """The latest open incident of each place key."""
        if not keys:
            return {}
        found: dict[str, Incident] = {}
        selector = {"key": {"$in": list(keys)}, "status": "open"}
        # Several open incidents of one place are rare (a second dispatcher opened one at the same time): one batch.
        async for document in self.store.db[INCIDENTS].find(selector, batch_size=_one_batch(keys, 2)):
            incident = incident_of(document)
            if incident.key not in found or found[incident.key].last_at < incident.last_at:
                found[incident.key] = incident
        return found

    async def apply(self, writes: AssignmentWrites) -> None:
        # The incident first: a redelivery after a crash in between then finds its appeal in it and decides the same.
        await self.write_incidents([incident_upsert(incident) for incident in writes.incidents])
        await self.write([assignment_update(assigned) for assigned in writes.assignments])


class MongoReports(_Appeals):
    async def load(self, updates: Sequence[DepartmentUpdate]) -> ReportSnapshot:
        """The reported appeals, their incidents, and the incidents' other appeals."""
        appeals = await self.find(sorted({update.appeal_id for update in updates}))
        wanted = sorted({a.assignment.incident_id for a in appeals.values() if a.assignment} - {None})
        if not wanted:
            return ReportSnapshot(appeals, {})
        cursor = self.store.db[INCIDENTS].find({"_id": {"$in": wanted}}, batch_size=_one_batch(wanted))
        incidents = {document["_id"]: incident_of(document) async for document in cursor}
        others = {appeal_id for incident in incidents.values() for appeal_id in incident.appeal_ids} - set(appeals)
        return ReportSnapshot({**appeals, **await self.find(sorted(others))}, incidents)

    async def apply(self, writes: ReportWrites) -> None:
        closes = [
            UpdateMany(
                {"_id": {"$in": incident_ids}, "status": "open"}, {"$set": {"status": status, "closed_at": writes.at}}
            )
            for status, incident_ids in writes.closed_incidents.items()
        ]
        updates = status_updates(writes.changes, writes.due_before)
        await asyncio.gather(self.write(updates), self.write_incidents(closes))


class MongoReplies(_Appeals):
    async def load(self, replies: Sequence[ResidentReplied]) -> dict[str, AppealDoc]:
        return await self.find(sorted({reply.appeal_id for reply in replies}))

    async def apply(self, writes: ReportWrites) -> None:
        await self.write(status_updates(writes.changes, writes.due_before))


class MongoOverdue(_Appeals):
    async def load(self, now: datetime, limit: int) -> list[AppealDoc]:
        """Open appeals past their due time, at most `limit` of each open status.

        One query per status, an equality on `status` and a range on the due time, so the store walks the
        `open_by_due` index over what is due only: SecantusDB answers `status: {$in: [...]}` with a scan of the whole
        collection, which grows with every appeal ever stored."""
        found = await asyncio.gather(
            *(
                self.store.db[APPEALS]
                .find({"status": status, "assignment.due_at": {"$lt": now}}, _OVERDUE, limit=limit)
                .to_list()
                for status in OPEN_STATUSES
            )
        )
        return [AppealDoc.model_validate(document) for documents in found for document in documents]

    async def load_unanswered(self, now: datetime, limit: int) -> list[AppealDoc]:
        """Resolved appeals whose verdict is past due, through the `open_by_due`-like `unanswered` index."""
        query = {"status": "resolved", "awaiting_reply.expires_at": {"$lt": now}}
        documents = await self.store.db[APPEALS].find(query, limit=limit).to_list()
        return [AppealDoc.model_validate(document) for document in documents]

    async def close(self, closures: Sequence[StatusChange]) -> None:
        await self.write(status_updates(closures))

    async def apply(self, escalated: Sequence[AppealEscalated]) -> None:
        if escalated:
            await self.store.db[APPEALS].bulk_write(
                [
                    UpdateOne(
                        {"_id": event.appeal_id, "assignment.due_at": event.due_at},
                        {"$set": {"escalated_due_at": event.due_at, "escalated_at": event.occurred_at}},
                    )
                    for event in escalated
                ],
                ordered=False,
            )


class MongoTriageDesk(_Appeals):
    async def load_appeals(self, appeal_ids: Sequence[str]) -> dict[str, AppealDoc]:
        return await self.find(appeal_ids)

    async def record_staff_action(self, appeal_id: str, entry: HistoryEntry) -> bool | None:
        """Add a staff member's entry to the appeal's history, once per entry id; its status stays as it is.
        True: added now; False: added before (a repeated request); None: no such appeal."""
        result = await self.store.db[APPEALS].update_one(
            {"_id": appeal_id, "history.event_id": {"$ne": entry.event_id}},
            {"$push": {"history": entry.document()}, "$set": {"updated_at": entry.at}},
        )
        if result.modified_count:
            return True
        return False if await self.store.db[APPEALS].count_documents({"_id": appeal_id}, limit=1) else None

    async def triage_page(self, limit: int, after: str | None) -> list[dict]:
        """Appeals waiting for an operator, oldest number first; `after`: the last appeal id of the previous page."""
        query: dict = {"status": "triage"}
        if after:
            query["_id"] = {"$gt": after}
        cursor = self.store.db[APPEALS].find(query, sort=[("_id", 1)], limit=limit)
        return [document async for document in cursor]
