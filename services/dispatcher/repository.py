"""The dispatcher's write: classification and assignment onto the appeal together, in one update, once."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pymongo import UpdateOne

from services.dispatcher.domain import OPEN_STATUSES, Incident, StatusChange
from shared.appeals import HistoryEntry, StageUpdate, apply_stage_updates
from shared.contracts.dispatcher import AppealAssigned, AppealEscalated
from shared.store import APPEALS, INCIDENTS, Store


class DispatcherRepository(Protocol):
    async def save_assignments(self, events: Sequence[AppealAssigned]) -> dict[str, dict] | None: ...
    async def load_appeals(self, appeal_ids: Sequence[str]) -> dict[str, dict]: ...
    async def save_status_changes(self, changes: Sequence[StatusChange]) -> None: ...
    async def open_incidents(self, keys: Sequence[str]) -> dict[str, Incident]: ...
    async def save_incidents(self, incidents: Sequence[Incident]) -> None: ...
    async def load_incidents(self, incident_ids: Sequence[str]) -> dict[str, Incident]: ...
    async def close_incidents(self, incident_ids: Sequence[str], status: str, at: datetime) -> None: ...
    async def open_past_due(self, now: datetime, limit: int) -> list[dict]: ...
    async def mark_escalated(self, events: Sequence[AppealEscalated]) -> None: ...
    async def triage_page(self, limit: int, after: str | None) -> list[dict]: ...
    async def record_staff_action(self, appeal_id: str, entry: HistoryEntry) -> bool | None: ...


def status_update(changes: Sequence[StatusChange]) -> StageUpdate:
    """One appeal's changes of one batch in one update: its history gains an entry per report."""
    reroutes = [change.reroute for change in changes if change.reroute is not None]
    fields = {"assignment": reroutes[-1].assignment.model_dump(mode="python")} if reroutes else {}
    entries = tuple(HistoryEntry(c.status, c.at, c.event_id, c.by, c.note) for c in changes)
    return StageUpdate(appeal_id=changes[0].appeal_id, fields=fields, entries=entries)


def assignment_update(event: AppealAssigned) -> StageUpdate:
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


class MongoDispatcherRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def save_assignments(self, events: Sequence[AppealAssigned]) -> dict[str, dict] | None:
        """None when all were assigned now; else the stored assignment of every known appeal of the batch."""
        return await apply_stage_updates(self.store, [assignment_update(e) for e in events], projection=["assignment"])

    async def load_appeals(self, appeal_ids: Sequence[str]) -> dict[str, dict]:
        cursor = self.store.db[APPEALS].find({"_id": {"$in": list(appeal_ids)}})
        return {document["_id"]: document async for document in cursor}

    async def save_status_changes(self, changes: Sequence[StatusChange]) -> None:
        by_appeal: dict[str, list[StatusChange]] = defaultdict(list)
        for change in changes:
            by_appeal[change.appeal_id].append(change)
        await apply_stage_updates(self.store, [status_update(group) for group in by_appeal.values()], projection=[])

    async def open_incidents(self, keys: Sequence[str]) -> dict[str, Incident]:
        """The latest open incident of each place key."""
        cursor = self.store.db[INCIDENTS].find({"key": {"$in": list(keys)}, "status": "open"})
        found: dict[str, Incident] = {}
        async for document in cursor:
            incident = Incident.from_document(document)
            if incident.key not in found or found[incident.key].last_at < incident.last_at:
                found[incident.key] = incident
        return found

    async def save_incidents(self, incidents: Sequence[Incident]) -> None:
        """Additive, so a redelivery or a second dispatcher instance adds its appeals rather than overwriting."""
        if not incidents:
            return
        operations = []
        for incident in incidents:
            document = incident.document()
            grown = {"appeal_ids", "texts", "last_at", "due_at", "urgency"}
            operations.append(
                UpdateOne(
                    {"_id": incident.incident_id},
                    {
                        "$setOnInsert": {k: v for k, v in document.items() if k not in grown | {"_id"}},
                        "$addToSet": {"appeal_ids": {"$each": document["appeal_ids"]}},
                        "$max": {"last_at": incident.last_at},
                        "$min": {"due_at": incident.due_at},
                        "$set": {"texts": document["texts"], "urgency": incident.urgency},
                    },
                    upsert=True,
                )
            )
        await self.store.db[INCIDENTS].bulk_write(operations, ordered=False)

    async def load_incidents(self, incident_ids: Sequence[str]) -> dict[str, Incident]:
        cursor = self.store.db[INCIDENTS].find({"_id": {"$in": list(incident_ids)}})
        return {document["_id"]: Incident.from_document(document) async for document in cursor}

    async def close_incidents(self, incident_ids: Sequence[str], status: str, at: datetime) -> None:
        if incident_ids:
            await self.store.db[INCIDENTS].update_many(
                {"_id": {"$in": list(incident_ids)}, "status": "open"}, {"$set": {"status": status, "closed_at": at}}
            )

    async def open_past_due(self, now: datetime, limit: int) -> list[dict]:
        cursor = self.store.db[APPEALS].find(
            {"status": {"$in": list(OPEN_STATUSES)}, "assignment.due_at": {"$lt": now}},
            {"status": 1, "assignment": 1, "classification": 1, "correlation_id": 1, "escalated_due_at": 1},
            limit=limit,
        )
        return [document async for document in cursor]

    async def mark_escalated(self, events: Sequence[AppealEscalated]) -> None:
        if events:
            await self.store.db[APPEALS].bulk_write(
                [
                    UpdateOne(
                        {"_id": event.appeal_id, "assignment.due_at": event.due_at},
                        {"$set": {"escalated_due_at": event.due_at, "escalated_at": event.occurred_at}},
                    )
                    for event in events
                ],
                ordered=False,
            )

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
