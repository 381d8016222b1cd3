"""Two replicas of every service on the real broker and store: they share each consumer group's partitions, both
do work, every appeal is registered, classified and assigned once with one registration and one assignment notice,
and when one replica of every service is killed mid-stream its partitions go to the other with nothing lost and
nothing in a dead-letter topic.

The test starts a broker and a store of its own (the embedded ones, on free ports): the session's pipeline would
otherwise be a third member of every group.
"""

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer

from cityline.replicas import CONSUMER_SERVICES as SERVICES
from cityline.replicas import ReplicaSet, stack_of_its_own
from cityline.stack import EmbeddedStack
from cityline.topics import topic_partitions
from shared.contracts import topics
from tests.integration.helpers import read_topics, store_client, submission, submit_appeals, wait_until
from tests.integration.test_pipeline_flow import TEXTS

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)


APPEALS = int(os.environ.get("CITYLINE_TEST_REPLICA_APPEALS", "1000"))
DEAD_LETTER_TOPICS = [topics.dead_letter(topic) for topic in topics.PIPELINE_TOPICS] + [topics.NOTIFICATIONS_DLQ]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory) -> Iterator[EmbeddedStack]:
    # A notifier killed mid-send leaves its batch to the other replica after 3 s, not a minute.
    timeouts = {"DELIVERY_LEASE_S": "3", "HTTP_TIMEOUT_S": "2", "SMTP_TIMEOUT_S": "2", "DELIVERY_INTERVAL_S": "0.1"}
    stack = stack_of_its_own(
        tmp_path_factory.mktemp("replicas"), {f"CITYLINE_NOTIFIER_{name}": value for name, value in timeouts.items()}
    )
    stack.start(with_services=False)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def replicas(own_stack: EmbeddedStack) -> Iterator[ReplicaSet]:
    replica_set = ReplicaSet(own_stack)
    try:
        replica_set.start({service: 2 for service in SERVICES}, timeout_s=240)
        yield replica_set
    finally:
        replica_set.stop()


def both_did_work(counts: list[float]) -> bool:
    return len(counts) == 2 and all(count > 0 for count in counts)


async def appeals_done(db, keys: list[str]) -> bool:
    done = {"intake_key": {"$in": keys}, "status": {"$in": ["assigned", "triage"]}}
    return await db.appeals.count_documents(done) == len(keys)


@pytest.mark.timeout(1500)
async def test_two_replicas_of_every_service_share_the_work_and_survive_losing_one(replicas: ReplicaSet) -> None:
    stack = replicas.stack
    bodies = [
        submission(TEXTS[i % len(TEXTS)], channel="phone" if i % 2 else "web", contact={"phone": "+380441234567"})
        for i in range(APPEALS)
    ]
    keys = [f"{body['channel']}:{body['external_id']}" for body in bodies]
    half = APPEALS // 2
    client = store_client(stack.store_uri)
    db = client[stack.database]
    started = time.monotonic()

    def phase(what: str) -> None:
        logger.info("%s after %.1f s (%d appeals, 2 replicas each)", what, time.monotonic() - started, APPEALS)

    try:
        await submit_appeals(stack.bootstrap, bodies[:half])

        # Both replicas of each service hold partitions and do part of the work.
        async def both_working(service: str) -> list[float]:
            counts = [replica.metric("faststream_received_messages_total") for replica in replicas.of(service)]
            return counts if both_did_work(counts) else []

        for service in SERVICES:
            await wait_until(lambda service=service: both_working(service), timeout=240, interval=0.5)
        assert all(replica.ready() for replica in replicas.replicas)
        classified_before = [r.metric("cityline_stage_appeals_total", outcome="new") for r in replicas.of("classifier")]
        assert all(count > 0 for count in classified_before), classified_before

        phase("both replicas of every service working")
        # Mid-stream: one replica of every service dies without committing; the rest of the stream follows.
        killed = [replicas.of(service)[0] for service in SERVICES]
        for replica in killed:
            replica.kill()
        await submit_appeals(stack.bootstrap, bodies[half:])
        survivors = [replicas.of(service)[1] for service in SERVICES]

        await wait_until(lambda: appeals_done(db, keys), timeout=600, interval=1.0)
        phase("every appeal assigned")
        # The survivors took over the dead ones' partitions and finished the stream.
        for replica in survivors:
            assert replica.process.running(), replica.process.log_tail()
            assert replica.ready(), f"{replica.name} holds no partitions"
        classifier_after = survivors[SERVICES.index("classifier")].metric("cityline_stage_appeals_total", outcome="new")
        assert classifier_after > classified_before[1]

        # Each appeal once: one document, one classification decision, one assignment, in order.
        appeals = await db.appeals.find({"intake_key": {"$in": keys}}, {"history": 1, "status": 1}).to_list()
        assert len(appeals) == APPEALS
        for appeal in appeals:
            assert [entry["status"] for entry in appeal["history"]] == ["registered", "classified", appeal["status"]]
        ids = [appeal["_id"] for appeal in appeals]
        decisions = Counter(
            [doc["appeal_id"] async for doc in db.classifications.find({"appeal_id": {"$in": ids}}, {"appeal_id": 1})]
        )
        assert set(decisions) == set(ids) and set(decisions.values()) == {1}

        # One registration notice and one assignment (or triage) notice each, none failed.
        async def notices_complete() -> Counter:
            found = Counter()
            async for notice in db.notifications.find({"appeal_id": {"$in": ids}}, {"appeal_id": 1, "kind": 1}):
                found["registered" if notice["kind"] == "registered" else "routed", notice["appeal_id"]] += 1
            return found if len(found) == 2 * APPEALS else Counter()

        notices = await wait_until(notices_complete, timeout=300, interval=1.0)
        phase("every notice recorded")
        assert set(notices.values()) == {1}
        assert await db.notifications.count_documents({"appeal_id": {"$in": ids}, "state": "failed"}) == 0

        # Downstream saw one assignment event per appeal (a redelivery repeats the same event id, never a new one).
        assigned = await read_topics(
            stack.bootstrap, [topics.APPEALS_ASSIGNED], lambda records: len(records) >= APPEALS, timeout=120
        )
        event_ids: dict[str, set[str]] = {}
        for record in assigned:
            event = json.loads(record.value)
            event_ids.setdefault(event["appeal_id"], set()).add(event["event_id"])
        assert set(event_ids) >= set(ids)
        assert all(len(event_ids[appeal_id]) == 1 for appeal_id in ids)
        parked = await read_topics(stack.bootstrap, DEAD_LETTER_TOPICS, lambda records: False, timeout=5)
        assert parked == []
        phase("topics read")
    finally:
        await client.close()


def run_command(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


async def test_cityline_topics_create_makes_every_topic_with_its_partitions(tmp_path) -> None:
    """The one-shot job of compose and Kubernetes, on a broker that has no topic yet; a second run creates none."""
    broker = stack_of_its_own(tmp_path)
    broker.start_broker()
    try:
        command = [sys.executable, "-m", "cityline.cli", "topics", "create", "--bootstrap", broker.bootstrap]
        first = await asyncio.to_thread(run_command, command)
        wanted = topic_partitions()
        assert first.stdout.startswith(f"{len(wanted)} topics created, 0 existed")
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        try:
            found = {topic: len(consumer.partitions_for_topic(topic) or ()) for topic in await consumer.topics()}
        finally:
            await consumer.stop()
        assert {topic: found.get(topic) for topic in wanted} == wanted
        again = await asyncio.to_thread(run_command, command)
        assert again.stdout.startswith(f"0 topics created, {len(wanted)} existed")
    finally:
        broker.stop()
