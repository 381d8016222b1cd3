"""Sending what was recorded: a background job takes due notices from the store, claims each, sends it over its
transport and records the outcome. The consumer never waits for a gateway, and a gateway that is down only delays
notices: they stay `pending` in the store with their next attempt, and nothing is lost.

poll (due notices) -> claim -> send -> decide (after_attempt) -> persist (settle) -> publish (dead letter)
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.notifier.domain import RetryPolicy, after_attempt
from services.notifier.metrics import delivery_attempts, delivery_latency, notifications, retries
from services.notifier.repository import NotifierRepository
from services.notifier.transports import DeliveryError, Outgoing, Transport
from shared.contracts.base import derived_event_id
from shared.contracts.notifier import NotificationFailed

logger = logging.getLogger(__name__)

PublishFailure = Callable[[NotificationFailed], Awaitable[None]]


@dataclass
class Deliverer:
    repo: NotifierRepository
    transports: Mapping[str, Transport]
    policy: RetryPolicy
    clock: Callable[[], datetime]
    publish_failure: PublishFailure
    lease_s: float = 60.0
    batch: int = 100
    concurrency: int = 8
    _limit: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._limit = asyncio.Semaphore(self.concurrency)

    async def deliver_due(self) -> int:
        """Send every notice that is due now; returns how many attempts were made."""
        attempts = 0
        while True:
            documents = await self.repo.due(self.clock(), self.batch)
            if not documents:
                return attempts
            results = await asyncio.gather(*(self._attempt(document) for document in documents))
            attempts += sum(results)
            if len(documents) < self.batch:
                return attempts

    async def _attempt(self, document: dict[str, Any]) -> bool:
        async with self._limit:
            if not await self.repo.claim(document, self.clock(), self.lease_s):
                return False  # another sender took it
            attempts = document["attempts"] + 1
            transport = document["transport"]
            error: DeliveryError | None = None
            try:
                await self.transports[transport].send(Outgoing.from_document(document))
            except DeliveryError as failure:
                error = failure
            except Exception as bug:  # a transport's own bug: keep the notice, try again later, and say so
                logger.exception("sending notice %s failed unexpectedly", document["_id"])
                error = DeliveryError("unexpected-error", f"{type(bug).__name__}: {bug}", permanent=False)
            now = self.clock()
            outcome = after_attempt(
                self.policy,
                attempts,
                now,
                error=error.reason if error else None,
                permanent=bool(error and error.permanent),
                detail=error.detail if error else "",
            )
            if outcome.dead_letter:
                await self.publish_failure(failed_event(document, outcome.reason, outcome.detail, attempts))
            await self.repo.settle(document["_id"], attempts, outcome, now)
            self._count(document, outcome.state, error, now)
            return True

    def _count(self, document: dict[str, Any], state: str, error: DeliveryError | None, now: datetime) -> None:
        kind, transport = document["kind"], document["transport"]
        delivery_attempts.labels(transport, "ok" if error is None else error.reason).inc()
        if state == "sent":
            notifications.labels(kind, transport, "sent").inc()
            delivery_latency.labels(transport).observe((now - document["created_at"]).total_seconds())
        elif state == "pending" and error is not None:
            retries.labels(transport, error.reason).inc()
        elif state == "failed":
            notifications.labels(kind, transport, "failed").inc()
            logger.warning("notice %s failed after %d attempts: %s", document["_id"], document["attempts"] + 1, error)


def failed_event(document: dict[str, Any], reason: str, detail: str, attempts: int) -> NotificationFailed:
    return NotificationFailed(
        event_id=derived_event_id("notification-failed", document["_id"]),
        correlation_id=document.get("correlation_id", ""),
        appeal_id=document["appeal_id"],
        notification_id=document["_id"],
        kind=document["kind"],
        transport=document["transport"],
        reason=reason,
        detail=detail[:2000],
        attempts=attempts,
    )
