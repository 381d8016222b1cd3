"""services/notifier/delivery.py with a fake repository and recording transports: each notice is sent once,
transient failures wait for the backoff, permanent ones fail with a dead letter, a lost claim sends nothing."""

import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError
from pymongo.errors import AutoReconnect

from services.notifier.delivery import Deliverer
from services.notifier.documents import DeliveryDoc, NoticeDoc
from services.notifier.domain import NoticeContext, RetryPolicy, registration_notice
from services.notifier.repository import Held
from services.notifier.settings import NotifierSettings
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


def notices(templates, taxonomy, *contacts: ResidentContact | None) -> list[NoticeDoc]:
    """One registration notice's document per contact, as the handler makes them."""
    context = NoticeContext(templates, taxonomy, "1551", {}, NOW, takeover_after=timedelta(seconds=TAKEOVER_S))
    return [
        registration_notice(registered_event(appeal_id=f"100000{index}", contact=contact), context).document()
        for index, contact in enumerate(contacts, start=1)
    ]


async def record(repo, templates, taxonomy, *contacts: ResidentContact | None) -> list[NoticeDoc]:
    """Record the notices without handing them to a sender (one that died at once): due at their takeover time."""
    documents = notices(templates, taxonomy, *contacts)
    await repo.record(documents)
    return documents


def deliverer(repo, sms, clock, dead_letters, email=None) -> Deliverer:
    return Deliverer(
        repo, {"sms": sms, "email": email or RecordingTransport()}, POLICY, clock, dead_letters, lease_s=TAKEOVER_S
    )


async def hand_off(job: Deliverer, documents: list[NoticeDoc]) -> list[int]:
    """Record the notices and send them at once, as the handler does; returns the indexes recorded before."""
    already = await job.record_and_hand_off(documents)
    await job.idle()
    return already


async def test_handed_off_notices_are_sent_once_however_often_the_job_runs(
    repo, templates, taxonomy, clock, dead_letters
):
    documents = notices(templates, taxonomy, ResidentContact(phone=PHONE), ResidentContact(email="o@example.com"))
    sms, email = RecordingTransport(), RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters, email)

    assert await hand_off(job, documents) == []
    assert await hand_off(job, notices(templates, taxonomy, ResidentContact(phone=PHONE))) == [0]  # redelivered
    clock.advance(3600)
    assert await job.deliver_due() == 0

    assert [(m.key, m.recipient) for m in sms.sent] == [("1000001:registered", PHONE)]
    assert [(m.key, m.recipient) for m in email.sent] == [("1000002:registered", "o@example.com")]
    for key, document in repo.documents.items():
        # The notices themselves were never updated: their batch names them sent, in one write.
        assert (document["state"], document["attempts"], "next_attempt_at" in document) == ("pending", 0, False)
        view = repo.view(key)
        assert (view["state"], view["attempts"], view["sent_at"]) == ("sent", 1, NOW)
    assert [(d["keys"], d["sent"], "lease_until" in d) for d in repo.deliveries.values()] == [
        (["1000001:registered", "1000002:registered"], ["1000001:registered", "1000002:registered"], False),
        (["1000001:registered"], [], False),
    ]


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
    documents = notices(templates, taxonomy, None, ResidentContact(phone=PHONE, notifications=False))
    sms = RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters)

    assert await hand_off(job, documents) == []
    clock.advance(3600)
    assert await job.deliver_due() == 0
    assert sms.attempts == 0
    assert {document["state"] for document in repo.documents.values()} == {"skipped"}
    assert repo.deliveries == {}


async def test_a_transient_failure_is_retried_after_the_backoff_and_then_sent(
    repo, templates, taxonomy, clock, dead_letters
):
    documents = notices(templates, taxonomy, ResidentContact(phone=PHONE))
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
    documents = notices(templates, taxonomy, ResidentContact(phone=PHONE))
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
    documents = notices(templates, taxonomy, ResidentContact(phone=PHONE))
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


class HangingTransport:
    """A sender stuck in a request (or a process that died mid-send): it answers only when told, with `result`."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.result: DeliveryError | None = None

    async def send(self, message: Outgoing) -> None:
        await self.answer.wait()
        if self.result is not None:
            raise self.result


async def stuck_sender(repo, templates, taxonomy, clock, dead_letters) -> tuple[HangingTransport, Deliverer, dict]:
    """A sender that handed off one notice and hangs in its request: its transport, itself and its open batch."""
    stuck = HangingTransport()
    sender = deliverer(repo, stuck, clock, dead_letters)
    await sender.record_and_hand_off(notices(templates, taxonomy, ResidentContact(phone=PHONE)))
    [batch] = repo.deliveries.values()
    return stuck, sender, batch


async def test_a_batch_whose_sender_never_settled_is_taken_over_after_its_lease(
    repo, templates, taxonomy, clock, dead_letters
):
    stuck, first, batch = await stuck_sender(repo, templates, taxonomy, clock, dead_letters)
    assert (batch["keys"], batch["lease_until"]) == (["1000001:registered"], NOW + timedelta(seconds=TAKEOVER_S))
    sms = RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters)

    clock.advance(TAKEOVER_S - 1)
    assert await job.deliver_due() == 0  # its sender may still send it
    clock.advance(1)
    assert await job.deliver_due() == 1
    assert await job.deliver_due() == 0  # taken over once

    assert [m.key for m in sms.sent] == ["1000001:registered"]
    view = repo.view("1000001:registered")
    assert (view["state"], view["attempts"], view["sent_at"]) == ("sent", 1, clock.now)
    assert "lease_until" not in repo.deliveries[batch["_id"]]

    # The stuck sender wakes up and fails: the takeover's outcome stands.
    stuck.result = DeliveryError("http-400", "too late", permanent=True)
    stuck.answer.set()
    await first.idle()
    view = repo.view("1000001:registered")
    assert (view["state"], view["attempts"]) == ("sent", 1)


async def test_a_sender_that_died_while_settling_leaves_only_its_unsettled_notices_to_the_job(
    repo, templates, taxonomy, clock, dead_letters
):
    documents = notices(templates, taxonomy, ResidentContact(phone=PHONE), ResidentContact(phone=PHONE))
    batch = DeliveryDoc(_id="b1", keys=[d.key for d in documents], lease_until=NOW + timedelta(seconds=TAKEOVER_S))
    documents = [d.model_copy(update={"delivery": "b1", "next_attempt_at": None}) for d in documents]
    await repo.open_deliveries([batch])
    await repo.record(documents)
    # It named the first sent and died before writing the second's failure.
    await repo.settle_delivery("b1", ["1000001:registered"], NOW, final=False)
    sms = RecordingTransport()

    clock.advance(TAKEOVER_S)
    assert await deliverer(repo, sms, clock, dead_letters).deliver_due() == 1

    assert [m.key for m in sms.sent] == ["1000002:registered"]
    assert [repo.view(d.key)["state"] for d in documents] == ["sent", "sent"]
    assert repo.view("1000001:registered")["sent_at"] == NOW


async def test_a_transport_bug_keeps_the_notice_for_later(repo, templates, taxonomy, clock, dead_letters):
    class Broken:
        async def send(self, message):
            raise RuntimeError("oops")

    documents = notices(templates, taxonomy, ResidentContact(phone=PHONE))
    await hand_off(deliverer(repo, Broken(), clock, dead_letters), documents)

    document = repo.documents["1000001:registered"]
    assert (document["state"], document["reason"]) == ("pending", "unexpected-error")
    assert "RuntimeError: oops" in document["detail"]


async def test_hand_off_is_bounded_and_the_rest_is_released_to_the_job(repo, templates, taxonomy, clock, dead_letters):
    documents = notices(templates, taxonomy, *[ResidentContact(phone=PHONE)] * 3)
    sms = RecordingTransport()
    job = deliverer(repo, sms, clock, dead_letters)
    job.max_in_flight = 2

    assert await hand_off(job, documents) == []
    assert len(sms.sent) == 2
    # The third is due at once, not after the takeover time.
    assert repo.documents["1000003:registered"]["next_attempt_at"] == NOW
    assert "delivery" not in repo.documents["1000003:registered"]
    assert await job.deliver_due() == 1
    assert sorted(m.key for m in sms.sent) == [f"100000{i}:registered" for i in (1, 2, 3)]
    assert {repo.view(key)["state"] for key in repo.documents} == {"sent"}


async def test_a_dropped_store_connection_while_settling_is_tried_again(templates, taxonomy, clock, dead_letters):
    class DroppingOnce(FakeNotifierRepository):
        drops = 1

        async def settle_delivery(self, *args, **kwargs):
            if self.drops:
                self.drops -= 1
                raise AutoReconnect("127.0.0.1:27017: connection closed")
            await super().settle_delivery(*args, **kwargs)

    repo = DroppingOnce()
    sms = RecordingTransport()

    await hand_off(
        deliverer(repo, sms, clock, dead_letters), notices(templates, taxonomy, ResidentContact(phone=PHONE))
    )

    # Settled now, not left to a takeover a lease later.
    [batch] = repo.deliveries.values()
    assert (batch["sent"], "lease_until" in batch) == (["1000001:registered"], False)
    assert repo.view("1000001:registered")["state"] == "sent"


# --- leases renewed while sending, and a clean stop -------------------------------------------------------------


async def test_the_heartbeat_keeps_a_slow_send_its_own_and_a_dead_senders_batch_is_taken_over_a_lease_later(
    repo, templates, taxonomy, clock, dead_letters
):
    slow, first, batch = await stuck_sender(repo, templates, taxonomy, clock, dead_letters)
    assert batch["owner"] == first.owner
    other = RecordingTransport()
    successor = deliverer(repo, other, clock, dead_letters)

    # Alive: each heartbeat moves the lease on, so the batch is never due while its sender works on it.
    for _ in range(5):
        clock.advance(TAKEOVER_S * 0.75)
        await first.heartbeat()
        assert await successor.deliver_due() == 0
    assert repo.deliveries[batch["_id"]]["lease_until"] == clock.now + timedelta(seconds=TAKEOVER_S)

    # Dead (no heartbeat): a lease later the successor sends it.
    clock.advance(TAKEOVER_S)
    assert await successor.deliver_due() == 1
    assert [m.key for m in other.sent] == ["1000001:registered"]
    # A sender that stalled past its lease does not take the batch back.
    await first.heartbeat()
    assert "lease_until" not in repo.deliveries[batch["_id"]]
    slow.answer.set()
    await first.idle()
    assert first.held() == Held()


async def test_the_heartbeat_renews_a_claimed_retry_and_only_while_it_is_sending(
    repo, templates, taxonomy, clock, dead_letters
):
    await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))
    clock.advance(TAKEOVER_S)
    slow = HangingTransport()
    job = deliverer(repo, slow, clock, dead_letters)
    run = asyncio.ensure_future(job.deliver_due())
    await wait_for(lambda: job.held().claims)

    clock.advance(TAKEOVER_S / 2)
    await job.heartbeat()
    assert repo.documents["1000001:registered"]["next_attempt_at"] == clock.now + timedelta(seconds=TAKEOVER_S)
    slow.answer.set()
    assert await run == 1
    assert job.held() == Held()
    assert repo.view("1000001:registered")["state"] == "sent"


async def wait_for(condition, rounds: int = 100) -> None:
    """Let the background work run until `condition()` holds (a few loop iterations)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the background work did not get there")


async def test_a_stop_waits_for_sends_that_finish_within_the_grace_period_and_leaves_nothing_leased(
    repo, templates, taxonomy, clock, dead_letters
):
    class Slow:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, message):
            await asyncio.sleep(0.05)
            self.sent.append(message.key)

    sms = Slow()
    job = deliverer(repo, sms, clock, dead_letters)
    await job.record_and_hand_off(notices(templates, taxonomy, *[ResidentContact(phone=PHONE)] * 3)[:2])

    await job.stop(grace_s=5)

    assert sorted(sms.sent) == ["1000001:registered", "1000002:registered"]
    assert [("lease_until" in d, len(d["sent"])) for d in repo.deliveries.values()] == [(False, 2)]
    # Stopped: the job takes nothing more, and what is handed to it now is left due at once to the others.
    later = notices(templates, taxonomy, *[ResidentContact(phone=PHONE)] * 3)[2:]
    assert await job.record_and_hand_off(later) == []
    third = repo.documents["1000003:registered"]
    assert ("delivery" in third, third["next_attempt_at"]) == (False, clock.now)
    assert await job.deliver_due() == 0
    assert len(repo.deliveries) == 1 and len(sms.sent) == 2


async def test_a_stop_releases_what_it_could_not_finish_and_another_sender_takes_it_at_once(
    repo, templates, taxonomy, clock, dead_letters
):
    await record(repo, templates, taxonomy, ResidentContact(phone=PHONE))  # a retry due now, claimed by the job
    clock.advance(TAKEOVER_S)
    hanging = HangingTransport()
    stopping = deliverer(repo, hanging, clock, dead_letters)
    run = asyncio.ensure_future(stopping.deliver_due())
    await wait_for(lambda: stopping.held().claims)
    handed = notices(templates, taxonomy, ResidentContact(phone=PHONE), ResidentContact(phone=PHONE))[1:]
    await stopping.record_and_hand_off(handed)  # a batch being sent

    await stopping.stop(grace_s=0.05)

    assert run.cancelled()
    assert stopping.held() == Held()
    [batch] = repo.deliveries.values()
    assert batch["lease_until"] == clock.now  # released: due now, not a lease later
    assert repo.documents["1000001:registered"]["next_attempt_at"] == clock.now
    other = RecordingTransport()
    assert await deliverer(repo, other, clock, dead_letters).deliver_due() == 2  # at the same instant
    assert sorted(m.key for m in other.sent) == ["1000001:registered", "1000002:registered"]
    assert {repo.view(key)["state"] for key in repo.documents} == {"sent"}


def test_a_lease_outlives_two_missed_heartbeats():
    assert NotifierSettings().heartbeat_s == NotifierSettings().delivery_lease_s / 4
    assert NotifierSettings(delivery_lease_s=3).heartbeat_s == 0.75
    with pytest.raises(ValidationError, match="delivery_heartbeat_s"):
        NotifierSettings(delivery_lease_s=6, delivery_heartbeat_s=3)


async def test_a_send_that_fails_during_the_stop_is_released_too(repo, templates, taxonomy, clock, dead_letters):
    async def broker_stopped(event) -> None:
        raise RuntimeError("the broker is stopped")

    refusing = RecordingTransport(DeliveryError("http-400", "bad number", permanent=True))
    job = Deliverer(repo, {"sms": refusing}, POLICY, clock, broker_stopped, lease_s=TAKEOVER_S)
    await job.record_and_hand_off(notices(templates, taxonomy, ResidentContact(phone=PHONE)))

    await job.stop(grace_s=5)  # its dead letter cannot be published: the batch is left unsettled

    [batch] = repo.deliveries.values()
    assert batch["lease_until"] == clock.now
    assert repo.view("1000001:registered")["state"] == "pending"
