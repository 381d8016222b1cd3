"""The store is the record: finding appeals whose next step is missing without re-announcing those merely queued.

A stage's event can be lost (a broker that forgot its log) or never published (a crash between the store write
and the publish). The stage that produced it can re-derive it from the store, with the same event id, so the next
stage's idempotent write catches any repeat. It must not re-announce an appeal whose event is still waiting in the
next stage's queue, and only the next stage's own progress says that: `ConsumedHorizon` watches the next stage's
committed offsets and gives the time before which everything published to the topic has been taken. An appeal
older than that horizon whose next step is not in the store was lost on the way, whatever the backlog.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.broker import log_end_offsets, publish_keyed
from shared.contracts.base import AppealEvent
from shared.contracts.topics import DEFAULT_PARTITIONS
from shared.metrics import reconciled
from shared.service import Periodic
from shared.settings import ServiceSettings, group_of

logger = logging.getLogger(__name__)


@dataclass
class ConsumedHorizon:
    """The time before which every record published to `topic` has been committed by each of `groups`.

    Each run notes the log ends with the time; once every group's committed offsets reach those ends, that time is
    the horizon, and new ends are noted. Under a steady backlog the horizon trails by the time the backlog takes to
    drain, so a queued appeal is never taken for a lost one. Log ends that went down (a broker that came back
    without its log, a recreated topic) void the noted ends but keep their time: what was published before it and
    is not in the new log is lost, and the groups are measured against the new log.
    """

    bootstrap_servers: str
    topic: str
    groups: tuple[str, ...]
    clock: Callable[[], datetime]
    partitions: int
    horizon: datetime | None = None
    _noted: tuple[datetime, dict[TopicPartition, int]] | None = field(default=None, repr=False)

    async def advance(self) -> datetime | None:
        now = self.clock()
        partitions = [TopicPartition(self.topic, number) for number in range(self.partitions)]
        ends = await log_end_offsets(self.bootstrap_servers, partitions)
        if self._noted is not None:
            noted_at, noted_ends = self._noted
            if any(ends[p] < noted_ends[p] for p in partitions):
                logger.warning("%s: the log ends went down (a broker that lost its log?); measuring anew", self.topic)
                self._noted = (noted_at, ends)
            elif await self._all_committed(partitions, noted_ends):
                self.horizon = noted_at
                self._noted = (now, ends)
        else:
            self._noted = (now, ends)
        return self.horizon

    async def _all_committed(self, partitions: list[TopicPartition], ends: dict[TopicPartition, int]) -> bool:
        for group in self.groups:
            # A consumer that never joins: it only reads what the group committed.
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers, group_id=group, enable_auto_commit=False
            )
            await reader.start()
            try:
                for partition in partitions:
                    if ends[partition] > 0 and (await reader.committed(partition) or 0) < ends[partition]:
                        return False
            finally:
                await reader.stop()
        return True


def count_reconciled(service: str, step: str, appeal_ids: Sequence[str]) -> None:
    if appeal_ids:
        reconciled.labels(service, step).inc(len(appeal_ids))
        logger.warning("%s: %d appeals had no %s; announced again from the store", service, len(appeal_ids), step)


@dataclass
class Reconciliation:
    """One stage's re-announcement of what the next stage is missing.

    `missing(before)` reads the store: the events (same ids as first published) of appeals whose step before
    `before` has no result in the next stage's records. They go out through `publisher`, keyed by appeal.
    """

    service: str
    step: str
    horizon: ConsumedHorizon
    missing: Callable[[datetime], Awaitable[Sequence[AppealEvent]]]
    publisher: Any
    min_age: timedelta
    clock: Callable[[], datetime]

    async def run(self) -> int:
        consumed_before = await self.horizon.advance()
        if consumed_before is None:
            return 0
        events = await self.missing(min(consumed_before, self.clock() - self.min_age))
        if events:
            await publish_keyed(self.publisher, events)
            count_reconciled(self.service, self.step, [event.appeal_id for event in events])
        return len(events)


def reconciliation(
    settings: ServiceSettings,
    router: Any,
    *,
    topic: str,
    next_stage: str,
    step: str,
    missing: Callable[[datetime], Awaitable[Sequence[AppealEvent]]],
    clock: Callable[[], datetime],
) -> Periodic:
    """The periodic job re-announcing on `topic` what `next_stage` is missing. Its publisher is left out of the
    AsyncAPI document: the topic's own publisher already describes these events."""
    job = Reconciliation(
        service=settings.service_name,
        step=step,
        horizon=ConsumedHorizon(
            settings.kafka_bootstrap_servers, topic, (group_of(next_stage),), clock, DEFAULT_PARTITIONS
        ),
        missing=missing,
        publisher=router.publisher(topic, batch=True, include_in_schema=False),
        min_age=timedelta(seconds=settings.reconcile_after_s),
        clock=clock,
    )
    return Periodic(f"reconcile {step}", job.run, settings.reconcile_interval_s)
