"""Writing a stage's result onto the appeal document: one update per appeal, applied at most once.

Every stage appends a history entry carrying the id of the event it publishes; the update's filter
skips documents that already hold that entry, so a redelivered batch changes nothing. Where some
updates were skipped, the stored values are read back so the stage re-publishes what it stored.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from shared.store import APPEALS, Store


def registration_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The fields of AppealRegistered (and of every event built on it) as the stored appeal holds them."""
    return {
        "correlation_id": document.get("correlation_id") or "",
        "appeal_id": document["_id"],
        "channel": document["channel"],
        "text": document["text"],
        "contact": document.get("contact"),
        "address": document.get("address"),
        "received_at": document["received_at"],
        "registered_at": document["registered_at"],
        "requested_category": document.get("requested_category"),
    }


@dataclass(frozen=True)
class HistoryEntry:
    status: str
    at: datetime
    event_id: str
    by: str
    note: str = ""
    # The due time in force after the entry, where the stage knows it (a department's outcome is judged by it).
    due_at: datetime | None = None

    def document(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"status": self.status, "at": self.at, "event_id": self.event_id, "by": self.by}
        if self.note:
            entry["note"] = self.note
        if self.due_at is not None:
            entry["due_at"] = self.due_at
        return entry


@dataclass(frozen=True)
class StageUpdate:
    """Fields to set on one appeal and the history entries that explain them; the last entry is the new status
    unless `fields` sets one (an entry that records a change but leaves the status, like a granted extension)."""

    appeal_id: str
    fields: dict[str, Any]
    entries: tuple[HistoryEntry, ...]

    @property
    def event_id(self) -> str:
        return self.entries[-1].event_id


def as_operation(update: StageUpdate) -> UpdateOne:
    last = update.entries[-1]
    return UpdateOne(
        {"_id": update.appeal_id, "history.event_id": {"$ne": update.event_id}},
        {
            "$set": {"status": last.status, "updated_at": last.at, **update.fields},
            "$push": {"history": {"$each": [entry.document() for entry in update.entries]}},
        },
    )


async def apply_stage_updates(
    store: Store, updates: Sequence[StageUpdate], projection: Sequence[str]
) -> dict[str, dict] | None:
    """Apply the updates. None: every one applied now. Otherwise some were applied before (a redelivery) or
    name an unknown appeal: {appeal_id: stored fields} for every appeal of the batch the store holds."""
    if not updates:
        return None
    result = await store.db[APPEALS].bulk_write([as_operation(u) for u in updates], ordered=False)
    if result.matched_count == len(updates):
        return None
    # Some were applied earlier (a redelivery) or the appeal is unknown: read back what is stored.
    ids = [u.appeal_id for u in updates]
    cursor = store.db[APPEALS].find({"_id": {"$in": ids}}, {field: 1 for field in projection})
    return {document["_id"]: document async for document in cursor}


async def as_stored(
    decisions: list, stored: dict[str, dict], accepted: list, park_record, field: str, model: type
) -> list:
    """After a redelivery, the events to publish carry what the store holds in `field`.

    `decisions` and `accepted` are parallel lists; an event for an appeal the store does not know is
    parked with reason `unknown-appeal` instead of being published.
    """
    from shared.errors import PermanentError

    result = []
    for decision, item in zip(decisions, accepted, strict=True):
        document = stored.get(decision.appeal_id)
        if document is None:
            await park_record(item.record, PermanentError("unknown-appeal", f"no appeal {decision.appeal_id}"))
            continue
        result.append(decision.model_copy(update={field: model(**document[field])}))
    return result
