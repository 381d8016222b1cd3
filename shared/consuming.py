"""Turning a batch of raw records into valid events, one record at a time.

A record that is not JSON, does not fit its event model, or fails a service's own check is parked in
its dead-letter topic with the reason; the rest of the batch goes on.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ValidationError

from shared.deadletter import describe, park
from shared.errors import PermanentError

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
