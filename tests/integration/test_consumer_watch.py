"""Consumers that notice a broker that forgot them, and a consumer that stopped moving, on the real broker."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from shared.broker import batch_subscriber
from shared.consuming import ConsumerWatch
from shared.metrics import registry
from shared.settings import ServiceSettings
from tests.integration.helpers import new_topic, publish, wait_until

pytestmark = pytest.mark.integration


async def _commit(bootstrap: str, group: str, partition: TopicPartition, offset: int) -> None:
    """What a group remembers from an earlier life of the broker: an offset its log no longer reaches."""
    consumer = AIOKafkaConsumer(
        partition.topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
    )
    await consumer.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, result=bool(consumer.assignment())))
        await consumer.commit({partition: offset})
    finally:
        await consumer.stop()


def _settings(service: str) -> ServiceSettings:
    return ServiceSettings(
        service_name=service, kafka_session_timeout_ms=2000, kafka_heartbeat_interval_ms=300, batch_timeout_ms=20
    )


def _sample(name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_position_beyond_the_log_end_is_read_again_from_the_earliest(servers):
    topic = await new_topic(servers.bootstrap, "watch")
    settings = _settings(f"watch-{uuid.uuid4().hex[:6]}")
    partition = TopicPartition(topic, 0)
    await publish(servers.bootstrap, topic, [f"record {n}".encode() for n in range(10)])
    await _commit(servers.bootstrap, settings.group_id, partition, 5000)

    received: list[bytes] = []
    broker = KafkaBroker(servers.bootstrap)

    @batch_subscriber(broker, topic, settings=settings)
    async def collect(records: list) -> None:
        received.extend(record.value for record in records)

    watch = ConsumerWatch(broker, settings.service_name, servers.bootstrap)
    async with broker:
        await broker.start()

        async def all_read() -> bool:
            await watch.check()
            return len(received) >= 10

        await wait_until(all_read, timeout=60, interval=0.5)
        [(_, consumer)] = watch.consumers()
        assert await consumer.committed(partition) <= 10
        assert watch.reasons() == []
    assert sorted(received) == sorted(f"record {n}".encode() for n in range(10))
    assert _sample("cityline_consumer_offset_resets_total", service=settings.service_name, topic=topic) == 1


async def test_a_stuck_consumer_shows_its_lag_and_is_not_ready(servers):
    topic = await new_topic(servers.bootstrap, "watch")
    settings = _settings(f"stuck-{uuid.uuid4().hex[:6]}")
    release = asyncio.Event()
    broker = KafkaBroker(servers.bootstrap)

    @batch_subscriber(broker, topic, settings=settings)
    async def stuck(records: list) -> None:
        await release.wait()  # a handler that never finishes: nothing is committed

    watch = ConsumerWatch(broker, settings.service_name, servers.bootstrap, stall_after_s=1.0)
    async with broker:
        await broker.start()
        await wait_until(lambda: asyncio.sleep(0, result=not watch.reasons()))
        await publish(servers.bootstrap, topic, [f"record {n}".encode() for n in range(5)])

        def lag() -> float:
            return _sample("cityline_consumer_lag", service=settings.service_name, topic=topic, partition="0")

        async def stalled_with_all_waiting() -> list[str]:
            await watch.check()
            return [reason for reason in watch.reasons() if "has not moved" in reason] if lag() == 5 else []

        # All five wait: the handler holds the first of them, and nothing is committed.
        reasons = await wait_until(stalled_with_all_waiting, timeout=30, interval=0.5)
        assert f"{topic}[0]" in reasons[0]
        release.set()
