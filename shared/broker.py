"""Broker setup in one place: the KafkaBroker every service uses, batch subscribers, keyed batch publishing.

Every subscriber commits after its handler returns (AckPolicy.ACK), reads from the earliest offset
when its group is new, and consumes in batches; every publish of a batch keeps each appeal on the
partition its key hashes to, so one appeal's events stay in order.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaPublishMessage, KafkaRouter
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage

from shared.consumer_progress import ConsumerProgressMiddleware
from shared.contracts.base import AppealEvent
from shared.contracts.topics import DEFAULT_PARTITIONS
from shared.deadletter import DeadLetterMiddleware
from shared.metrics import registry
from shared.settings import ServiceSettings

# publish_batch is bounded by the producer's max_batch_size (trap 8): raise it, and chunk as well.
MAX_BATCH_BYTES = 1024 * 1024
PUBLISH_CHUNK = 200

_partitioner = DefaultPartitioner()


def build_broker(settings: ServiceSettings, **kwargs: Any) -> KafkaBroker:
    dead_letters = DeadLetterMiddleware(
        service=settings.service_name,
        attempts=settings.transient_retry_attempts,
        max_wait_s=settings.transient_retry_max_wait_s,
    )
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"cityline-{settings.service_name}",
        middlewares=[
            KafkaPrometheusMiddleware(registry=registry, app_name=f"cityline-{settings.service_name}"),
            ConsumerProgressMiddleware(settings.service_name),
            dead_letters,
        ],
        max_batch_size=MAX_BATCH_BYTES,
        acks=settings.producer_acks,
        # Through the root logger, so FastStream's lines are JSON like ours.
        logger=logging.getLogger(f"cityline.{settings.service_name}.broker"),
        # The per-message access log would cost real work at thousands of messages a second.
        log_level=logging.DEBUG,
        **kwargs,
    )
    dead_letters.bind(broker)
    return broker


async def raw_records(msg: StreamMessage[Any]) -> Any:
    """Hand the handler the records as they arrived, so each is validated (and parked) on its own."""
    raw = msg.raw_message
    return list(raw) if isinstance(raw, tuple | list) else [raw]


def batch_subscriber(
    router: KafkaRouter | KafkaBroker, *topics: str, settings: ServiceSettings, group_id: str = "", **kwargs: Any
):
    """`group_id`: the subscriber's own consumer group, when a service has several subscribers (default: the
    service's group)."""
    return router.subscriber(
        *topics,
        group_id=group_id or settings.group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        **_batches(settings),
        **kwargs,
    )


def broadcast_subscriber(router: KafkaRouter | KafkaBroker, topic: str, *, settings: ServiceSettings, **kwargs: Any):
    """Every instance of the service reads every record of `topic`: no consumer group (the consumer takes all the
    partitions), from the log's end as it starts, and nothing committed. For a view an instance keeps in its own
    memory and builds from the store at start, so it needs what happens from then on, and all of it."""
    return router.subscriber(
        topic, group_id=None, auto_offset_reset="latest", ack_policy=AckPolicy.MANUAL, **_batches(settings), **kwargs
    )


def _batches(settings: ServiceSettings) -> dict[str, Any]:
    return {
        "batch": True,
        "max_records": settings.batch_max_records,
        "batch_timeout_ms": settings.batch_timeout_ms,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "decoder": raw_records,
    }


# A fetch held this long answers even when no record waits; its high watermark is the log's true end.
_WATERMARK_FETCH_MS = 50


async def log_end_offsets(bootstrap_servers: str, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
    """The partitions' log ends, exact: the high watermark of a fetch at the listed end.

    Tansu's ListOffsets answers below the true end when the last produced batch held several records (the batch's
    base offset + 1); a fetch from there returns that batch and the exact watermark. The reader has no group.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        return await _watermarks(consumer, partitions)
    finally:
        await consumer.stop()


async def _watermarks(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
    consumer.assign(list(partitions))
    await consumer.seek_to_end(*partitions)
    ends: dict[TopicPartition, int] = {}
    for _ in range(20):
        await consumer.getmany(*partitions, timeout_ms=_WATERMARK_FETCH_MS, max_records=1)
        ends = {p: watermark for p in partitions if (watermark := consumer.highwater(p)) is not None}
        if len(ends) == len(partitions):
            return ends
    listed = await consumer.end_offsets(list(partitions))
    return {p: max(ends.get(p, 0), listed[p]) for p in partitions}


def partition_for(key: bytes, partitions: int = DEFAULT_PARTITIONS) -> int:
    all_partitions = list(range(partitions))
    return _partitioner(key, all_partitions, all_partitions)


def group_by_partition(
    events: Sequence[AppealEvent], partitions: int = DEFAULT_PARTITIONS
) -> dict[int, list[AppealEvent]]:
    groups: dict[int, list[AppealEvent]] = defaultdict(list)
    for event in events:
        groups[partition_for(event.kafka_key(), partitions)].append(event)
    return groups


async def publish_keyed(publisher: Any, events: Sequence[AppealEvent], partitions: int = DEFAULT_PARTITIONS) -> None:
    """Publish events keyed by appeal id, one batch request per partition (trap 7) and chunk.

    The requests go out together: each appeal appears once in `events`, so their order does not matter,
    and one appeal's next event is published only after this call returns.
    """
    requests = []
    for partition, group in group_by_partition(events, partitions).items():
        for start in range(0, len(group), PUBLISH_CHUNK):
            chunk = group[start : start + PUBLISH_CHUNK]
            requests.append(
                publisher.publish(
                    *(KafkaPublishMessage(event.model_dump(mode="json"), key=event.kafka_key()) for event in chunk),
                    partition=partition,
                )
            )
    await asyncio.gather(*requests)
