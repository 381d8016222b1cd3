"""Intake's store access: the registration's load (appeal numbers) and apply (new appeal documents), the stalled
appeals the redrive job announces again, Idempotency-Key records and the API's reads."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.intake.documents import AppealDoc
from services.intake.domain import NumberBlock
from shared.channel_keys import ensure_channel_indexes
from shared.contracts.intake import AppealSubmitted
from shared.errors import TransientError
from shared.store import (
    APPEALS,
    CLASSIFICATIONS,
    COUNTERS,
    IDEMPOTENCY_KEY_TTL_S,
    IDEMPOTENCY_KEYS,
    INBOUND_SMS,
    Store,
    insert_new,
)


async def ensure_indexes(store: Store) -> None:
    """The indexes of what intake writes and reads."""
    appeals = store.db[APPEALS]
    await appeals.create_index([("intake_key", ASCENDING)], unique=True, name="intake_key_unique")
    # Only appeals still waiting for classification are in it, so it stays small and cheap to keep.
    await appeals.create_index(
        [("registered_at", ASCENDING)], name="stalled", partialFilterExpression={"status": "registered"}
    )
    # Open311's requests.json lists appeals by the time they were received.
    await appeals.create_index([("received_at", ASCENDING)], name="received_at")
    await store.db[IDEMPOTENCY_KEYS].create_index(
        [("created_at", ASCENDING)], expireAfterSeconds=IDEMPOTENCY_KEY_TTL_S, name="expire"
    )
    await ensure_channel_indexes(store)


class IntakeRepository(Protocol):
    async def load(self, submissions: Sequence[AppealSubmitted]) -> NumberBlock: ...
    async def apply(self, appeals: Sequence[AppealDoc]) -> list[AppealDoc]: ...
    async def stalled(self, before: datetime, limit: int = 1000) -> list[AppealDoc]: ...


class MongoIntakeRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self, submissions: Sequence[AppealSubmitted]) -> NumberBlock:
        """The read phase of a registration: numbers for the batch's submissions (one counter update). Whether one
        was registered before is decided by the insert (the unique intake key), so concurrent requests agree."""
        return NumberBlock(await self.reserve_numbers(len(submissions)))

    async def apply(self, appeals: Sequence[AppealDoc]) -> list[AppealDoc]:
        """The write phase: one unordered insert. Returns the appeals stored earlier under intake keys of the batch
        (a redelivery, a retry over HTTP), read back in one query only when there are any."""
        known = await self.insert_new([appeal.to_document() for appeal in appeals])
        if not known:
            return []
        cursor = self.store.db[APPEALS].find({"intake_key": {"$in": sorted(known)}})
        return [AppealDoc.model_validate(document) async for document in cursor]

    async def reserve_numbers(self, count: int) -> int:
        """Reserve `count` consecutive numbers with one update; returns the first.

        The first reservations may race to create the counter (concurrent HTTP requests on a fresh store): the loser
        of the upsert gets a duplicate key (or, from the embedded store, no document) and simply increments again.
        """
        for _ in range(3):
            try:
                counter = await self.store.db[COUNTERS].find_one_and_update(
                    {"_id": "appeal_number"},
                    {"$inc": {"value": count}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if counter is not None:
                return counter["value"] - count + 1
        raise TransientError("could not reserve appeal numbers: the counter upsert kept colliding")

    async def insert_new(self, documents: list[dict[str, Any]]) -> set[str]:
        """Insert the documents; returns the intake keys that already had an appeal."""
        existing = await insert_new(self.store.db[APPEALS], documents)
        return {documents[index]["intake_key"] for index in existing}

    async def stalled(self, before: datetime, limit: int = 1000) -> list[AppealDoc]:
        """Appeals still `registered` since before `before` (served by the partial index `stalled`) that the
        classifier has no decision for (one it has, waiting for the dispatcher, is the classifier's to announce)."""
        cursor = self.store.db[APPEALS].find({"status": "registered", "registered_at": {"$lt": before}}).limit(limit)
        documents = await cursor.to_list()
        if not documents:
            return []
        decided = self.store.db[CLASSIFICATIONS].find({"appeal_id": {"$in": [d["_id"] for d in documents]}})
        classified = {decision["appeal_id"] async for decision in decided}
        return [AppealDoc.model_validate(document) for document in documents if document["_id"] not in classified]


class IdempotencyKeys(Protocol):
    async def claim(self, channel: str, key: str, fingerprint: str, now: datetime) -> str: ...


class MongoIdempotencyKeys:
    """The Idempotency-Key header's record: one per (channel, key), decided by the unique `_id`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(self, channel: str, key: str, fingerprint: str, now: datetime) -> str:
        """Record the key for this request; returns the fingerprint of the request that holds the key (maybe this)."""
        record_id = f"{channel}:{key}"
        try:
            await self.store.db[IDEMPOTENCY_KEYS].insert_one(
                {"_id": record_id, "channel": channel, "key": key, "fingerprint": fingerprint, "created_at": now}
            )
        except DuplicateKeyError:
            existing = await self.store.db[IDEMPOTENCY_KEYS].find_one({"_id": record_id})
            return existing["fingerprint"] if existing else fingerprint
        return fingerprint


class AppealReads:
    """What the intake API reads back: one appeal, and Open311's lists."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def by_ids(self, appeal_ids: list[str]) -> list[dict[str, Any]]:
        return await self.store.db[APPEALS].find({"_id": {"$in": appeal_ids}}).to_list()

    async def search(self, query: dict[str, Any], limit: int, skip: int = 0) -> list[dict[str, Any]]:
        # Ties on received_at are broken by number, so pages neither repeat nor skip an appeal.
        cursor = self.store.db[APPEALS].find(query).sort([("received_at", -1), ("_id", -1)])
        return await cursor.skip(skip).limit(limit).to_list()


class ReplyStore(Protocol):
    async def awaiting(self, appeal_id: str) -> dict[str, Any] | None: ...
    async def awaiting_by_phone(self, phone: str, now: datetime) -> dict[str, Any] | None: ...
    async def claim(self, appeal_id: str, token_hash: str, now: datetime) -> bool: ...
    async def release(self, appeal_id: str, token_hash: str) -> None: ...
    async def record_inbound_sms(self, document: dict[str, Any]) -> None: ...


class MongoReplies:
    """The question an appeal puts to its resident (`awaiting_reply`, written by the dispatcher) and its single use;
    inbound SMS replies as received, with what became of each."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def awaiting(self, appeal_id: str) -> dict[str, Any] | None:
        return await self.store.db[APPEALS].find_one({"_id": appeal_id}, {"status": 1, "awaiting_reply": 1})

    async def awaiting_by_phone(self, phone: str, now: datetime) -> dict[str, Any] | None:
        """The resident's latest appeal with an open question (the `caller` index narrows it to the number)."""
        query = {
            "contact.phone": phone,
            "awaiting_reply.used_at": None,
            "awaiting_reply.expires_at": {"$gt": now},
        }
        projection = {"status": 1, "awaiting_reply": 1}
        found = await self.store.db[APPEALS].find(query, projection).sort("awaiting_reply.asked_at", -1).to_list(1)
        return found[0] if found else None

    async def claim(self, appeal_id: str, token_hash: str, now: datetime) -> bool:
        """Use the token up: true for the one request that did."""
        result = await self.store.db[APPEALS].update_one(
            {"_id": appeal_id, "awaiting_reply.token_hash": token_hash, "awaiting_reply.used_at": None},
            {"$set": {"awaiting_reply.used_at": now}},
        )
        return result.modified_count == 1

    async def release(self, appeal_id: str, token_hash: str) -> None:
        """Give the token back when its reply could not be passed on, so the resident may try again."""
        await self.store.db[APPEALS].update_one(
            {"_id": appeal_id, "awaiting_reply.token_hash": token_hash}, {"$set": {"awaiting_reply.used_at": None}}
        )

    async def record_inbound_sms(self, document: dict[str, Any]) -> None:
        """Once per gateway message id: a gateway's retry of the same message is recorded once."""
        try:
            await self.store.db[INBOUND_SMS].insert_one(document)
        except DuplicateKeyError:
            pass
