"""The classifier's write: each decision inserted once into `classifications`.

An insert, not an update of the appeal: the store's update path is the ceiling of the whole system
(an updated document costs the embedded store about 0.35 ms of its one core, an insert far less), so the
dispatcher writes classification and assignment onto the appeal together.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING

from services.classifier.opinion import Example
from shared.contracts.classifier import AppealClassified
from shared.store import APPEALS, CLASSIFICATIONS, Store, insert_new


async def ensure_indexes(store: Store) -> None:
    """Decisions are found by appeal; `undispatched` reads appeals still registered, served by intake's partial
    index `stalled`, created here too (the same definition) so the classifier does not depend on intake's start."""
    await store.db[CLASSIFICATIONS].create_index([("appeal_id", ASCENDING)], name="appeal")
    await store.db[APPEALS].create_index(
        [("registered_at", ASCENDING)], name="stalled", partialFilterExpression={"status": "registered"}
    )


class ClassifierRepository(Protocol):
    async def save_classifications(self, events: Sequence[AppealClassified]) -> dict[str, dict]: ...
    async def undispatched(self, before: datetime, limit: int = 1000) -> list[tuple[dict, dict]]: ...


def classification_document(event: AppealClassified) -> dict[str, Any]:
    return {
        "_id": str(event.event_id),
        "appeal_id": event.appeal_id,
        "classification": event.classification.model_dump(mode="python"),
        "at": event.occurred_at,
        "correlation_id": event.correlation_id,
    }


async def operator_decisions(store: Store, limit: int = 100_000) -> list[Example]:
    """Appeals whose category an operator decided in triage (the dispatcher writes the operator's classification
    onto the appeal, `decided_by` operator): the text with the operator's category and urgency, for training."""
    cursor = (
        store.db[APPEALS]
        .find(
            {"classification.decided_by": "operator"},
            {"text": 1, "classification.category": 1, "classification.urgency": 1},
        )
        .limit(limit)
    )
    return [
        Example(document["text"], document["classification"]["category"], document["classification"]["urgency"])
        async for document in cursor
        if document.get("text")
    ]


class MongoClassifierRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def save_classifications(self, events: Sequence[AppealClassified]) -> dict[str, dict]:
        """Returns {appeal_id: stored decision} for events decided before (a redelivery)."""
        documents = [classification_document(event) for event in events]
        existing = await insert_new(self.store.db[CLASSIFICATIONS], documents)
        if not existing:
            return {}
        ids = [documents[index]["_id"] for index in existing]
        cursor = self.store.db[CLASSIFICATIONS].find({"_id": {"$in": ids}})
        return {document["appeal_id"]: document async for document in cursor}

    async def undispatched(self, before: datetime, limit: int = 1000) -> list[tuple[dict, dict]]:
        """(appeal, decision) of appeals decided before `before` that the dispatcher has not written: still
        `registered` on the appeal (served by the partial index `stalled`), their decision in `classifications`."""
        appeals = (
            await self.store.db[APPEALS]
            .find({"status": "registered", "registered_at": {"$lt": before}})
            .limit(limit)
            .to_list()
        )
        if not appeals:
            return []
        by_id = {appeal["_id"]: appeal for appeal in appeals}
        decisions = self.store.db[CLASSIFICATIONS].find({"appeal_id": {"$in": list(by_id)}, "at": {"$lt": before}})
        return [(by_id[decision["appeal_id"]], decision) async for decision in decisions]
