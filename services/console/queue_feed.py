"""What keeps the console's queues (services/console/queues.py) current: the dispatcher's events, and the store.

At start the feed joins appeals.assigned and appeals.status at their log end, waits until it has its position on
every partition, and only then scans the store's open appeals (one projected scan). So nothing falls between the two:
the dispatcher writes an appeal before it publishes the event, and an event the scan already saw is older than the
book and ignored. From then on each batch of events moves the appeals it names; every `queue_reconcile_s` the scan
runs again, so an event the console missed (it was down, a record was unreadable) heals.

Every console replica keeps its own book, so each reads every event: the subscribers have no consumer group, take
all partitions and commit nothing (shared.broker.broadcast_subscriber). A restarted replica rebuilds from the store.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker

from services.console.boards import BoardReads
from services.console.metrics import queue_moves, queue_scan_seconds
from services.console.queues import QueueBook, moves_of_assigned, moves_of_statuses
from shared.broker import broadcast_subscriber, build_broker
from shared.consuming import accept
from shared.contracts import topics
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged
from shared.service import Periodic
from shared.settings import ServiceSettings
from shared.store import Store

logger = logging.getLogger(__name__)

# How long the feed waits for its consumers' positions at start before it scans anyway (the reconciliation heals).
POSITION_WAIT_S = 15.0


async def skip_record(record: ConsumerRecord, error: Exception) -> None:
    """A record the console cannot read is the producer's to park (the dispatcher validated what it published):
    the console only notes it, and its next reconciliation reads the appeal from the store."""
    logger.warning(
        "queues skip an unreadable record on %s[%d] at %d: %s",
        record.topic,
        record.partition,
        record.offset,
        error.__class__.__name__,
    )


class QueueFeed:
    def __init__(
        self,
        store: Store,
        book: QueueBook,
        settings: ServiceSettings,
        reconcile_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.reads, self.book, self.clock = BoardReads(store, book), book, clock
        self.reconciliation = Periodic("queue reconciliation", self.reconcile, reconcile_s, first_delay_s=reconcile_s)
        self.broker = build_broker(settings)
        self.subscribers = _subscribe(self.broker, book, settings)
        self._task: asyncio.Task | None = None
        # Set once the queues are first read from the store: the console is ready from then on.
        self.built = asyncio.Event()

    async def reconcile(self) -> None:
        """One projected scan of the store's open appeals, merged into the book."""
        started, began = self.clock(), time.perf_counter()
        moves = await self.reads.open_appeals()
        changed = self.book.reconcile(moves, started)
        queue_scan_seconds.observe(time.perf_counter() - began)
        queue_moves.labels("store").inc(changed)
        logger.info("queues read from the store: %d open appeals, %d places changed", len(moves), changed)

    async def start(self) -> None:
        """Join the topics, then build the book in the background (the console is ready once it is built)."""
        await self.broker.start()
        self._task = asyncio.create_task(self._build_then_reconcile(), name="queue feed")

    async def _build_then_reconcile(self) -> None:
        try:
            await self._positions()
        except Exception:
            # Built anyway: what a missing position lets slip past, the next reconciliation reads from the store.
            logger.exception("the queues' consumers did not report their positions; reading the store anyway")
        while not self.book.built:
            try:
                await self.reconcile()
            except Exception:
                logger.exception("the queues could not be read from the store; trying again")
                await asyncio.sleep(2.0)
        self.built.set()
        await self.reconciliation.loop()

    async def _positions(self) -> None:
        """Wait until every subscriber's consumer knows where it reads from on each partition (its log end)."""
        deadline = time.monotonic() + POSITION_WAIT_S
        for subscriber in self.subscribers:
            consumer = subscriber.consumer
            # The partitions come with the consumer's first metadata: a short poll, bounded by the deadline.
            while not consumer.assignment() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            for partition in consumer.assignment():
                await asyncio.wait_for(consumer.position(partition), max(deadline - time.monotonic(), 0.1))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.broker.stop()


def _subscribe(broker: KafkaBroker, book: QueueBook, settings: ServiceSettings) -> list[Any]:
    """One subscriber per topic, each accept -> decide (the moves) -> apply (to the book); nothing to publish."""

    assigned, statuses = (
        broadcast_subscriber(broker, topic, settings=settings, title=f"{topic}:console")
        for topic in (topics.APPEALS_ASSIGNED, topics.APPEALS_STATUS)
    )

    @assigned
    async def on_appeals_assigned(records: list[Any]) -> None:
        accepted = await accept(records, AppealAssigned, skip_record)
        moves = moves_of_assigned([item.event for item in accepted])
        queue_moves.labels("assigned").inc(book.apply(moves))

    @statuses
    async def on_appeals_status(records: list[Any]) -> None:
        accepted = await accept(records, AppealStatusChanged, skip_record)
        moves = moves_of_statuses([item.event for item in accepted])
        queue_moves.labels("status").inc(book.apply(moves))

    return [assigned, statuses]
