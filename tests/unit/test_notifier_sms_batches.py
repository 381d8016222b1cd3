"""SMS batches without a network: the batch payload, each message's outcome from the gateway's answer, what a
refusal of the whole request means, the deliverer sending one request per batch and settling each notice by its own
outcome, and the settings that switch batches on. Over the real sink: tests/integration/test_notifier.py."""

import json
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError

from services.notifier.delivery import Deliverer
from services.notifier.domain import NoticeContext, RetryPolicy, registration_notice
from services.notifier.settings import EMBEDDED_SMS_BATCH_URL, NotifierSettings
from services.notifier.transports import (
    DeliveryError,
    Outgoing,
    SmsBatchFormat,
    SmsGateway,
    sms_batch_outcomes,
    sms_batch_payload,
)
from shared.contracts.intake import ResidentContact
from tests.unit.fakes import NOW, FakeNotifierRepository, registered_event

FIELDS = {"to": "to", "text": "text", "reference": "reference"}


def outgoing(index: int) -> Outgoing:
    return Outgoing(
        key=f"100000{index}:registered",
        appeal_id=f"100000{index}",
        kind="registered",
        language="uk",
        recipient=f"+38067123456{index}",
        subject="",
        text=f"Звернення № 100000{index} зареєстровано",
        email_body="",
        channel="web",
    )


def test_a_batch_payload_holds_each_message_in_the_single_messages_shape():
    payload = sms_batch_payload(
        [outgoing(1), outgoing(2)],
        {"destination": "to", "body": "text", "ref": "reference"},
        {"from": "Kyiv1551"},
        SmsBatchFormat(messages_field="sms"),
    )

    assert payload == {
        "sms": [
            {
                "from": "Kyiv1551",
                "destination": "+380671234561",
                "body": "Звернення № 1000001 зареєстровано",
                "ref": "1000001:registered",
            },
            {
                "from": "Kyiv1551",
                "destination": "+380671234562",
                "body": "Звернення № 1000002 зареєстровано",
                "ref": "1000002:registered",
            },
        ]
    }


def test_one_refused_message_fails_alone_and_for_good():
    answer = {
        "messages": [
            {"status": "accepted"},
            {"status": "rejected", "error": "destination refused"},
            {"status": "accepted"},
        ]
    }

    first, refused, third = sms_batch_outcomes(answer, 3, SmsBatchFormat())

    assert first is None and third is None
    assert (refused.reason, refused.permanent, refused.detail) == ("sms-refused", True, "rejected: destination refused")


def test_a_gateways_own_answer_shape_is_read_through_dotted_paths():
    batch = SmsBatchFormat(
        results_field="messages",
        status_path="status.groupName",
        accepted=frozenset({"PENDING", "DELIVERED"}),
        detail_path="status.description",
    )
    answer = {
        "bulkId": "b-1",
        "messages": [
            {"messageId": "m1", "status": {"groupName": "PENDING", "description": "Message sent to next instance"}},
            {"messageId": "m2", "status": {"groupName": "REJECTED", "description": "Invalid destination address"}},
        ],
    }

    sent, refused = sms_batch_outcomes(answer, 2, batch)

    assert sent is None
    assert refused.detail == "REJECTED: Invalid destination address"


@pytest.mark.parametrize("answer", [None, {}, {"messages": [{"status": "accepted"}]}, {"messages": "ok"}], ids=str)
def test_an_answer_that_does_not_account_for_every_message_retries_the_whole_batch(answer):
    outcomes = sms_batch_outcomes(answer, 2, SmsBatchFormat())

    assert [(o.reason, o.permanent) for o in outcomes] == [("bad-answer", False)] * 2


def gateway(handler, **extra) -> tuple[SmsGateway, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(recording))
    return SmsGateway(client, "http://gw/sms", "t0ken", FIELDS, {}, batch_url="http://gw/sms/batch", **extra), requests


async def test_a_batch_is_one_request_with_the_token_and_each_message_answered_for():
    def answer(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        return httpx.Response(
            200,
            json={
                "messages": [
                    {"status": "rejected" if m["to"].endswith("2") else "accepted", "error": "no such number"}
                    for m in messages
                ]
            },
        )

    sms, requests = gateway(answer)

    outcomes = await sms.send_many([outgoing(1), outgoing(2), outgoing(3)])

    assert [o and o.reason for o in outcomes] == [None, "sms-refused", None]
    [request] = requests
    assert request.url == "http://gw/sms/batch"
    assert request.headers["authorization"] == "Bearer t0ken"
    assert [m["reference"] for m in json.loads(request.content)["messages"]] == [
        "1000001:registered",
        "1000002:registered",
        "1000003:registered",
    ]


@pytest.mark.parametrize(("status", "permanent"), [(503, False), (429, False), (401, True), (400, True)])
async def test_a_refusal_of_the_whole_request_is_every_messages_outcome(status, permanent):
    sms, _ = gateway(lambda request: httpx.Response(status, text="no"))

    outcomes = await sms.send_many([outgoing(1), outgoing(2)])

    assert [(o.reason, o.permanent) for o in outcomes] == [(f"http-{status}", permanent)] * 2


async def test_a_gateway_that_cannot_be_reached_leaves_every_message_to_retry():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sms, _ = gateway(down)

    assert [o.reason for o in await sms.send_many([outgoing(1), outgoing(2)])] == ["unreachable"] * 2


class BatchRecorder:
    """A batching transport that refuses the numbers it is given and records each request."""

    batches = True

    def __init__(self, batch_size: int, refused: set[str]) -> None:
        self.batch_size = batch_size
        self.refused = refused
        self.requests: list[list[str]] = []

    async def send(self, message: Outgoing) -> None:
        raise AssertionError("a batching transport gets batches")

    async def send_many(self, messages):
        self.requests.append([m.key for m in messages])
        return [
            DeliveryError("sms-refused", "rejected", permanent=True) if m.recipient in self.refused else None
            for m in messages
        ]


class DeadLetters(list):
    async def __call__(self, event) -> None:
        self.append(event)


async def test_the_deliverer_sends_a_chunk_in_batches_and_settles_each_notice_by_its_own_outcome(templates, taxonomy):
    repo = FakeNotifierRepository()
    context = NoticeContext(templates, taxonomy, "1551", {}, NOW, takeover_after=timedelta(seconds=60))
    phones = [f"+3806712345{index:02d}" for index in range(5)]
    notices = [
        registration_notice(registered_event(appeal_id=f"200000{index}", contact=ResidentContact(phone=phone)), context)
        for index, phone in enumerate(phones)
    ]
    sms = BatchRecorder(batch_size=2, refused={phones[3]})
    dead_letters = DeadLetters()
    job = Deliverer(repo, {"sms": sms}, RetryPolicy(), lambda: NOW, dead_letters, settle_chunk=50)

    assert await job.record_and_hand_off([notice.document() for notice in notices]) == []
    await job.idle()

    assert [len(request) for request in sms.requests] == [2, 2, 1]
    states = {key: (repo.view(key)["state"], repo.view(key)["attempts"]) for key in repo.documents}
    assert states == {
        "2000000:registered": ("sent", 1),
        "2000001:registered": ("sent", 1),
        "2000002:registered": ("sent", 1),
        "2000003:registered": ("failed", 1),
        "2000004:registered": ("sent", 1),
    }
    assert [event.notification_id for event in dead_letters] == ["2000003:registered"]
    # One batch: its four sent notices named in it, only the failed one written itself.
    [batch] = repo.deliveries.values()
    assert (len(batch["sent"]), "lease_until" in batch) == (4, False)
    assert [key for key, d in repo.documents.items() if d["attempts"]] == ["2000003:registered"]


def test_batches_are_on_against_the_embedded_sink_by_default():
    settings = NotifierSettings()

    assert (settings.sms_batch_url, settings.sms_batch_size) == (EMBEDDED_SMS_BATCH_URL, 100)


def test_an_empty_batch_url_sends_one_request_per_message():
    settings = NotifierSettings(sms_gateway_url="https://gw.example/sms", sms_batch_url="")

    assert settings.sms_batch_url is None
    assert not SmsGateway(httpx.AsyncClient(), settings.sms_gateway_url, "", FIELDS, {}, batch_url=None).batches


def test_a_real_gateway_with_batches_still_going_to_the_embedded_sink_is_refused():
    with pytest.raises(ValidationError, match="CITYLINE_NOTIFIER_SMS_BATCH_URL"):
        NotifierSettings(sms_gateway_url="https://gw.example/sms")
