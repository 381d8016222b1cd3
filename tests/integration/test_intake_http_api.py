"""Intake's HTTP API on the running intake service, real broker and store: channels' keys made with the
`cityline channels` command as an operator runs it, appeals in over HTTP and Kafka, errors, idempotency."""

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from shared.deadletter import REASON_HEADER
from tests.integration.helpers import publish, read_topic, store_client, submission, wait_until

pytestmark = pytest.mark.integration

HOT_WATER = "Третій день немає гарячої води в квартирі"


def cityline(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "cityline"), *args],
        env=stack.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def add_channel(stack, kind: str = "web", rate: int = 1000) -> tuple[str, str]:
    """A new channel made by `cityline channels add`; returns its name and the key it printed."""
    name = f"t_{kind}_{uuid.uuid4().hex[:8]}"
    done = cityline(stack, "channels", "add", name, "--kind", kind, "--rate-limit", str(rate))
    assert done.returncode == 0, done.stderr
    return name, done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def base_url(pipeline) -> str:
    return f"http://127.0.0.1:{pipeline.service_port('intake')}"


@pytest.fixture(scope="module")
def web_channel(pipeline) -> tuple[str, str]:
    return add_channel(pipeline)


@pytest.fixture
async def api(base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


async def test_channels_command_adds_lists_and_revokes(pipeline, api):
    name, key = add_channel(pipeline, kind="superapp")
    assert key.startswith("cl_")

    listed = cityline(pipeline, "channels", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = next(record for record in records if record["name"] == name)
    assert mine["kind"] == "superapp" and mine["revoked_at"] is None
    assert key not in listed.stdout and "key_hash" not in listed.stdout

    ok = await api.post("/v1/appeals", json={"text": HOT_WATER}, headers={"X-API-Key": key})
    assert ok.status_code == 201, ok.text

    revoked = cityline(pipeline, "channels", "revoke", name)
    assert revoked.returncode == 0, revoked.stderr
    refused = await api.post("/v1/appeals", json={"text": HOT_WATER}, headers={"X-API-Key": key})
    assert refused.status_code == 403
    assert name in refused.json()["detail"] and "revoked" in refused.json()["detail"]

    again = cityline(pipeline, "channels", "add", name, "--kind", "web")
    assert again.returncode == 2 and "exists" in again.stderr
    unknown_kind = cityline(pipeline, "channels", "add", "t_fax_channel")
    assert unknown_kind.returncode == 2 and "--kind" in unknown_kind.stderr


async def test_missing_or_wrong_key_is_refused_with_a_clear_message(api):
    missing = await api.post("/v1/appeals", json={"text": HOT_WATER})
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    wrong = await api.post("/v1/appeals", json={"text": HOT_WATER}, headers={"X-API-Key": "cl_0123456789ab_nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "unknown API key"


async def test_an_appeal_posted_over_http_is_registered_announced_and_followed(pipeline, api, web_channel):
    name, key = web_channel
    body = {
        "text": HOT_WATER,
        "contact": {"phone": "067 123 45 67", "email": "resident@example.com"},
        "address": {"text": "вул. Хрещатик, 1", "lat": 50.45, "lon": 30.52},
        "attachments": ["https://example.com/photo.jpg"],
    }
    created = await api.post("/v1/appeals", json=body, headers={"X-API-Key": key})
    assert created.status_code == 201, created.text
    answer = created.json()
    appeal_id = answer["appeal_id"]
    assert answer["created"] is True
    assert answer["status_url"].endswith(f"/v1/appeals/{appeal_id}")
    assert created.headers["location"] == answer["status_url"]

    client = store_client(pipeline.store_uri)
    try:
        stored = await client[pipeline.database].appeals.find_one({"_id": appeal_id})
    finally:
        await client.close()
    assert stored["channel"] == name
    assert stored["contact"]["phone"] == "+380671234567"
    assert stored["attachments"] == ["https://example.com/photo.jpg"]

    records = await read_topic(
        pipeline.bootstrap, topics.APPEALS_REGISTERED, lambda found: any(r.key == appeal_id.encode() for r in found)
    )
    event = json.loads(next(r for r in records if r.key == appeal_id.encode()).value)
    assert event["channel"] == name

    async def assigned():
        response = await api.get(answer["status_url"])
        view = response.json()
        return view if view["status"] == "assigned" else None

    view = await wait_until(assigned, timeout=30)
    assert view["department"]["code"] == "kyivteploenergo"
    assert view["due_at"] and view["category"] == "hot_water"
    assert [entry["status"] for entry in view["history"]] == ["registered", "classified", "assigned"]
    # What a resident may see: never the contact, nor the words of the appeal.
    text = json.dumps(view, ensure_ascii=False)
    assert "+380671234567" not in text and "resident@example.com" not in text and HOT_WATER not in text

    missing = await api.get("/v1/appeals/9999999")
    assert missing.status_code == 404
    malformed = await api.get("/v1/appeals/abc")
    assert malformed.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"text": HOT_WATER, "contact": {"phone": "12"}}, "phone"),
        ({"text": HOT_WATER, "contact": {"email": "not-an-address"}}, "email"),
        ({"text": HOT_WATER, "address": {"lat": 48.9, "lon": 24.7}}, "address"),
        ({"text": HOT_WATER, "attachments": ["file:///etc/passwd"]}, "attachments"),
        ({"text": HOT_WATER, "priority": "urgent"}, "priority"),
        ({"text": HOT_WATER, "category": "teleportation"}, "category"),
        ({"text": HOT_WATER, "received_at": "2099-01-01T00:00:00Z"}, "received_at"),
    ],
)
async def test_a_bad_request_is_answered_422_naming_the_field(api, web_channel, body, field):
    response = await api.post("/v1/appeals", json=body, headers={"X-API-Key": web_channel[1]})
    assert response.status_code == 422, response.text
    issues = response.json()["detail"]
    assert any(field in [str(part) for part in issue["loc"]] for issue in issues), issues
    assert all(issue["msg"] for issue in issues)


async def test_a_body_over_the_limit_is_refused(api, web_channel):
    response = await api.post(
        "/v1/appeals",
        content=json.dumps({"text": "x" * 100_000}),
        headers={"X-API-Key": web_channel[1], "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


async def test_same_external_id_gives_the_same_appeal(api, web_channel):
    body = {"text": HOT_WATER, "external_id": f"ext-{uuid.uuid4().hex}"}
    first = await api.post("/v1/appeals", json=body, headers={"X-API-Key": web_channel[1]})
    second = await api.post("/v1/appeals", json=body, headers={"X-API-Key": web_channel[1]})
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["appeal_id"] == second.json()["appeal_id"]
    assert second.json()["created"] is False


async def test_concurrent_requests_with_one_idempotency_key_make_one_appeal(pipeline, api, web_channel):
    _, key = web_channel
    idempotency_key = f"idem-{uuid.uuid4().hex}"
    headers = {"X-API-Key": key, "Idempotency-Key": idempotency_key}
    body = {"text": "Не працює ліфт у під'їзді"}
    responses = await asyncio.gather(*(api.post("/v1/appeals", json=body, headers=headers) for _ in range(8)))
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert len({r.json()["appeal_id"] for r in responses}) == 1
    assert sum(r.json()["created"] for r in responses) == 1

    client = store_client(pipeline.store_uri)
    try:
        count = await client[pipeline.database].appeals.count_documents({"_id": responses[0].json()["appeal_id"]})
    finally:
        await client.close()
    assert count == 1

    reused = await api.post("/v1/appeals", json={"text": "Інше звернення"}, headers=headers)
    assert reused.status_code == 422
    assert "Idempotency-Key" in reused.json()["detail"]


async def test_a_channel_over_its_rate_limit_gets_429_with_retry_after(pipeline, api):
    _, key = add_channel(pipeline, rate=3)
    statuses = []
    for _ in range(5):
        response = await api.post("/v1/appeals", json={"text": HOT_WATER}, headers={"X-API-Key": key})
        statuses.append(response.status_code)
    assert statuses[:3] == [201, 201, 201]
    assert statuses[3] == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "limit" in response.json()["detail"]


async def test_kafka_channels_are_checked_against_the_same_list(pipeline, web_channel):
    name, _ = web_channel
    good = submission("Яма на дорозі біля зупинки", channel=name)
    unknown = submission("Яма на дорозі", channel="web")
    mismatch = submission("Яма на дорозі", channel="phone")
    await publish(pipeline.bootstrap, topics.APPEALS_INTAKE, [good], headers=[(CHANNEL_HEADER, name.encode())])
    await publish(
        pipeline.bootstrap,
        topics.APPEALS_INTAKE,
        [unknown],
        key=b"hdr-unknown",
        headers=[(CHANNEL_HEADER, b"t_no_such_channel")],
    )
    await publish(
        pipeline.bootstrap,
        topics.APPEALS_INTAKE,
        [mismatch],
        key=b"hdr-mismatch",
        headers=[(CHANNEL_HEADER, name.encode())],
    )

    client = store_client(pipeline.store_uri)
    try:
        db = client[pipeline.database]
        appeal = await wait_until(lambda: db.appeals.find_one({"intake_key": f"{name}:{good['external_id']}"}))
        assert appeal["channel"] == name
    finally:
        await client.close()

    parked = await read_topic(
        pipeline.bootstrap,
        topics.dead_letter(topics.APPEALS_INTAKE),
        lambda found: {b"hdr-unknown", b"hdr-mismatch"} <= {r.key for r in found},
    )
    reasons = {
        r.key: dict(r.headers)[REASON_HEADER].decode() for r in parked if r.key in (b"hdr-unknown", b"hdr-mismatch")
    }
    assert reasons == {b"hdr-unknown": "unknown-channel", b"hdr-mismatch": "channel-mismatch"}
