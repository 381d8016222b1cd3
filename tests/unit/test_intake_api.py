"""services/intake/api.py in memory (httpx on the ASGI app) with fakes of the registry, the store and registration:
authentication, limits, error shapes, idempotency's HTTP answers, metrics. The real path is in tests/integration."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from pymongo.errors import ServerSelectionTimeoutError

from services.intake.api import create_api
from services.intake.batching import RegistrationBatcher
from services.intake.handlers import Registered
from services.intake.settings import IntakeSettings
from shared.channel_keys import ChannelRecord
from shared.contracts.intake import AppealSubmitted
from shared.metrics import registry
from shared.staff_auth import StaffAuth
from tests.unit.fakes import NOW

KEY, REVOKED_KEY, SLOW_KEY = "cl_0123456789ab_secret", "cl_ba9876543210_secret", "cl_aaaaaaaaaaaa_secret"


class Channels:
    """ChannelRegistry.by_key over a dict."""

    def __init__(self) -> None:
        self.by = {
            KEY: ChannelRecord(name="kyiv_portal", kind="web", key_prefix="0123456789ab", created_at=NOW),
            REVOKED_KEY: ChannelRecord(
                name="old_portal", kind="web", key_prefix="ba9876543210", created_at=NOW, revoked_at=NOW
            ),
            SLOW_KEY: ChannelRecord(
                name="slow", kind="web", key_prefix="aaaaaaaaaaaa", created_at=NOW, rate_per_minute=2
            ),
        }

    async def by_key(self, key: str) -> ChannelRecord | None:
        return self.by.get(key)


class IdempotencyKeys:
    def __init__(self) -> None:
        self.held: dict[str, str] = {}

    async def claim(self, channel: str, key: str, fingerprint: str, now) -> str:
        return self.held.setdefault(f"{channel}:{key}", fingerprint)


class Registration:
    """register_submissions: one appeal per intake key, numbered from 1000001; one answer per key and call."""

    def __init__(self) -> None:
        self.appeals: dict[str, str] = {}
        self.submissions: list[AppealSubmitted] = []
        self.fail_with: Exception | None = None

    async def __call__(self, submissions: list[AppealSubmitted]) -> dict[str, Registered]:
        if self.fail_with is not None:
            raise self.fail_with
        answers = {}
        for submission in submissions:
            self.submissions.append(submission)
            key = submission.intake_key()
            if key in answers:  # like the real one: one registration per intake key in a call
                continue
            new = key not in self.appeals
            appeal_id = self.appeals.setdefault(key, str(1_000_001 + len(self.appeals)))
            answers[key] = Registered(appeal_id, new)
        return answers


class Store:
    async def appeal_view(self, appeal_id: str):
        if appeal_id != "1000001":
            return None
        return {
            "appeal_id": "1000001",
            "status": "assigned",
            "channel": "kyiv_portal",
            "received_at": NOW,
            "contact": {"name": "Олена Петренко", "phone": "+380671234567"},
            "history": [
                {"status": "registered", "at": NOW, "event_id": "e", "by": "intake"},
                {
                    "status": "in_progress",
                    "at": NOW,
                    "event_id": "f",
                    "by": "kte",
                    "note": "Олені за +380 67 123 45 67",
                },
            ],
            "classification": {"category": "heating", "urgency": "high"},
            "assignment": {"department": "kyivteploenergo", "department_name": "КТЕ", "due_at": NOW + timedelta(3)},
            "notifications": [],
        }


class Reads:
    async def by_ids(self, ids):
        return []

    async def search(self, query, limit, skip=0):
        return []


@pytest.fixture
def registration() -> Registration:
    return Registration()


STAFF_TOKEN = "unit-staff-token-0123456789abcdef"
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


@pytest.fixture
def public_reads_per_minute() -> int:
    return 1000


@pytest.fixture
async def api(taxonomy, registration, public_reads_per_minute):
    app = create_api(
        register_submissions=registration,
        registry=Channels(),
        idempotency_keys=IdempotencyKeys(),
        reads=Reads(),
        store=Store(),
        taxonomy=taxonomy,
        clock=lambda: NOW,
        settings=IntakeSettings(max_body_bytes=2048, public_reads_per_minute=public_reads_per_minute),
        staff=StaffAuth(SecretStr(STAFF_TOKEN)),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        yield client


def authorized(**headers: str) -> dict[str, str]:
    return {"X-API-Key": KEY, **headers}


async def test_an_appeal_is_registered_for_the_keys_channel(api, registration):
    response = await api.post(
        "/v1/appeals", json={"text": "Холодні батареї", "category": "heating"}, headers=authorized()
    )
    assert response.status_code == 201
    assert response.json() == {
        "appeal_id": "1000001",
        "status": "registered",
        "status_url": "http://intake/v1/appeals/1000001",
        "created": True,
    }
    assert response.headers["location"] == "http://intake/v1/appeals/1000001"
    [submission] = registration.submissions
    assert submission.channel == "kyiv_portal" and submission.requested_category == "heating"
    assert submission.received_at == NOW


async def test_a_repeat_is_200_with_the_same_appeal(api):
    body = {"text": "Холодні батареї", "external_id": "portal-77"}
    first = await api.post("/v1/appeals", json=body, headers=authorized())
    second = await api.post("/v1/appeals", json=body, headers=authorized())
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["appeal_id"] == first.json()["appeal_id"] and second.json()["created"] is False


async def test_an_idempotency_key_reused_for_another_request_is_422(api):
    headers = authorized(**{"Idempotency-Key": "k-1"})
    first = await api.post("/v1/appeals", json={"text": "Перше"}, headers=headers)
    again = await api.post("/v1/appeals", json={"text": "Перше"}, headers=headers)
    other = await api.post("/v1/appeals", json={"text": "Друге"}, headers=headers)
    assert first.json()["appeal_id"] == again.json()["appeal_id"]
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 401, "missing API key"),
        ({"X-API-Key": "cl_0123456789ab_wrong"}, 401, "unknown API key"),
        ({"X-API-Key": REVOKED_KEY}, 403, "revoked"),
    ],
)
async def test_writes_without_a_valid_key_are_refused(api, registration, headers, status, words):
    response = await api.post("/v1/appeals", json={"text": "x"}, headers=headers)
    assert response.status_code == status and words in response.json()["detail"]
    assert registration.submissions == []


async def test_over_the_rate_limit_is_429_with_retry_after(api):
    statuses = [
        (await api.post("/v1/appeals", json={"text": "x"}, headers={"X-API-Key": SLOW_KEY})).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    refused = await api.post("/v1/appeals", json={"text": "x"}, headers={"X-API-Key": SLOW_KEY})
    assert int(refused.headers["retry-after"]) >= 1


async def test_a_body_over_the_limit_is_413_declared_or_streamed(api):
    declared = await api.post("/v1/appeals", json={"text": "x" * 3000}, headers=authorized())
    assert declared.status_code == 413

    async def chunks():
        yield b'{"text": "'
        yield b"x" * 3000
        yield b'"}'

    streamed = await api.post(
        "/v1/appeals", content=chunks(), headers=authorized(**{"content-type": "application/json"})
    )
    assert streamed.status_code == 413 and "2048 bytes" in streamed.json()["detail"]


async def test_open311_errors_are_a_list_of_code_and_description(api):
    response = await api.post(
        "/open311/v2/requests.json", data={"api_key": KEY, "service_code": "heating", "lat": "north"}
    )
    assert response.status_code == 400
    [error] = response.json()
    assert error["code"] == 400 and error["description"].startswith("lat: ")
    too_big = await api.post("/open311/v2/requests.json", data={"api_key": KEY, "description": "x" * 3000})
    assert too_big.status_code == 413 and too_big.json()[0]["code"] == 413


async def test_the_store_down_is_503_with_retry_after(api, registration):
    registration.fail_with = ServerSelectionTimeoutError("no servers")
    response = await api.post("/v1/appeals", json={"text": "x"}, headers=authorized())
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "try again" in response.json()["detail"]


async def test_the_status_read_is_the_residents_view(api):
    found = await api.get("/v1/appeals/1000001")
    assert found.status_code == 200
    assert found.json()["department"] == {"code": "kyivteploenergo", "name": "КТЕ"}
    assert (await api.get("/v1/appeals/1000002")).status_code == 404


async def test_the_public_sees_notes_masked_and_the_channel_and_staff_see_them_whole(api):
    public = (await api.get("/v1/appeals/1000001")).json()["history"][1]["note"]
    channel = (await api.get("/v1/appeals/1000001", headers=authorized())).json()["history"][1]["note"]
    staff = (await api.get("/v1/appeals/1000001", headers=STAFF)).json()["history"][1]["note"]
    assert public == "[ім'я] за [телефон]"
    assert channel == staff == "Олені за +380 67 123 45 67"
    assert (await api.get("/v1/appeals/1000001", headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await api.get("/v1/appeals/1000001", headers={"X-API-Key": "cl_000000000000_x"})).status_code == 401


@pytest.mark.parametrize("public_reads_per_minute", [3])
async def test_public_reads_are_limited_per_client_address(api):
    answers = [await api.get("/v1/appeals/1000001") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1 and "a minute" in answers[-1].json()["detail"]
    # Staff and channels are not counted as the public.
    assert (await api.get("/v1/appeals/1000001", headers=STAFF)).status_code == 200
    assert (await api.get("/v1/appeals/1000001", headers=authorized())).status_code == 200
    limited = await api.get("/open311/v2/requests.json")
    assert limited.status_code == 429 and limited.json()[0]["code"] == 429


async def test_open311_lists_are_paged_by_at_most_100(api):
    assert (await api.get("/open311/v2/requests.json", params={"page_size": 100, "page": 2})).status_code == 200
    too_many = await api.get("/open311/v2/requests.json", params={"page_size": 101})
    assert too_many.status_code == 400 and "page_size" in too_many.json()[0]["description"]


async def test_requests_are_counted_by_route_template_not_by_id(api):
    def count(route: str, status: str) -> float:
        value = registry.get_sample_value(
            "cityline_intake_http_requests_total", {"route": route, "method": "GET", "status": status}
        )
        return value or 0.0

    before = count("/v1/appeals/{appeal_id}", "404")
    await api.get("/v1/appeals/1000002")
    assert count("/v1/appeals/{appeal_id}", "404") == before + 1


async def test_concurrent_registrations_share_batches_and_one_appeal_is_new_once(registration):
    calls: list[int] = []

    async def slow_registration(submissions):
        calls.append(len(submissions))
        await asyncio.sleep(0.01)
        return await registration(submissions)

    batcher = RegistrationBatcher(slow_registration, deadline_s=5)
    submissions = [
        AppealSubmitted(channel="web", external_id=f"e-{index % 5}", text="x", received_at=NOW) for index in range(20)
    ]
    answers = await asyncio.gather(*(batcher.register(submission) for submission in submissions))

    assert sum(calls) == 20 and len(calls) < 20
    assert len({answer.appeal_id for answer in answers}) == 5
    assert sum(answer.new for answer in answers) == 5


async def test_a_failed_batch_fails_each_of_its_requests(registration):
    registration.fail_with = ServerSelectionTimeoutError("no servers")
    batcher = RegistrationBatcher(registration, deadline_s=5)
    submission = AppealSubmitted(channel="web", external_id="e", text="x", received_at=NOW)
    results = await asyncio.gather(batcher.register(submission), batcher.register(submission), return_exceptions=True)
    assert all(isinstance(result, ServerSelectionTimeoutError) for result in results)
