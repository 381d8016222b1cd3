"""services/notifier/delivery.py with a fake repository and recording transports: each notice is sent once,
transient failures wait for the backoff, permanent ones fail with a dead letter, a lost claim sends nothing."""

from datetime import timedelta

import pytest

from services.notifier.delivery import Deliverer
from services.notifier.domain import NoticeContext, RetryPolicy, registration_notice
from services.notifier.transports import DeliveryError, Outgoing
from shared.contracts.intake import ResidentContact
from tests.unit.fakes import NOW, PHONE, FakeNotifierRepository, registered_event

POLICY = RetryPolicy(base_s=1, factor=2, cap_s=4, max_attempts=4)
TAKEOVER_S = 60


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingTransport:
    """Delivers, or raises the errors it is given, one per attempt, in order."""

    def __init__(self, *failures: DeliveryError) -> None:
        self.failures = list(failures)
        self.sent: list[Outgoing] = []
        self.attempts = 0

    async def send(self, message: Outgoing) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


class DeadLetters:
    def __init__(self) -> None:
        self.events = []

    async def __call__(self, event) -> None:
        self.events.append(event)


@pytest.fixture
def repo() -> FakeNotifierRepository:
    return FakeNotifierRepository()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dead_letters() -> DeadLetters:
    return DeadLetters()


async def record(repo, templates, taxonomy, *contacts: ResidentContact | None) -> list[dict]:
    """Record one registration notice per contact, as the handler does; returns their documents."""
    context = NoticeContext(templates, taxonomy, "1551", {}, NOW, takeover_after=timedelta(seconds=TAKEOVER_S))
    notices = [
        registration_notice(registered_event(appeal_id=f"100000{index}", contact=contact), context)
        for index, contact in enumerate(contacts, start=1)
    ]
    await repo.record(notices)
    return [notice.document() for notice in notices]


def deliverer(repo, sms, clock, dead_letters, email=None) -> Deliverer:
    return Deliverer(
        repo, {"sms": sms, "email": email or RecordingTransport()}, POLICY, clock, dead_letters, lease_s=TAKEOVER_S
    )


async def hand_off(job: Deliverer, documents: list[dict]) -> int:
    taken = job.hand_off(documents)
    await job.idle()
    return taken


async def test_handed_off_notices_are_sent_once_however_often_the_job_runs(
    repo, templates, taxonomy, clock, dead_letters
):
    documents = await record(
        repo, templates, taxonomy, ResidentContact(phone=PHONE), ResidentContact(email="o@example.com")
    )
    sms, email = RecordingTransport(), RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters, email)

    assert await hand_off(job, documents) == 2
    clock.advance(3600)
    assert await job.deliver_due() == 0

    assert [(m.key, m.recipient) for m in sms.sent] == [("1000001:registered", PHONE)]
    assert [(m.key, m.recipient) for m in email.sent] == [("1000002:registered", "o@example.com")]
    for document in repo.documents.values():
        assert (document["state"], document["attempts"], document["sent_at"]) == ("sent", 1, NOW)
        assert "next_attempt_at" not in document


async def test_a_notice_is_not_due_while_its_recorder_may_still_send_it(repo, templates, taxonomy, clock, dead_letters):
    await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    sms = RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters)

    clock.advance(TAKEOVER_S - 1)
    assert await job.deliver_due() == 0
    assert sms.attempts == 0


async def test_a_recorder_that_died_before_sending_is_taken_over(repo, templates, taxonomy, clock, dead_letters):
    await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    sms = RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters)

    clock.advance(TAKEOVER_S)
    assert await job.deliver_due() == 1

    assert len(sms.sent) == 1
    document = repo.documents["1000001:registered"]
    assert (document["state"], document["attempts"]) == ("sent", 1)


async def test_skipped_notices_are_never_sent(repo, templates, taxonomy, clock, dead_letters):
    documents = await record(repo, templates, taxonomy, None, ResidentContact(phone=PHONE, notifications=False))
    sms = RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters)

    assert await hand_off(job, documents) == 0
    clock.advance(3600)
    assert await job.deliver_due() == 0
    assert sms.attempts == 0
    assert {document["state"] for document in repo.documents.values()} == {"skipped"}


async def test_a_transient_failure_is_retried_after_the_backoff_and_then_sent(
    repo, templates, taxonomy, clock, dead_letters
):
    documents = await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    down = DeliveryError("http-503", "busy", permanent=False)
    sms = RecordingTransport(down, down)
    job = deliverer(repo, sms, clock, dead_letters)

    await hand_off(job, documents)
    document = repo.documents["1000001:registered"]
    assert (document["state"], document["attempts"], document["reason"]) == ("pending", 1, "http-503")
    assert document["next_attempt_at"] == NOW + timedelta(seconds=1)

    await job.deliver_due()  # not due yet
    assert sms.attempts == 1

    clock.advance(1)
    await job.deliver_due()
    assert repo.documents["1000001:registered"]["next_attempt_at"] == clock.now + timedelta(seconds=2)

    clock.advance(2)
    await job.deliver_due()
    document = repo.documents["1000001:registered"]
    assert (document["state"], document["attempts"], document["sent_at"]) == ("sent", 3, clock.now)
    assert len(sms.sent) == 1
    assert dead_letters.events == []


async def test_a_permanent_failure_fails_at_once_with_a_dead_letter(repo, templates, taxonomy, clock, dead_letters):
    documents = await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    sms = RecordingTransport(DeliveryError("http-400", "invalid number", permanent=True))
    job = deliverer(repo, sms, clock, dead_letters)

    await hand_off(job, documents)
    clock.advance(3600)
    await job.deliver_due()

    document = repo.documents["1000001:registered"]
    assert (document["state"], document["reason"], document["detail"], document["failed_at"]) == (
        "failed",
        "http-400",
        "invalid number",
        NOW,
    )
    assert sms.attempts == 1
    [event] = dead_letters.events
    assert (event.notification_id, event.appeal_id, event.transport, event.reason, event.attempts) == (
        "1000001:registered",
        "1000001",
        "sms",
        "http-400",
        1,
    )


async def test_retries_are_bounded(repo, templates, taxonomy, clock, dead_letters):
    documents = await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    down = DeliveryError("unreachable", "connection refused", permanent=False)
    sms = RecordingTransport(*[down] * 10)
    job = deliverer(repo, sms, clock, dead_letters)

    await hand_off(job, documents)
    for _ in range(10):
        clock.advance(POLICY.cap_s)
        await job.deliver_due()

    assert sms.attempts == POLICY.max_attempts
    assert repo.documents["1000001:registered"]["state"] == "failed"
    assert [event.reason for event in dead_letters.events] == ["retries-exhausted"]


async def test_a_notice_claimed_by_another_sender_is_not_sent_again(repo, templates, taxonomy, clock, dead_letters):
    await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    clock.advance(TAKEOVER_S)
    assert len(await repo.claim_due(clock.now, 10, 60)) == 1  # another replica took it first

    sms = RecordingTransport()
    assert await deliverer(repo, sms, clock, dead_letters).deliver_due() == 0
    assert sms.attempts == 0


async def test_a_late_settlement_does_not_overwrite_a_takeover(repo, templates, taxonomy, clock, dead_letters):
    # The recorder hung past its lease and the job took the notice over; the recorder's outcome then changes nothing.
    documents = await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    clock.advance(TAKEOVER_S)
    await repo.claim_due(clock.now, 10, 60)

    await hand_off(deliverer(repo, RecordingTransport(), clock, dead_letters), documents)

    assert (repo.documents["1000001:registered"]["state"], repo.documents["1000001:registered"]["attempts"]) == (
        "sending",
        1,
    )


async def test_a_transport_bug_keeps_the_notice_for_later(repo, templates, taxonomy, clock, dead_letters):
    class Broken:
        async def send(self, message):
            raise RuntimeError("oops")

    documents = await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    await hand_off(deliverer(repo, Broken(), clock, dead_letters), documents)

    document = repo.documents["1000001:registered"]
    assert (document["state"], document["reason"]) == ("pending", "unexpected-error")
    assert "RuntimeError: oops" in document["detail"]


async def test_hand_off_is_bounded_and_the_rest_is_released_to_the_job(repo, templates, taxonomy, clock, dead_letters):
    documents = await record(repo, templates, taxonomy, *[ResidentContact(phone=PHONE)] * 3)
    sms = RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters)
    job.max_in_flight = 2

    assert await hand_off(job, documents) == 2
    # The third is due at once, not after the takeover time.
    assert repo.documents["1000003:registered"]["next_attempt_at"] == NOW
    assert await job.deliver_due() == 1
    assert sorted(m.key for m in sms.sent) == [f"100000{i}:registered" for i in (1, 2, 3)]
    assert {d["state"] for d in repo.documents.values()} == {"sent"}
