"""services/intake/handlers.py in memory: TestKafkaBroker, a fake repository and a fake park callback.

The router is included in a plain KafkaBroker (no Prometheus or dead-letter middleware), so a handler
error comes out of `br.publish`, and what would be parked is collected by the fake park callback.
"""

import json
from datetime import datetime, timedelta

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.intake.handlers import build_router
from services.intake.settings import IntakeSettings
from shared.broker import partition_for, raw_records
from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from shared.contracts.base import derived_event_id
from shared.deadletter import describe
from shared.errors import PermanentError, TransientError
from tests.unit.fakes import NOW, PHONE, FakeIntakeRepository, published, submission_payload

# Every Kafka submission names its channel in the header; most here come from the web channel.
WEB = {CHANNEL_HEADER: "web"}


class Clock:
    """A clock the test moves: intake registers at one time and looks for stalled appeals at another."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def repo() -> FakeIntakeRepository:
    return FakeIntakeRepository()


@pytest.fixture
def handlers(repo, channels, parked, clock):
    return build_router(IntakeSettings(), repo, channels, parked, clock)


@pytest.fixture
def service(handlers):
    """The broker with intake's router, its publisher of appeals.registered, and its subscriber."""
    broker = KafkaBroker()
    broker.include_router(handlers.router)
    (appeal_registered,) = handlers.router.publishers
    (on_appeal_submitted,) = handlers.router.subscribers
    return broker, appeal_registered, on_appeal_submitted


async def test_a_valid_submission_is_registered_and_announced(service, repo, parked):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(), topics.APPEALS_INTAKE, headers=WEB)

        events = published(appeal_registered)

    assert list(repo.appeals) == ["1000001"]
    assert repo.appeals["1000001"]["intake_key"] == "web:web-1"
    assert len(events) == 1
    event = events[0]
    assert event["appeal_id"] == "1000001"
    assert event["event_id"] == str(derived_event_id("registered", "web:web-1"))
    assert event["registered_at"] == "2026-01-15T09:30:00Z"
    assert event["contact"]["phone"] == PHONE
    assert event["address"]["district"] == "obolonskyi"
    assert parked.items == []


async def test_the_registration_is_keyed_by_appeal_id(service):
    broker, _, _ = service
    seen = []

    @broker.subscriber(topics.APPEALS_REGISTERED, batch=True, decoder=raw_records)
    async def downstream(records: list) -> None:
        seen.extend(records)

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(), topics.APPEALS_INTAKE, headers=WEB)

    assert [(record.key, record.partition) for record in seen] == [(b"1000001", partition_for(b"1000001"))]
    assert json.loads(seen[0].value)["appeal_id"] == "1000001"


async def test_a_duplicate_submission_gets_the_same_appeal(service, repo):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(text="Немає опалення"), topics.APPEALS_INTAKE, headers=WEB)
        await br.publish(submission_payload(text="Немає опалення (повторно)"), topics.APPEALS_INTAKE, headers=WEB)

        events = published(appeal_registered)

    assert list(repo.appeals) == ["1000001"]
    assert [event["appeal_id"] for event in events] == ["1000001", "1000001"]
    assert events[0]["event_id"] == events[1]["event_id"]
    # The re-announcement repeats what was stored, not the second text.
    assert events[1]["text"] == "Немає опалення"


async def test_duplicates_within_one_batch_become_one_appeal(service, repo):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            submission_payload(external_id="a"),
            submission_payload(external_id="a"),
            submission_payload(external_id="b"),
            topic=topics.APPEALS_INTAKE,
            headers=WEB,
        )
        # The same external id from another channel is another appeal.
        await br.publish(
            submission_payload(channel="phone", external_id="a"),
            topics.APPEALS_INTAKE,
            headers={CHANNEL_HEADER: "phone"},
        )

        events = published(appeal_registered)

    assert repo.reserved == [2, 1]
    assert sorted(document["intake_key"] for document in repo.appeals.values()) == ["phone:a", "web:a", "web:b"]
    assert sorted(event["appeal_id"] for event in events) == ["1000001", "1000002", "1000003"]


async def test_bad_records_are_parked_and_do_not_stop_the_valid_ones(service, repo, parked):
    broker, appeal_registered, on_appeal_submitted = service

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            b"this is not json",
            submission_payload(external_id="ok-1"),
            submission_payload(channel="fax", external_id="fax-1"),
            {"channel": "web", "text": "no received_at"},
            submission_payload(external_id="ok-2"),
            topic=topics.APPEALS_INTAKE,
            headers=WEB,
        )

        events = published(appeal_registered)
        # The handler saw the whole batch in one call, as raw records.
        assert on_appeal_submitted.calls[0].handler.mock.call_count == 1
        assert len(on_appeal_submitted.calls[0].handler.mock.call_args.args[0]) == 5

    assert [event["appeal_id"] for event in events] == ["1000001", "1000002"]
    assert sorted(document["external_id"] for document in repo.appeals.values()) == ["ok-1", "ok-2"]
    assert parked.values[0] == b"this is not json"
    assert json.loads(parked.values[1])["channel"] == "fax"
    assert json.loads(parked.values[2])["text"] == "no received_at"
    assert isinstance(parked.errors[1], PermanentError)
    assert parked.errors[1].reason == "unknown-channel"
    assert len(parked.items) == 3


async def test_a_batch_of_only_bad_records_writes_and_publishes_nothing(service, repo, parked):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(channel="fax"), topics.APPEALS_INTAKE, headers=WEB)
        await br.publish(b"{", topics.APPEALS_INTAKE, headers=WEB)

        assert appeal_registered.mock.call_count == 0

    assert repo.reserved == []
    assert repo.appeals == {}
    assert len(parked.items) == 2


async def test_nothing_is_published_when_the_store_fails(channels, parked):
    repo = FakeIntakeRepository(fail_with=TransientError("store unavailable"))
    router = build_router(IntakeSettings(), repo, channels, parked, lambda: NOW).router
    broker = KafkaBroker()
    broker.include_router(router)
    (appeal_registered,) = router.publishers

    async with TestKafkaBroker(broker) as br:
        with pytest.raises(TransientError, match="store unavailable"):
            await br.publish(submission_payload(), topics.APPEALS_INTAKE, headers=WEB)

        assert appeal_registered.mock.call_count == 0
    assert parked.items == []


async def test_a_submission_without_event_id_or_external_id_is_parked(service, repo, parked):
    broker, appeal_registered, _ = service
    anonymous = submission_payload(external_id=None)

    async with TestKafkaBroker(broker) as br:
        await br.publish(anonymous, topics.APPEALS_INTAKE, headers=WEB)

        assert appeal_registered.mock.call_count == 0

    assert repo.appeals == {}
    assert repo.reserved == []
    ((record, error),) = parked.items
    assert json.loads(record.value)["text"] == anonymous["text"]
    reason, detail = describe(error)
    assert reason == "invalid-event"
    assert "event_id or external_id is required" in detail


# --- announcing stalled appeals again ----------------------------------------------------------

LATER = NOW + timedelta(minutes=5)


async def test_a_stalled_appeal_is_announced_again_with_the_event_of_its_registration(service, handlers, repo, clock):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(), topics.APPEALS_INTAKE, headers=WEB)
        clock.now = LATER
        count = await handlers.redrive_stalled(timedelta(minutes=1))

        original, again = published(appeal_registered)

    assert count == 1
    assert again == original
    assert again["event_id"] == str(derived_event_id("registered", "web:web-1"))
    assert (again["appeal_id"], again["registered_at"]) == ("1000001", "2026-01-15T09:30:00Z")
    assert again["contact"]["phone"] == PHONE
    # Looked for appeals registered before now minus the given age, and wrote nothing.
    assert [before for before, _ in repo.stalled_calls] == [LATER - timedelta(minutes=1)]
    assert list(repo.appeals) == ["1000001"]
    assert repo.reserved == [1]


async def test_a_redriven_appeal_is_keyed_by_its_appeal_id(service, handlers, clock):
    broker, _, _ = service
    seen = []

    @broker.subscriber(topics.APPEALS_REGISTERED, batch=True, decoder=raw_records)
    async def downstream(records: list) -> None:
        seen.extend(records)

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(), topics.APPEALS_INTAKE, headers=WEB)
        clock.now = LATER
        assert await handlers.redrive_stalled(timedelta(minutes=1)) == 1

    assert [(record.key, record.partition) for record in seen] == [(b"1000001", partition_for(b"1000001"))] * 2


async def test_fresh_appeals_are_not_announced_again(service, handlers, repo, clock):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(), topics.APPEALS_INTAKE, headers=WEB)
        clock.now = NOW + timedelta(seconds=30)
        count = await handlers.redrive_stalled(timedelta(minutes=1))

        events = published(appeal_registered)

    assert count == 0
    assert len(events) == 1
    assert repo.stalled_calls == [(NOW - timedelta(seconds=30), 1000)]


@pytest.mark.parametrize("status", ["classified", "assigned", "triage"])
async def test_appeals_past_registration_are_not_announced_again(service, handlers, repo, clock, status):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(), topics.APPEALS_INTAKE, headers=WEB)
        repo.appeals["1000001"]["status"] = status
        clock.now = LATER
        count = await handlers.redrive_stalled(timedelta(minutes=1))

        events = published(appeal_registered)

    assert count == 0
    assert len(events) == 1


async def test_only_the_stalled_appeals_of_many_are_announced_again(service, handlers, repo, clock):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            submission_payload(external_id="stalled"),
            submission_payload(external_id="done"),
            topic=topics.APPEALS_INTAKE,
            headers=WEB,
        )
        clock.now = NOW + timedelta(minutes=3)
        await br.publish(submission_payload(external_id="fresh"), topics.APPEALS_INTAKE, headers=WEB)
        repo.appeals["1000002"]["status"] = "assigned"
        clock.now = NOW + timedelta(minutes=4)
        count = await handlers.redrive_stalled(timedelta(minutes=2))

        events = published(appeal_registered)

    assert count == 1
    first_round = {event["appeal_id"]: event for event in events[:3]}
    assert sorted(first_round) == ["1000001", "1000002", "1000003"]
    (again,) = events[3:]
    assert again == first_round["1000001"]
    assert again["event_id"] == str(derived_event_id("registered", "web:stalled"))


async def test_with_nothing_stalled_nothing_is_published(service, handlers, repo):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker):
        assert await handlers.redrive_stalled(timedelta(minutes=1)) == 0

        assert appeal_registered.mock.call_count == 0
    assert len(repo.stalled_calls) == 1


class ActiveChannels:
    """The part of ChannelRegistry the Kafka handler uses: the names of channels with an active key."""

    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)

    async def active_names(self) -> frozenset[str]:
        return self.names


async def test_the_channel_header_is_checked_against_keys_and_kinds(repo, channels, parked, clock):
    handlers = build_router(IntakeSettings(), repo, channels, parked, clock, ActiveChannels("kyiv_portal"))
    broker = KafkaBroker()
    broker.include_router(handlers.router)
    (appeal_registered,) = handlers.router.publishers

    async with TestKafkaBroker(broker) as br:
        header = "x-cityline-channel"
        await br.publish(
            submission_payload(channel="kyiv_portal", external_id="p-1"),
            topics.APPEALS_INTAKE,
            headers={header: "kyiv_portal"},
        )
        await br.publish(submission_payload(external_id="w-1"), topics.APPEALS_INTAKE, headers={header: "web"})
        await br.publish(submission_payload(external_id="x-1"), topics.APPEALS_INTAKE, headers={header: "gone"})
        await br.publish(submission_payload(external_id="m-1"), topics.APPEALS_INTAKE, headers={header: "phone"})
        events = published(appeal_registered)

    assert sorted(document["intake_key"] for document in repo.appeals.values()) == ["kyiv_portal:p-1", "web:w-1"]
    assert len(events) == 2
    assert [describe(error)[0] for error in parked.errors] == ["unknown-channel", "channel-mismatch"]


async def test_a_record_without_the_channel_header_is_parked_as_missing_channel(service, repo, parked):
    broker, appeal_registered, _ = service

    async with TestKafkaBroker(broker) as br:
        await br.publish(submission_payload(external_id="no-header"), topics.APPEALS_INTAKE)
        await br.publish(submission_payload(external_id="with-header"), topics.APPEALS_INTAKE, headers=WEB)
        events = published(appeal_registered)

    assert [document["external_id"] for document in repo.appeals.values()] == ["with-header"] and len(events) == 1
    ((record, error),) = parked.items
    assert json.loads(record.value)["external_id"] == "no-header"
    assert describe(error) == ("missing-channel", f"the {CHANNEL_HEADER} header is required: it names the channel")
