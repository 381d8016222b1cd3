"""Idempotency and dead letters on the real broker and store."""

import json

import pytest

from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from shared.deadletter import REASON_HEADER
from tests.integration.helpers import publish, read_topic, store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration


async def _assigned(pipeline, intake_key: str) -> dict:
    client = store_client(pipeline.store_uri)
    try:
        return await wait_until(
            lambda: client[pipeline.database].appeals.find_one(
                {"intake_key": intake_key, "status": {"$in": ["assigned", "triage"]}}
            )
        )
    finally:
        await client.close()


async def events_of(pipeline, topic: str, appeal_id: str, at_least: int) -> list[dict]:
    """The events of one appeal on a topic, read from the beginning until there are `at_least` of them."""
    key = appeal_id.encode()
    records = await read_topic(pipeline.bootstrap, topic, lambda found: sum(r.key == key for r in found) >= at_least)
    return [json.loads(r.value) for r in records if r.key == key]


async def test_same_channel_request_twice_is_one_appeal(pipeline):
    body = submission("Немає холодної води в будинку", channel="mobile", external_id="dup-req-1")
    again = {**body, "event_id": "7a1f5a52-3f35-4f43-9d93-2f1d6a1f0a01"}
    # Within one batch the two collapse into one; sent apart, the second finds the stored appeal.
    await submit_appeals(pipeline.bootstrap, [body])
    appeal = await _assigned(pipeline, "mobile:dup-req-1")
    await submit_appeals(pipeline.bootstrap, [again])
    client = store_client(pipeline.store_uri)
    try:
        assert await client[pipeline.database].appeals.count_documents({"intake_key": "mobile:dup-req-1"}) == 1
    finally:
        await client.close()
    announced = await events_of(pipeline, topics.APPEALS_REGISTERED, appeal["_id"], at_least=2)
    # The second request re-announces the same appeal with the same event id: downstream dedupes it.
    assert len(announced) == 2
    assert announced[0]["event_id"] == announced[1]["event_id"]
    assert announced[0]["appeal_id"] == announced[1]["appeal_id"] == appeal["_id"]


async def test_redelivered_event_changes_nothing_and_republishes_the_same_id(pipeline):
    body = submission("Не горить ліхтар біля під'їзду", contact={"email": "resident@example.org"})
    await submit_appeals(pipeline.bootstrap, [body])
    appeal = await _assigned(pipeline, f"web:{body['external_id']}")
    # Re-send the registered event exactly as intake published it (what a redelivery looks like).
    records = await read_topic(
        pipeline.bootstrap, topics.APPEALS_REGISTERED, lambda found: any(r.key == appeal["_id"].encode() for r in found)
    )
    original = next(r for r in records if r.key == appeal["_id"].encode())
    await publish(pipeline.bootstrap, topics.APPEALS_REGISTERED, [original.value], key=original.key)

    events = await events_of(pipeline, topics.APPEALS_CLASSIFIED, appeal["_id"], at_least=2)
    assert len(events) == 2
    assert events[0]["event_id"] == events[1]["event_id"]
    assert events[0]["classification"] == events[1]["classification"]

    client = store_client(pipeline.store_uri)
    try:
        db = client[pipeline.database]
        stored = await db.appeals.find_one({"_id": appeal["_id"]})
        assert [entry["status"] for entry in stored["history"]] == ["registered", "classified", appeal["status"]]
        assert stored["updated_at"] == appeal["updated_at"]
        assert await db.notifications.count_documents({"appeal_id": appeal["_id"]}) == 2
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        (topics.APPEALS_INTAKE, b"{not json", "invalid-json"),
        # A valid submission, but no channel header: the body's word alone is not taken.
        (
            topics.APPEALS_INTAKE,
            {"channel": "web", "text": "Яма", "external_id": "n-1", "received_at": "2026-11-25T10:00:00Z"},
            "missing-channel",
        ),
        (topics.APPEALS_INTAKE, {"channel": "web", "text": "", "received_at": "2026-11-25T10:00:00Z"}, "invalid-event"),
        (
            topics.APPEALS_INTAKE,
            {"channel": "pigeon", "text": "x", "external_id": "p-1", "received_at": "2026-11-25T10:00:00Z"},
            "unknown-channel",
        ),
        (topics.APPEALS_REGISTERED, {"appeal_id": "1", "text": "x"}, "invalid-event"),
        (topics.APPEALS_CLASSIFIED, b"\xff\xfe", "invalid-json"),
        (topics.APPEALS_ASSIGNED, {"hello": "world"}, "invalid-event"),
    ],
)
async def test_bad_message_is_parked_with_its_reason_and_the_consumer_goes_on(pipeline, topic, body, reason):
    marker = f"bad-{reason}-{topic}".encode()
    named = topic == topics.APPEALS_INTAKE and reason != "missing-channel"
    await publish(pipeline.bootstrap, topic, [body], key=marker, headers=[(CHANNEL_HEADER, b"web")] if named else None)
    parked = await read_topic(
        pipeline.bootstrap, topics.dead_letter(topic), lambda found: any(r.key == marker for r in found)
    )
    record = next(r for r in parked if r.key == marker)
    headers = {key: value.decode() for key, value in record.headers}
    assert headers[REASON_HEADER] == reason
    assert headers["x-cityline-error"]
    assert headers["x-cityline-origin"].startswith(f"{topic}/")
    assert record.value == (body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode())

    # The partition is not blocked: a good appeal still goes all the way.
    good = submission("Яма на тротуарі біля школи")
    await submit_appeals(pipeline.bootstrap, [good])
    await _assigned(pipeline, f"web:{good['external_id']}")
