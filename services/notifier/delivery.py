"""Sending what was recorded. The consumer hands each batch of fresh notices to the deliverer, which opens a delivery
batch (their keys and a lease) before they are recorded, and returns at once: it never waits for a gateway. The
deliverer sends them in the background and settles each batch with one write naming the notices that went; only the
others (retries, failures) are written one by one. A background job (`deliver_due`) takes what is due: batches whose
sender died before settling them (after the lease), and retries after their backoff. A gateway that is down only
delays notices: they stay `pending` in the store with their next attempt, and nothing is lost.

Leases are short because they are renewed while their holder works (`heartbeat`): a sender killed mid-send leaves its
batch to another a lease later (seconds, not a minute). A sender told to stop (`stop`) takes nothing new, finishes
what it holds within the grace period, and releases what it could not finish in the store, so another sender takes it
at once.

(open batch -> record -> hand-off | expired batch or due -> claim) -> send -> decide (after_attempt)
    -> publish (dead letter) -> persist (settle the batch, and the notices that were not sent)
"""

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from services.notifier.documents import DeliveryDoc, NoticeDoc
from services.notifier.domain import Outcome, RetryPolicy, after_attempt
from services.notifier.metrics import (
    delivery_attempts,
    delivery_latency,
    notifications,
    released,
    retries,
    takeovers,
)
from services.notifier.repository import Held, NotifierRepository, Settlement, delivery_document
from services.notifier.transports import BatchTransport, DeliveryError, Outgoing, Transport
from shared.contracts.base import derived_event_id
from shared.contracts.notifier import NotificationFailed
from shared.deadletter import is_transient
from shared.logging import appeal_fields

logger = logging.getLogger(__name__)

PublishFailure = Callable[[NotificationFailed], Awaitable[None]]


def sender_name() -> str:
    """Who holds a delivery batch, as the batch names it: the host and process, for people and tests to tell apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Deliverer:
    repo: NotifierRepository
    transports: Mapping[str, Transport]
    policy: RetryPolicy
    clock: Callable[[], datetime]
    publish_failure: PublishFailure
    # How long what this process holds stays its own without a heartbeat; renewed every few seconds while it sends.
    lease_s: float = 6.0
    batch: int = 50
    settle_chunk: int = 50
    concurrency: int = 16
    # Notices being sent by hand-off at most; beyond it the delivery job takes them over (at their takeover time).
    max_in_flight: int = 2000
    owner: str = field(default_factory=sender_name)
    _limit: asyncio.Semaphore = field(init=False)
    _tasks: set[asyncio.Task] = field(init=False, default_factory=set)
    _in_flight: int = field(init=False, default=0)
    # What this process holds in the store: open delivery batches (id -> notices) and claims (token -> keys).
    _batches: dict[str, int] = field(init=False, default_factory=dict)
    _claims: dict[str, list[str]] = field(init=False, default_factory=dict)
    # A heartbeat and a release never interleave, so a release is not undone by a renewal read before it.
    _holding: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _stopping: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._limit = asyncio.Semaphore(self.concurrency)

    def held(self) -> Held:
        return Held(tuple(self._batches), {token: list(keys) for token, keys in self._claims.items()})

    @contextmanager
    def _holds(self, delivery_id: str | None = None, claimed: Sequence[NoticeDoc] = ()) -> Iterator[None]:
        """While the block runs, the heartbeat renews the batch's or the claim's lease; after it (settled, failed or
        cancelled) this process no longer answers for them."""
        token = claimed[0].claim if claimed else None
        if token is not None:
            self._claims[token] = [notice.key for notice in claimed]
        try:
            yield
        finally:
            self._batches.pop(delivery_id or "", None)
            self._claims.pop(token or "", None)

    async def heartbeat(self) -> None:
        """Renew the lease of everything this process is sending; what it no longer renews (it died) is taken over
        by another sender when the lease ends."""
        async with self._holding:
            held = self.held()
            if held:
                now = self.clock()
                await self.repo.hold(held, now + timedelta(seconds=self.lease_s), now)

    async def stop(self, grace_s: float) -> None:
        """A clean stop: nothing new is taken; what is being sent gets `grace_s` to finish and be settled; the rest is
        cancelled and released in the store (its lease ends now), so another sender takes it over at once instead of
        after the lease. A message whose request was cut off may have reached the gateway: it goes again, under the
        same key."""
        self._stopping = True
        # Also what ends by an error during the grace period (a dead letter the stopped broker cannot take, a store
        # write that failed): not settled, it is released with the rest. The store leaves alone what was settled.
        at_stop = self.held()
        working = list(self._tasks)
        unfinished: set[asyncio.Task] = set()
        if working:
            _, unfinished = await asyncio.wait(working, timeout=grace_s)
        # Read before the cancellation, which drops the cancelled work from what this process holds.
        cut_off = self.held()
        counts = (sum(self._batches.values()), sum(len(keys) for keys in self._claims.values()))
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        held = at_stop | cut_off
        if not held:
            return
        async with self._holding:
            now = self.clock()
            await stored(lambda: self.repo.hold(held, now, now))
        released.labels("batch").inc(counts[0])
        released.labels("claim").inc(counts[1])
        logger.warning(
            "stopping: released %d delivery batches (%d notices) and %d claimed notices to other senders",
            len(cut_off.deliveries),
            counts[0],
            counts[1],
        )

    async def record_and_hand_off(self, notices: Sequence[NoticeDoc]) -> list[int]:
        """Record the notices and start sending the new ones; returns the indexes of those recorded before.

        The batches are opened before the notices are recorded, so a notice is never in the store without a sender
        or a due time, whenever this process dies. Beyond `max_in_flight` notices are recorded due at once for the
        delivery job, which sends them as it can."""
        now = self.clock()
        pending = [index for index, notice in enumerate(notices) if notice.state == "pending"]
        # A stopping process sends nothing new: what it records is due at once for the other senders.
        room = 0 if self._stopping else max(self.max_in_flight - self._in_flight, 0)
        recorded = list(notices)
        for index in pending[room:]:
            recorded[index] = recorded[index].model_copy(update={"next_attempt_at": now})
        # In chunks, so that each outcome is written soon after its message went, not after a whole poll's worth.
        batches: list[tuple[DeliveryDoc, list[int]]] = []
        for start in range(0, min(room, len(pending)), self.settle_chunk):
            chunk = pending[start : min(start + self.settle_chunk, room)]
            batch = delivery_document([recorded[index].key for index in chunk], now, self.lease_s, self.owner)
            for index in chunk:
                # The batch's lease stands for the notice's takeover time.
                recorded[index] = recorded[index].model_copy(
                    update={"next_attempt_at": None, "delivery": batch.delivery_id}
                )
            batches.append((batch, chunk))
        await self.repo.open_deliveries([batch for batch, _ in batches])
        self._batches.update({batch.delivery_id: len(chunk) for batch, chunk in batches})
        try:
            already = await self.repo.record(recorded)
        except BaseException:
            for batch, _ in batches:  # not renewed: the job takes over whatever of them was recorded
                self._batches.pop(batch.delivery_id, None)
            raise
        recorded_before = set(already)
        for batch, chunk in batches:
            fresh = [recorded[index] for index in chunk if index not in recorded_before]
            self._in_flight += len(fresh)
            self._spawn(self._send_handed_off(fresh, batch.delivery_id), len(fresh))
        return already

    async def _send_handed_off(self, notices: Sequence[NoticeDoc], delivery_id: str) -> None:
        with self._holds(delivery_id):
            await self._send_batch(notices, claimed=False, delivery_id=delivery_id)

    def _spawn(self, work: Awaitable[None], count: int) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, count))

    def _finished(self, task: asyncio.Task, count: int) -> None:
        self._tasks.discard(task)
        self._in_flight -= count
        if not task.cancelled() and task.exception() is not None:
            # Nothing is lost: the notices are pending in the store, and the job takes them over after their lease.
            logger.error("sending handed-off notices failed: %r", task.exception())

    async def idle(self) -> None:
        """Wait until every handed-off batch is settled (tests, and a clean shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def deliver_due(self) -> int:
        """Send every notice that is due now; returns how many attempts were made. A run is work in hand like a
        hand-off: a stop waits for it, within the grace period."""
        if self._stopping:
            return 0
        run = asyncio.ensure_future(self._deliver_due())
        self._tasks.add(run)
        run.add_done_callback(self._tasks.discard)
        return await run

    async def _send_claimed(self, claimed: Sequence[NoticeDoc]) -> None:
        with self._holds(claimed=claimed):
            await self._send_batch(claimed, claimed=True)

    async def _take_over(self, batch: DeliveryDoc) -> int:
        claimed = await self.repo.claim_unsent(batch, self.clock(), self.lease_s)
        if claimed:
            logger.warning(
                "taking over %d notices of batch %s: its sender did not settle it", len(claimed), batch.delivery_id
            )
            takeovers.inc(len(claimed))
        await self._send_claimed(claimed)
        await self.repo.settle_delivery(batch.delivery_id, None, self.clock(), final=True)
        return len(claimed)

    async def _deliver_due(self) -> int:
        attempts = 0
        while True:
            expired = await self.repo.expired_deliveries(self.clock(), self.batch)
            # Together: a stopped sender releases all its batches at once, and each takeover is a few store round
            # trips that would otherwise add up before the last batch goes.
            attempts += sum(await asyncio.gather(*(self._take_over(batch) for batch in expired)))
            if len(expired) < self.batch:
                break
        while True:
            claimed = await self.repo.claim_due(self.clock(), self.batch, self.lease_s)
            await self._send_claimed(claimed)
            attempts += len(claimed)
            if len(claimed) < self.batch:
                return attempts

    async def _send_batch(self, notices: Sequence[NoticeDoc], *, claimed: bool, delivery_id: str | None = None) -> None:
        """Send, then settle: a handed-off batch names its sent notices in one write, the others are written each."""
        results = await self._send_all(notices)
        now = self.clock()
        sent: list[str] = []
        settlements = []
        for notice, error in zip(notices, results, strict=True):
            # A claimed notice has its attempt counted by the claim; a handed-off one counts it now.
            attempts = notice.attempts if claimed else notice.attempts + 1
            outcome = after_attempt(
                self.policy,
                attempts,
                now,
                error=error.reason if error else None,
                permanent=bool(error and error.permanent),
                detail=error.detail if error else "",
            )
            self._count(notice, outcome, error, now)
            if delivery_id is not None and outcome.state == "sent":
                sent.append(notice.key)
                continue
            if outcome.dead_letter:
                await self.publish_failure(failed_event(notice, outcome.reason, outcome.detail, attempts))
            settlements.append(Settlement(notice.key, notice.state, notice.attempts, attempts, outcome))
        if delivery_id is None:
            await stored(lambda: self.repo.settle(settlements, now))
            return
        # The batch keeps its lease until the others' outcomes are written: should this process die in between, the
        # job takes over exactly the notices that are neither named sent nor written.
        await stored(lambda: self.repo.settle_delivery(delivery_id, sent, now, final=not settlements))
        if settlements:
            await stored(lambda: self.repo.settle(settlements, now))
            await stored(lambda: self.repo.settle_delivery(delivery_id, sent, now, final=True))

    async def _send_all(self, notices: Sequence[NoticeDoc]) -> list[DeliveryError | None]:
        """Each notice's outcome, in order: one request per message, or per batch where the transport takes them."""
        results: list[DeliveryError | None] = [None] * len(notices)
        by_transport: dict[str, list[int]] = {}
        for index, notice in enumerate(notices):
            by_transport.setdefault(notice.transport, []).append(index)
        sends = []
        for name, indexes in by_transport.items():
            transport = self.transports[name]
            if isinstance(transport, BatchTransport) and transport.batches:
                size = transport.batch_size
                sends += [
                    self._send_many(transport, notices, indexes[i : i + size], results)
                    for i in range(0, len(indexes), size)
                ]
            else:
                sends += [self._send_one(transport, notices, index, results) for index in indexes]
        await asyncio.gather(*sends)
        return results

    async def _send_one(self, transport: Transport, notices: Sequence[NoticeDoc], index: int, results: list) -> None:
        async with self._limit:
            try:
                await transport.send(Outgoing.from_notice(notices[index]))
            except DeliveryError as failure:
                results[index] = failure
            except Exception as bug:  # a transport's own bug: keep the notice, try again later, and say so
                logger.exception("sending notice %s failed unexpectedly", notices[index].key)
                results[index] = unexpected(bug)

    async def _send_many(
        self, transport: BatchTransport, notices: Sequence[NoticeDoc], indexes: list[int], results: list
    ) -> None:
        async with self._limit:
            try:
                outcomes = await transport.send_many([Outgoing.from_notice(notices[i]) for i in indexes])
            except Exception as bug:
                logger.exception("sending a batch of %d notices failed unexpectedly", len(indexes))
                outcomes = [unexpected(bug)] * len(indexes)
        for index, outcome in zip(indexes, outcomes, strict=True):
            results[index] = outcome

    @staticmethod
    def _count(notice: NoticeDoc, outcome: Outcome, error: DeliveryError | None, now: datetime) -> None:
        kind, transport = notice.kind, notice.transport
        delivery_attempts.labels(transport, "ok" if error is None else error.reason).inc()
        if outcome.state == "sent":
            notifications.labels(kind, transport, "sent").inc()
            delivery_latency.labels(transport).observe((now - notice.created_at).total_seconds())
        elif outcome.state == "pending" and error is not None:
            retries.labels(transport, error.reason).inc()
        elif outcome.state == "failed":
            notifications.labels(kind, transport, "failed").inc()
            logger.warning(
                "notice %s failed: %s: %s",
                notice.key,
                outcome.reason,
                outcome.detail[:300],
                extra=appeal_fields(notice.model_dump()),
            )


async def stored(write: Callable[[], Awaitable[None]]) -> None:
    """Write an outcome, trying again after a transient store failure (a dropped connection): outside a handler
    nothing else retries it, and the notices would wait for a takeover a lease later. Settlements may be written
    twice: naming the sent notices again changes nothing, and a notice's update holds only while it is as the sender
    left it."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    ):
        with attempt:
            await write()


def unexpected(bug: Exception) -> DeliveryError:
    return DeliveryError("unexpected-error", f"{type(bug).__name__}: {bug}", permanent=False)


def failed_event(notice: NoticeDoc, reason: str, detail: str, attempts: int) -> NotificationFailed:
    return NotificationFailed(
        event_id=derived_event_id("notification-failed", notice.key),
        correlation_id=notice.correlation_id,
        appeal_id=notice.appeal_id,
        notification_id=notice.key,
        kind=notice.kind,
        transport=notice.transport,
        reason=reason,
        detail=detail[:2000],
        attempts=attempts,
    )
