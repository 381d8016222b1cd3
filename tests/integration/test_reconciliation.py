"""The store is the record, for every stage: an appeal whose next step is missing is announced again by the stage
that made its last step, and only once the next stage has taken everything published before (its own progress)."""

import uuid
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contracts.base import utcnow
from shared.reconcile import ConsumedHorizon
from tests.integration.helpers import new_topic, publish, store_client, wait_until

pytestmark = pytest.mark.integration

PHONE = {"phone": "+380671234567", "language": "uk", "notifications": True}


def appeal_document(appeal_id: str, at, **fields) -> dict:
    """An appeal as intake stores it, `at` in the past."""
    return {
        "_id": appeal_id,
        "intake_key": f"phone:reconcile-{appeal_id}",
        "external_id": f"reconcile-{appeal_id}",
        "channel": "phone",
        "text": "Не працює ліфт, третій день стоїть",
        "contact": PHONE,
        "address": None,
        "received_at": at,
        "registered_at": at,
        "correlation_id": f"reconcile-{appeal_id}",
        "status": "registered",
        "history": [{"status": "registered", "at": at, "event_id": str(uuid.uuid4()), "by": "intake"}],
        "updated_at": at,
        **fields,
    }


CLASSIFICATION = {
    "category": "elevators",
    "urgency": "normal",
    "confidence": 0.9,
    "decision_id": "",
    "decided_by": "rules",
}


async def test_a_decision_the_dispatcher_never_had_is_announced_again_by_the_classifier(pipeline):
    client = store_client(pipeline.store_uri)
    db = client[pipeline.database]
    at = utcnow() - timedelta(seconds=30)
    decision_id = str(uuid.uuid4())
    # Classified and recorded; the classified event went with the broker.
    await db.appeals.insert_one(appeal_document("9100001", at))
    await db.classifications.insert_one(
        {
            "_id": decision_id,
            "appeal_id": "9100001",
            "classification": {**CLASSIFICATION, "decision_id": decision_id, "decided_at": at},
            "at": at,
            "correlation_id": "reconcile-9100001",
        }
    )
    try:
        appeal = await wait_until(
            lambda: db.appeals.find_one({"_id": "9100001", "status": {"$in": ["assigned", "triage"]}}), timeout=60
        )
        # The decision as recorded, not a new one: the classified entry carries the recorded decision's id.
        assert [entry["event_id"] for entry in appeal["history"] if entry["status"] == "classified"] == [decision_id]
        assert appeal["classification"]["category"] == "elevators"
        await wait_until(lambda: db.notifications.find_one({"_id": f"9100001:{appeal['assignment']['outcome']}"}))
    finally:
        await client.close()


async def test_an_assignment_whose_notice_was_lost_is_announced_again_by_the_dispatcher(pipeline):
    client = store_client(pipeline.store_uri)
    db = client[pipeline.database]
    at = utcnow() - timedelta(seconds=30)
    assigned_id = str(uuid.uuid4())
    document = appeal_document(
        "9100002",
        at,
        status="assigned",
        classification={**CLASSIFICATION, "decision_id": "d-9100002", "decided_at": at},
        assignment={
            "department": "lift_service",
            "department_name": "Ліфтова служба",
            "due_at": at + timedelta(days=3),
            "outcome": "assigned",
            "reason": "category elevators",
        },
    )
    document["history"] += [
        {"status": "classified", "at": at, "event_id": "d-9100002", "by": "classifier"},
        {"status": "assigned", "at": at, "event_id": assigned_id, "by": "dispatcher"},
    ]
    await db.appeals.insert_one(document)
    try:
        notice = await wait_until(lambda: db.notifications.find_one({"_id": "9100002:assigned"}), timeout=60)
        assert notice["event_id"] == assigned_id
        # Not the registration: only the missing step is announced again.
        assert await db.notifications.count_documents({"appeal_id": "9100002"}) == 1
    finally:
        await client.close()


async def test_the_horizon_waits_for_the_next_stage_to_take_what_was_published(servers):
    topic, group = await new_topic(servers.bootstrap, "horizon"), f"horizon-{uuid.uuid4().hex[:8]}"
    first = utcnow()
    ticks = iter(range(100))
    horizon = ConsumedHorizon(
        servers.bootstrap, topic, (group,), lambda: first + timedelta(seconds=next(ticks)), partitions=1
    )
    await publish(servers.bootstrap, topic, [b"queued"] * 3)

    noted = await horizon.advance()  # notes the log end (3) at the first time
    assert noted is None
    # Nothing taken by the group: however often asked, a queued record keeps the horizon where it was.
    assert await horizon.advance() is None
    assert await horizon.advance() is None

    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
    )
    await reader.start()
    try:
        taken = []
        while len(taken) < 3:
            for records in (await reader.getmany(timeout_ms=500)).values():
                taken.extend(records)
        await reader.commit({TopicPartition(topic, 0): 3})
    finally:
        await reader.stop()

    # Everything published before the first look has been taken: that look's time is the horizon.
    assert await horizon.advance() == first
