"""services/classifier/handlers.py in memory: TestKafkaBroker, a fake repository and a fake park callback."""

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.classifier.domain import RuleSet
from services.classifier.handlers import build_router
from services.classifier.settings import ClassifierSettings
from shared.contracts import topics
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import Classification
from shared.errors import TransientError
from tests.unit.fakes import NOW, FakeClassifierRepository, published, registered_event


def make_service(repo, rules: RuleSet, parked):
    router = build_router(ClassifierSettings(), repo, lambda: rules, parked, lambda: NOW)
    broker = KafkaBroker()
    broker.include_router(router)
    (appeal_classified,) = router.publishers
    return broker, appeal_classified


def payload(text: str, appeal_id: str = "1000001") -> dict:
    return registered_event(text, appeal_id=appeal_id).model_dump(mode="json")


async def test_a_registered_appeal_is_classified_stored_and_published(rules, parked):
    repo = FakeClassifierRepository()
    broker, appeal_classified = make_service(repo, rules, parked)
    registered = registered_event("Сильний запах газу в під'їзді")

    async with TestKafkaBroker(broker) as br:
        await br.publish(registered.model_dump(mode="json"), topics.APPEALS_REGISTERED)

        events = published(appeal_classified)

    assert len(events) == 1
    event = events[0]
    assert event["event_id"] == str(derived_event_id("classified", registered.event_id))
    assert event["appeal_id"] == "1000001"
    assert event["correlation_id"] == registered.correlation_id
    assert (event["classification"]["category"], event["classification"]["urgency"]) == ("gas", "critical")
    assert event["classification"]["ruleset"] == rules.version
    assert event["classification"]["decision_id"] == event["event_id"]
    assert event["classification"]["decided_at"] == "2026-01-15T09:30:00Z"
    assert [saved.appeal_id for saved in repo.saved] == ["1000001"]
    assert repo.classifications[event["event_id"]]["classification"]["category"] == "gas"
    assert parked.items == []


async def test_a_batch_is_classified_appeal_by_appeal_and_bad_records_are_parked(rules, parked):
    repo = FakeClassifierRepository()
    broker, appeal_classified = make_service(repo, rules, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            payload("Немає гарячої води з понеділка", "1000001"),
            b"not json at all",
            {"appeal_id": "1000002", "text": "no other fields"},
            payload("asdf qwerty", "1000003"),
            payload("Застряг у ліфті між 5 і 6 поверхом", "1000004"),
            topic=topics.APPEALS_REGISTERED,
        )

        events = published(appeal_classified)

    decided = {event["appeal_id"]: event["classification"]["category"] for event in events}
    assert decided == {"1000001": "hot_water", "1000003": "unclassified", "1000004": "elevators"}
    assert parked.values[:1] == [b"not json at all"]
    assert len(parked.items) == 2
    assert len(repo.saved) == 3


async def test_a_redelivery_publishes_the_stored_classification(rules, parked):
    registered = registered_event("Немає опалення")
    # An operator already reclassified this appeal under the same outgoing event id.
    stored = Classification(category="hot_water", urgency="critical", confidence=1.0, decided_by="operator")
    repo = FakeClassifierRepository()
    repo.seed("1000001", stored, derived_event_id("classified", registered.event_id))
    broker, appeal_classified = make_service(repo, rules, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish(registered.model_dump(mode="json"), topics.APPEALS_REGISTERED)

        events = published(appeal_classified)

    assert len(events) == 1
    assert Classification.model_validate(events[0]["classification"]) == stored
    assert repo.saved == []


async def test_in_a_batch_only_the_redelivered_decision_is_replaced_by_the_stored_one(rules, parked):
    again = registered_event("Немає опалення", appeal_id="1000001")
    new = registered_event("Немає опалення", appeal_id="1000002")
    stored = Classification(category="gas", urgency="critical", confidence=1.0, decided_by="operator")
    repo = FakeClassifierRepository()
    repo.seed("1000001", stored, derived_event_id("classified", again.event_id))
    broker, appeal_classified = make_service(repo, rules, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            again.model_dump(mode="json"), new.model_dump(mode="json"), topic=topics.APPEALS_REGISTERED
        )

        events = published(appeal_classified)

    decided = {event["appeal_id"]: event["classification"]["category"] for event in events}
    assert decided == {"1000001": "gas", "1000002": "heating"}
    assert [saved.appeal_id for saved in repo.saved] == ["1000002"]
    assert parked.items == []


async def test_a_failing_store_stops_the_batch_before_anything_is_published(rules, parked):
    class FailingRepository:
        async def save_classifications(self, events):
            raise TransientError("store unavailable")

    broker, appeal_classified = make_service(FailingRepository(), rules, parked)

    async with TestKafkaBroker(broker) as br:
        with pytest.raises(TransientError):
            await br.publish(payload("Немає опалення"), topics.APPEALS_REGISTERED)

        assert appeal_classified.mock.call_count == 0
