"""Clients we did not write, against the running pipeline on the embedded broker: a channel that produces appeals and
a department that consumes its tasks, each written with confluent-kafka (librdkafka) and with aiokafka.

What works and what does not is stated in docs/kafka-clients.md; these tests keep it true."""

import asyncio
import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, Producer

from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from tests.integration.helpers import store_client, submission, wait_until

pytestmark = pytest.mark.integration

# Lift appeals go to the lift service: its department topic is where the task appears.
LIFT_TEXT = "Не працює ліфт, третій день стоїть"
LIFT_TASKS = topics.department_assignments("lift_service")


def confluent_channel(bootstrap: str, body: dict) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False})
    failures: list = []
    producer.produce(
        topics.APPEALS_INTAKE,
        json.dumps(body, ensure_ascii=False).encode(),
        key=body["external_id"].encode(),
        headers=[(CHANNEL_HEADER, body["channel"].encode())],
        on_delivery=lambda error, _message: failures.append(error) if error else None,
    )
    assert producer.flush(60) == 0
    assert failures == []


async def aiokafka_channel(bootstrap: str, body: dict) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.APPEALS_INTAKE,
            json.dumps(body, ensure_ascii=False).encode(),
            key=body["external_id"].encode(),
            headers=[(CHANNEL_HEADER, body["channel"].encode())],
        )
    finally:
        await producer.stop()


def confluent_department(bootstrap: str, appeal_id: str, timeout: float = 90) -> dict:
    """A department's consumer in its own group, reading its task topic until the appeal's task arrives."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dept-lift-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        }
    )
    consumer.subscribe([LIFT_TASKS])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            task = json.loads(message.value())
            consumer.commit(message=message, asynchronous=False)
            if task["appeal_id"] == appeal_id:
                return task
    finally:
        consumer.close()
    raise AssertionError(f"no task for appeal {appeal_id} on {LIFT_TASKS} within {timeout} s")


async def aiokafka_department(bootstrap: str, appeal_id: str, timeout: float = 90) -> dict:
    consumer = AIOKafkaConsumer(
        LIFT_TASKS,
        bootstrap_servers=bootstrap,
        group_id=f"dept-lift-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    task = json.loads(record.value)
                    if task["appeal_id"] == appeal_id:
                        await consumer.commit()
                        return task
    finally:
        await consumer.stop()
    raise AssertionError(f"no task for appeal {appeal_id} on {LIFT_TASKS} within {timeout} s")


async def registered_appeal(pipeline, external_id: str) -> str:
    client = store_client(pipeline.store_uri)
    try:
        appeal = await wait_until(
            lambda: client[pipeline.database].appeals.find_one({"intake_key": f"web:{external_id}"}), timeout=60
        )
    finally:
        await client.close()
    return appeal["_id"]


@pytest.mark.parametrize("client", ["confluent-kafka", "aiokafka"])
async def test_a_channel_and_a_department_written_with_another_client(pipeline, client):
    body = submission(LIFT_TEXT, channel="web")
    if client == "confluent-kafka":
        await asyncio.to_thread(confluent_channel, pipeline.bootstrap, body)
    else:
        await aiokafka_channel(pipeline.bootstrap, body)
    appeal_id = await registered_appeal(pipeline, body["external_id"])

    if client == "confluent-kafka":
        task = await asyncio.to_thread(confluent_department, pipeline.bootstrap, appeal_id)
    else:
        task = await aiokafka_department(pipeline.bootstrap, appeal_id)
    assert task["department"] == "lift_service"
    assert task["text"] == LIFT_TEXT
