"""The notifier's store: each notice is recorded once under its idempotency key before anything is sent, claimed
by one sender at a time, and marked sent, pending again (with its next attempt) or failed after each attempt."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import UpdateOne

from services.notifier.domain import Notice, Outcome
from shared.store import NOTIFICATIONS, Store, insert_new

# A notice is due when it waits for its next attempt, or when a sender claimed it and died before finishing.
IN_FLIGHT = ("pending", "sending")


@dataclass(frozen=True)
class Settlement:
    """The outcome of one attempt, written only if the notice is still as the sender left it (state and attempts)."""

    key: str
    expected_state: str
    expected_attempts: int
    attempts: int
    outcome: Outcome


class NotifierRepository(Protocol):
    async def record(self, notices: Sequence[Notice]) -> list[int]: ...

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]: ...

    async def claim(self, document: dict[str, Any], now: datetime, lease_s: float) -> bool: ...

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None: ...


def settlement_update(settlement: Settlement, now: datetime) -> dict[str, Any]:
    outcome = settlement.outcome
    changes: dict[str, Any] = {
        "state": outcome.state,
        "attempts": settlement.attempts,
        "reason": outcome.reason,
        "detail": outcome.detail,
    }
    if outcome.state == "pending":
        changes["next_attempt_at"] = outcome.next_attempt_at
        return {"$set": changes}
    changes["sent_at" if outcome.state == "sent" else "failed_at"] = now
    return {"$set": changes, "$unset": {"next_attempt_at": ""}}


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
        """Take a due notice for one attempt: only if nobody else has since (same state, same attempt count)."""
        result = await self.collection.update_one(
            {"_id": document["_id"], "state": document["state"], "attempts": document["attempts"]},
            {
                "$set": {"state": "sending", "next_attempt_at": now + timedelta(seconds=lease_s), "attempted_at": now},
                "$inc": {"attempts": 1},
            },
        )
        return result.modified_count == 1

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None:
        """One round trip for a batch of outcomes (the store's update path is the system's bottleneck)."""
        if not settlements:
            return
        await self.collection.bulk_write(
            [
                UpdateOne(
                    {"_id": item.key, "state": item.expected_state, "attempts": item.expected_attempts},
                    settlement_update(item, now),
                )
                for item in settlements
            ],
            ordered=False,
        )
