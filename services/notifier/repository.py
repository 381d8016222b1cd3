"""The notifier's store: each notice is recorded once under its idempotency key before anything is sent, claimed
by one sender at a time, and marked sent, pending again (with its next attempt) or failed after each attempt."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

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

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[dict[str, Any]]: ...

    async def release(self, keys: Sequence[str], now: datetime) -> None: ...

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

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[dict[str, Any]]:
        """Take up to `limit` due notices for one attempt each, in three round trips whatever their number. A notice
        another sender took in between is left out: the claim holds only if it is still due."""
        due = {"state": {"$in": list(IN_FLIGHT)}, "next_attempt_at": {"$lte": now}}
        cursor = self.collection.find(due, {"_id": 1}).sort("next_attempt_at", 1).limit(limit)
        keys = [document["_id"] for document in await cursor.to_list()]
        if not keys:
            return []
        token = uuid.uuid4().hex
        await self.collection.update_many(
            {"_id": {"$in": keys}, **due},
            {
                "$set": {
                    "state": "sending",
                    "next_attempt_at": now + timedelta(seconds=lease_s),
                    "attempted_at": now,
                    "claim": token,
                },
                "$inc": {"attempts": 1},
            },
        )
        return await self.collection.find({"_id": {"$in": keys}, "claim": token}).to_list()

    async def release(self, keys: Sequence[str], now: datetime) -> None:
        """Notices recorded for sending at once that the sender cannot take now: due for the delivery job at once,
        instead of after the takeover time."""
        await self.collection.update_many(
            {"_id": {"$in": list(keys)}, "state": "pending", "attempts": 0}, {"$set": {"next_attempt_at": now}}
        )

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None:
        """Outcomes that write the same change (most often: all sent, at the first attempt) go in one update_many:
        the store's update path is the system's bottleneck, and one multi-document update costs it less than a bulk
        of single ones."""
        groups: dict[tuple[str, int, str], tuple[dict[str, Any], list[str]]] = {}
        for item in settlements:
            update = settlement_update(item, now)
            group = (item.expected_state, item.expected_attempts, repr(update))
            groups.setdefault(group, (update, []))[1].append(item.key)
        for (state, attempts, _), (update, keys) in groups.items():
            await self.collection.update_many({"_id": {"$in": keys}, "state": state, "attempts": attempts}, update)
