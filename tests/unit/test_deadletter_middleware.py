"""The dead-letter middleware around every handler: retry transient failures in place, park what still fails."""

from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from shared.broker import raw_records
from shared.deadletter import ATTEMPTS_HEADER, ERROR_HEADER, ORIGIN_HEADER, REASON_HEADER, DeadLetterMiddleware
from shared.errors import PermanentError, TransientError


def build(errors: list[Exception], attempts: int = 3) -> tuple[KafkaBroker, list[int], list[dict[str, str]]]:
    """A broker whose `work` handler raises the given errors in turn, and what reaches `work.dlq`."""
    middleware = DeadLetterMiddleware(service="test", attempts=attempts, max_wait_s=0.01)
    broker = KafkaBroker(middlewares=[middleware])
    middleware.bind(broker)
    calls: list[int] = []
    parked: list[dict[str, str]] = []

    @broker.subscriber("work")
    async def on_work(body: dict) -> None:
        calls.append(1)
        if errors:
            raise errors.pop(0)

    @broker.subscriber("work.dlq", decoder=raw_records)
    async def on_parked(records: list[Any]) -> None:
        for record in records:
            parked.append({key: value.decode() for key, value in record.headers} | {"body": record.value.decode()})

    return broker, calls, parked


async def test_a_transient_failure_is_retried_in_place_and_then_succeeds():
    broker, calls, parked = build([TransientError("store away")])
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"n": 1}, "work")
    assert len(calls) == 2
    assert parked == []


async def test_a_failure_that_stays_transient_is_parked_as_exhausted_after_every_attempt():
    broker, calls, parked = build([TransientError("store away")] * 5, attempts=3)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"n": 1}, "work")
    assert len(calls) == 3
    assert len(parked) == 1
    assert parked[0][REASON_HEADER] == "transient-exhausted"
    assert parked[0][ATTEMPTS_HEADER] == "3"
    assert parked[0][ORIGIN_HEADER].startswith("work/")


@pytest.mark.parametrize(
    ("error", "reason", "detail"),
    [
        (PermanentError("unknown-appeal", "no appeal 1000001"), "unknown-appeal", "no appeal 1000001"),
        (ZeroDivisionError("division by zero"), "unexpected-error", "ZeroDivisionError: division by zero"),
    ],
)
async def test_a_permanent_failure_or_a_bug_is_parked_at_once_with_the_message_as_it_came(error, reason, detail):
    broker, calls, parked = build([error])
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"n": 1}, "work", headers={"x-channel-trace": "abc"})
    assert len(calls) == 1
    assert len(parked) == 1
    assert parked[0][REASON_HEADER] == reason
    assert parked[0][ERROR_HEADER] == detail
    assert parked[0]["x-channel-trace"] == "abc"  # the original headers travel with it
    assert parked[0]["body"] == '{"n":1}' or parked[0]["body"] == '{"n": 1}'
