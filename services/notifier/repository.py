"""The notifier's store: each notice is recorded once under its idempotency key before anything is sent, claimed
by one sender at a time, and marked sent, pending again (with its next attempt) or failed after each attempt."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.notifier.domain import Notice, Outcome
from shared.store import NOTIFICATIONS, Store, insert_new

# A notice is due when it waits for its next attempt, or when a sender claimed it and died before finishing.
IN_FLIGHT = ("pending", "sending")


class NotifierRepository(Protocol):
    async def record(self, notices: Sequence[Notice]) -> list[int]: ...

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]: ...

    async def claim(self, document: dict[str, Any], now: datetime, lease_s: float) -> bool: ...

    async def settle(self, key: str, attempts: int, outcome: Outcome, now: datetime) -> None: ...


class MongoNotifierRepository:
    def __init__(self, store: Store) -> None:
        self.collection = store.db[NOTIFICATIONS]

    async def record(self, notices: Sequence[Notice]) -> list[int]:
        """Insert the notices; returns the indexes of those recorded before (a redelivery changes nothing)."""
        return await insert_new(self.collection, [notice.document() for notice in notices])

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        cursor = self.collection.find({"state": {"$in": list(IN_FLIGHT)}, "next_attempt_at": {"$lte": now}})
        return await cursor.sort("next_attempt_at", 1).limit(limit).to_list()

    async def claim(self, document: dict[str, Any], now: datetime, lease_s: float) -> bool:
        """Take the notice for one attempt: only if nobody else has since (same state, same attempt count)."""
        result = await self.collection.update_one(
            {"_id": document["_id"], "state": document["state"], "attempts": document["attempts"]},
            {
                "$set": {"state": "sending", "next_attempt_at": now + timedelta(seconds=lease_s), "attempted_at": now},
                "$inc": {"attempts": 1},
            },
        )
        return result.modified_count == 1

    async def settle(self, key: str, attempts: int, outcome: Outcome, now: datetime) -> None:
        changes: dict[str, Any] = {"state": outcome.state, "reason": outcome.reason, "detail": outcome.detail}
        unset: dict[str, str] = {}
        if outcome.state == "pending":
            changes["next_attempt_at"] = outcome.next_attempt_at
        else:
            unset["next_attempt_at"] = ""
            changes["sent_at" if outcome.state == "sent" else "failed_at"] = now
        update: dict[str, Any] = {"$set": changes}
        if unset:
            update["$unset"] = unset
        await self.collection.update_one({"_id": key, "state": "sending", "attempts": attempts}, update)
