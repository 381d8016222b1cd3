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


@dataclass(frozen=True)
class StageUpdate:
    appeal_id: str
    event_id: str
    status: str
    fields: dict[str, Any]
    at: datetime
    by: str
    note: str = ""


def as_operation(update: StageUpdate) -> UpdateOne:
    entry = {"status": update.status, "at": update.at, "event_id": update.event_id, "by": update.by}
    if update.note:
        entry["note"] = update.note
    return UpdateOne(
        {"_id": update.appeal_id, "history.event_id": {"$ne": update.event_id}},
        {
            "$set": {**update.fields, "status": update.status, "updated_at": update.at},
            "$push": {"history": entry},
        },
    )


async def apply_stage_updates(
    store: Store, updates: Sequence[StageUpdate], projection: Sequence[str]
) -> dict[str, dict]:
    """Apply the updates; returns {appeal_id: stored fields} for appeals whose update had been applied before."""
    if not updates:
        return {}
    result = await store.db[APPEALS].bulk_write([as_operation(u) for u in updates], ordered=False)
    if result.matched_count == len(updates):
        return {}
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
