"""Helpers for tests that talk to the real broker and store."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from shared.channel_keys import CHANNEL_HEADER
from shared.contracts.base import utcnow
from shared.contracts.topics import APPEALS_INTAKE
from shared.store import Store


def submission(text: str, *, channel: str = "web", external_id: str | None = None, **extra: Any) -> dict[str, Any]:
    now = utcnow().isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": now,
        "correlation_id": f"test-{uuid.uuid4().hex[:8]}",
        "channel": channel,
        "external_id": external_id or uuid.uuid4().hex,
        "text": text,
        "received_at": now,
        **extra,
    }


async def publish(
    bootstrap: str,
    topic: str,
    bodies: list[bytes | dict],
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | Callable[[Any], list[tuple[str, bytes]]] | None = None,
) -> None:
    """Publish each body; `headers` may be a function of the body."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for body in bodies:
            value = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            record_headers = headers(body) if callable(headers) else headers
            await producer.send_and_wait(topic, value, key=key, headers=record_headers)
    finally:
        await producer.stop()


async def submit_appeals(bootstrap: str, bodies: list[dict], key: bytes | None = None) -> None:
    """Publish submissions to appeals.intake as a channel does: each names its channel in the header."""
    await publish(
        bootstrap, APPEALS_INTAKE, bodies, key=key, headers=lambda body: [(CHANNEL_HEADER, body["channel"].encode())]
    )


async def wait_until(probe: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll an async probe until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")


async def read_topic(bootstrap: str, topic: str, expect: Callable[[list], bool], timeout: float = 20.0) -> list:
    """All records of a topic from the beginning, read by a fresh group until `expect` holds."""
    return await read_topics(bootstrap, [topic], expect, timeout)


def store_client(uri: str, **options: Any) -> AsyncMongoClient:
    return AsyncMongoClient(uri, tz_aware=True, **options)


@asynccontextmanager
async def scratch_store(
    uri: str, name: str, *indexes: Callable[[Store], Awaitable[None]], **options: Any
) -> AsyncIterator[Store]:
    """A database of its own for one test, with the indexes the given services build; dropped after."""
    store = Store(store_client(uri, **options), f"cityline_{name}_{uuid.uuid4().hex[:8]}")
    for build in indexes:
        await build(store)
    try:
        yield store
    finally:
        await store.client.drop_database(store.database_name)
        await store.close()


async def read_topics(bootstrap: str, topics: list[str], expect: Callable[[list], bool], timeout: float = 30.0) -> list:
    """All records of several topics from the beginning, read by one fresh group (one join) until `expect` holds."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
    )
    await consumer.start()
    records: list = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not expect(records):
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def new_topic(bootstrap: str, prefix: str, partitions: int = 1) -> str:
    """A topic of its own for one test, so nothing another test published is in it."""
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    return topic
