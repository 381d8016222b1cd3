"""Turning a batch of raw records into valid events, one record at a time; and watching the consumers.

A record that is not JSON, does not fit its event model, or fails a service's own check is parked in
its dead-letter topic with the reason; the rest of the batch goes on.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, GetJsonSchemaHandler, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.broker import log_end_offsets
from shared.deadletter import describe, park
from shared.errors import PermanentError
from shared.metrics import consumer_lag, consumer_offset_resets, consumer_ready, consumer_stalled_seconds

logger = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=BaseModel)


@dataclass(frozen=True)
class Parker:
    """Parks single records for one service."""

    broker: KafkaBroker
    service: str

    async def __call__(self, record: ConsumerRecord, error: Exception) -> None:
        reason, detail = describe(error)
        await park(self.broker, record, service=self.service, reason=reason, detail=detail)


ParkRecord = Callable[[ConsumerRecord, Exception], Awaitable[None]]


@dataclass(frozen=True)
class _DocumentedAs:
    """A JSON schema for a value that is validated as something else: the AsyncAPI document shows the event each
    message carries (one a record; the batch is how the subscriber takes them, not what is on the wire)."""

    model: Any

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(TypeAdapter(self.model).core_schema)


class Records:
    """A batch subscriber's parameter: the raw records (the decoder passes them on untouched, so `accept` validates
    and parks them one at a time), shown in the AsyncAPI document as the event each record carries:
    `records: Records[AppealRegistered]`."""

    def __class_getitem__(cls, model: Any) -> Any:
        return Annotated[list[Any], _DocumentedAs(model)]


@dataclass(frozen=True)
class Accepted(Generic[EventT]):
    record: ConsumerRecord
    event: EventT


async def accept(
    records: Sequence[ConsumerRecord],
    model: type[EventT],
    park_record: ParkRecord,
    check: Callable[[EventT], None] | None = None,
) -> list[Accepted[EventT]]:
    """The valid events of a batch, in order, each event id once; invalid records are parked.

    `check` raises PermanentError. The same event twice in one batch (a redelivery or a redrive meeting the
    original) is handled once: every stage then sees each appeal at most once per event.
    """
    accepted: list[Accepted[EventT]] = []
    seen: set[Any] = set()
    for record in records:
        try:
            event = model.model_validate_json(record.value or b"")
            if check is not None:
                check(event)
        except (ValidationError, PermanentError) as error:
            await park_record(record, error)
            continue
        event_id = getattr(event, "event_id", None)
        if event_id is not None and event_id in seen:
            continue
        seen.add(event_id)
        accepted.append(Accepted(record, event))
    return accepted


# ---- watching the consumers: lag, a broker that forgot them, a consumer that stopped moving ----


@dataclass
class _Progress:
    committed: int | None
    since: float


@dataclass
class ConsumerWatch:
    """Checks every consumer of a service's broker, every few seconds.

    - Lag is the broker's log end minus the group's committed offset, so records a stuck handler holds count.
      The log end is read exactly (`log_end_offsets`), not from the consumer's last fetch, which a stuck
      consumer does not renew.
    - A position beyond the log end (a broker that came back without its log, a recreated topic) would wait
      forever: Tansu answers such a fetch with no records and no error. Seen at two checks in a row, such a
      partition is read again from the earliest offset, which is committed at once; the reset is logged and counted.
    - A committed offset that stands still for `stall_after_s` with records waiting makes the service not ready.
    """

    broker: KafkaBroker
    service: str
    bootstrap_servers: str
    stall_after_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    stalled: dict[str, float] = field(default_factory=dict)
    _progress: dict[tuple[int, TopicPartition], _Progress] = field(default_factory=dict)
    # Partitions seen beyond the log end at the last check. Only a second sighting resets: a broker just restarted
    # on its durable engine may answer a low log end for a moment, and a reset costs a re-read.
    _beyond: set[tuple[int, TopicPartition]] = field(default_factory=set)

    def consumers(self) -> list[tuple[Any, AIOKafkaConsumer | None]]:
        return [(subscriber, getattr(subscriber, "consumer", None)) for subscriber in self.broker.subscribers]

    def reasons(self) -> list[str]:
        """Why the service is not consuming as it should; empty when it is."""
        reasons = []
        if not self.broker.running:
            reasons.append("the broker connection is not started")
        for subscriber, consumer in self.consumers():
            if consumer is None or not consumer.assignment():
                topics = ", ".join(getattr(subscriber, "topic_names_for_subscribe", ()) or ("?",))
                reasons.append(f"the consumer of {topics} has no partitions assigned")
        for partition, seconds in sorted(self.stalled.items()):
            reasons.append(f"the consumer of {partition} has not moved for {seconds:.0f} s with records waiting")
        return reasons

    async def check(self) -> None:
        for _, consumer in self.consumers():
            if consumer is not None and consumer.assignment():
                await self.check_consumer(consumer)
        consumer_ready.labels(self.service).set(0 if self.reasons() else 1)

    async def check_consumer(self, consumer: AIOKafkaConsumer) -> None:
        partitions = sorted(consumer.assignment())
        # Positions before log ends: a record appended in between can only make an end larger, never a position
        # beyond it, so a position beyond an end read after it is a log that really went shorter.
        positions = {partition: await consumer.position(partition) for partition in partitions}
        ends = await log_end_offsets(self.bootstrap_servers, partitions)
        beginnings: dict[TopicPartition, int] = {}
        for partition in partitions:
            position, end = positions[partition], max(ends[partition], consumer.highwater(partition) or 0)
            key = (id(consumer), partition)
            if position <= end:
                self._beyond.discard(key)
            elif key not in self._beyond:
                self._beyond.add(key)
            else:
                self._beyond.discard(key)
                await self.reset_to_earliest(consumer, partition, position, end)
            committed = await consumer.committed(partition)
            if committed is None:
                # A group that has committed nothing yet starts (again) from the earliest offset.
                if not beginnings:
                    beginnings = await consumer.beginning_offsets(partitions)
                committed_or_start = beginnings[partition]
            else:
                committed_or_start = committed
            lag = max(end - committed_or_start, 0)
            labels = (self.service, partition.topic, str(partition.partition))
            consumer_lag.labels(*labels).set(lag)
            consumer_stalled_seconds.labels(*labels).set(self.stalled_for(id(consumer), partition, committed, lag))

    def stalled_for(self, consumer_id: int, partition: TopicPartition, committed: int | None, lag: int) -> float:
        """Seconds the committed offset has stood still with records waiting (0 while it moves or nothing waits)."""
        now = self.clock()
        key, name = (consumer_id, partition), f"{partition.topic}[{partition.partition}]"
        progress = self._progress.get(key)
        if progress is None or progress.committed != committed or lag == 0:
            self._progress[key] = _Progress(committed, now)
            self.stalled.pop(name, None)
            return 0.0
        seconds = now - progress.since
        if seconds >= self.stall_after_s:
            self.stalled[name] = seconds
        return seconds

    async def reset_to_earliest(
        self, consumer: AIOKafkaConsumer, partition: TopicPartition, position: int, end: int
    ) -> None:
        earliest = (await consumer.beginning_offsets([partition]))[partition]
        consumer.seek(partition, earliest)
        await consumer.commit({partition: earliest})
        consumer_offset_resets.labels(self.service, partition.topic).inc()
        logger.warning(
            "%s[%d]: position %d is beyond the broker's log end %d (a broker that lost its log, or a recreated "
            "topic): reading it again from the earliest offset %d",
            partition.topic,
            partition.partition,
            position,
            end,
            earliest,
        )
