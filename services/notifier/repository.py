"""The notifier's store: each notice is recorded once under its idempotency key before anything is sent, and sent
by one sender at a time.

The common case costs no update of a notice: the process that records notices first opens a delivery batch (one
document: their keys and a lease), sends them, and settles the batch with one write naming those that went. Only a
notice that needs more (a retry, a failure, a takeover after its sender died, a resend) is written itself: claimed,
then marked sent, pending again (with its next attempt) or failed. `shared.store.notice_as_it_stands` reads the two
together.

Every lease is short and renewed while its holder works (`hold`, the heartbeat): a sender that dies leaves its batch
to another a lease later, and one that stops releases what it holds (`hold` until now), so nothing waits."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING

from services.notifier.documents import DeliveryDoc, NoticeDoc
from services.notifier.domain import Outcome
from shared.store import NOTIFICATION_DELIVERIES, NOTIFICATIONS, Store, insert_new

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


@dataclass(frozen=True)
class Held:
    """What one sender holds: its open delivery batches, and the notices it claimed (claim token -> keys)."""

    deliveries: Sequence[str] = ()
    claims: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.deliveries or self.claims)

    def __or__(self, other: "Held") -> "Held":
        return Held(tuple(dict.fromkeys([*self.deliveries, *other.deliveries])), {**self.claims, **other.claims})


async def ensure_indexes(store: Store) -> None:
    # A notice is found by appeal (the status view); notices waiting to be sent are the only ones with
    # `next_attempt_at`, batches not settled yet the only ones with `lease_until`: both indexes stay small.
    await store.db[NOTIFICATIONS].create_index([("appeal_id", ASCENDING)], name="appeal")
    await store.db[NOTIFICATIONS].create_index([("next_attempt_at", ASCENDING)], name="due", sparse=True)
    await store.db[NOTIFICATION_DELIVERIES].create_index([("lease_until", ASCENDING)], name="open", sparse=True)


class NotifierRepository(Protocol):
    async def record(self, notices: Sequence[NoticeDoc]) -> list[int]: ...

    async def open_deliveries(self, deliveries: Sequence[DeliveryDoc]) -> None: ...

    async def settle_delivery(
        self, delivery_id: str, sent: Sequence[str] | None, now: datetime, *, final: bool
    ) -> None: ...

    async def expired_deliveries(self, now: datetime, limit: int) -> list[DeliveryDoc]: ...

    async def claim_unsent(self, delivery: DeliveryDoc, now: datetime, lease_s: float) -> list[NoticeDoc]: ...

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[NoticeDoc]: ...

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None: ...

    async def hold(self, held: Held, until: datetime, now: datetime) -> None: ...


def delivery_document(keys: Sequence[str], now: datetime, lease_s: float, owner: str = "") -> DeliveryDoc:
    """A batch of notices handed to the process `owner`: until `lease_until` no other sender touches them."""
    return DeliveryDoc(
        delivery_id=uuid.uuid4().hex,
        keys=tuple(keys),
        created_at=now,
        lease_until=now + timedelta(seconds=lease_s),
        owner=owner,
    )


def hold_selectors(held: Held, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The batches and claimed notices of `held` whose lease still runs: one that lapsed (its holder stalled past it)
    may have been taken over, and is not taken back."""
    batches = {"_id": {"$in": list(held.deliveries)}, "lease_until": {"$gt": now}}
    keys = [key for claimed in held.claims.values() for key in claimed]
    notices = {"_id": {"$in": keys}, "claim": {"$in": list(held.claims)}, "state": "sending"}
    return batches, notices


def claim_update(now: datetime, lease_s: float, token: str) -> dict[str, Any]:
    """One attempt taken by one sender: counted now, and due again after the lease should the sender die."""
    return {
        "$set": {
            "state": "sending",
            "next_attempt_at": now + timedelta(seconds=lease_s),
            "attempted_at": now,
            "claim": token,
        },
        "$inc": {"attempts": 1},
    }


def unsent_selector(delivery: DeliveryDoc) -> dict[str, Any]:
    """The notices of a batch that its sender neither sent nor wrote an outcome to (it died before)."""
    sent = set(delivery.sent)
    keys = [key for key in delivery.keys if key not in sent]
    return {"_id": {"$in": keys}, "delivery": delivery.delivery_id, "state": "pending", "attempts": 0}


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
        self.deliveries = store.db[NOTIFICATION_DELIVERIES]

    async def record(self, notices: Sequence[NoticeDoc]) -> list[int]:
        """Insert the notices; returns the indexes of those recorded before (a redelivery changes nothing)."""
        return await insert_new(self.collection, [notice.to_document() for notice in notices])

    async def open_deliveries(self, deliveries: Sequence[DeliveryDoc]) -> None:
        if deliveries:
            await self.deliveries.insert_many([delivery.to_document() for delivery in deliveries], ordered=False)

    async def settle_delivery(
        self, delivery_id: str, sent: Sequence[str] | None, now: datetime, *, final: bool
    ) -> None:
        """Name the notices that went (None: as named before); `final` ends the lease (the others' outcomes are on
        the notices by then)."""
        update: dict[str, Any] = {} if sent is None else {"$set": {"sent": list(sent), "settled_at": now}}
        if final:
            update["$unset"] = {"lease_until": ""}
        await self.deliveries.update_one({"_id": delivery_id}, update)

    async def expired_deliveries(self, now: datetime, limit: int) -> list[DeliveryDoc]:
        """Batches whose sender did not settle them within the lease: it died, or hangs."""
        cursor = self.deliveries.find({"lease_until": {"$lte": now}}).sort("lease_until", 1).limit(limit)
        return [DeliveryDoc.model_validate(document) async for document in cursor]

    async def claim_unsent(self, delivery: DeliveryDoc, now: datetime, lease_s: float) -> list[NoticeDoc]:
        """Take over what a dead sender left of its batch; a notice another sender took in between is left out."""
        selector = unsent_selector(delivery)
        if not selector["_id"]["$in"]:
            return []
        token = uuid.uuid4().hex
        await self.collection.update_many(selector, claim_update(now, lease_s, token))
        return await self._claimed(selector["_id"], token)

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[NoticeDoc]:
        """Take up to `limit` due notices for one attempt each, in three round trips whatever their number. A notice
        another sender took in between is left out: the claim holds only if it is still due."""
        due = {"state": {"$in": list(IN_FLIGHT)}, "next_attempt_at": {"$lte": now}}
        cursor = self.collection.find(due, {"_id": 1}).sort("next_attempt_at", 1).limit(limit)
        keys = [document["_id"] for document in await cursor.to_list()]
        if not keys:
            return []
        token = uuid.uuid4().hex
        await self.collection.update_many({"_id": {"$in": keys}, **due}, claim_update(now, lease_s, token))
        return await self._claimed({"$in": keys}, token)

    async def _claimed(self, keys: dict[str, Any], token: str) -> list[NoticeDoc]:
        """The notices of `keys` that the claim `token` took (another sender's claim in between left them out)."""
        cursor = self.collection.find({"_id": keys, "claim": token})
        return [NoticeDoc.model_validate(document) async for document in cursor]

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

    async def hold(self, held: Held, until: datetime, now: datetime) -> None:
        """Move the leases of what `held` names to `until`: later while it is being sent (the heartbeat), now when
        the sender stops without finishing (released: another sender takes it at once)."""
        batches, notices = hold_selectors(held, now)
        if held.deliveries:
            await self.deliveries.update_many(batches, {"$set": {"lease_until": until}})
        if held.claims:
            await self.collection.update_many(notices, {"$set": {"next_attempt_at": until}})
