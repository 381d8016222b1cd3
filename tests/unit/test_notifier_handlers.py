"""services/notifier/handlers.py in memory: TestKafkaBroker, a fake repository and a fake park callback."""

import uuid
from datetime import timedelta

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.notifier.domain import NoticeContext
from services.notifier.handlers import build_router
from services.notifier.settings import NotifierSettings
from shared.contracts import topics
from shared.contracts.dispatcher import AppealStatusChanged
from shared.contracts.intake import ResidentContact
from shared.errors import TransientError
from tests.unit.fakes import NOW, PHONE, FakeNotifierRepository, assigned_event, registered_event

HINT = "1551"
CONTACT = ResidentContact(phone=PHONE, language="en")


@pytest.fixture
def repo() -> FakeNotifierRepository:
    return FakeNotifierRepository()


@pytest.fixture
def context(templates, taxonomy) -> NoticeContext:
    return NoticeContext(templates, taxonomy, HINT, {}, NOW)


@pytest.fixture
def broker(repo, context, parked) -> KafkaBroker:
    broker = KafkaBroker()
    broker.include_router(build_router(NotifierSettings(), repo, context, parked, lambda: NOW))
    return broker


def status_changed(status: str, **overrides) -> dict:
    return AppealStatusChanged(
        **{
            "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"status/{status}"),
            "appeal_id": "1000001",
            "status": status,
            "department": "kyivteploenergo",
            "department_name": "КП «Київтеплоенерго»",
            "category": "heating",
            "comment": "Done",
            "contact": CONTACT,
            "channel": "web",
            **overrides,
        }
    ).model_dump(mode="json")


async def test_a_registered_appeal_gets_one_pending_registration_notice(broker, repo, parked):
    event = registered_event(contact=CONTACT)

    async with TestKafkaBroker(broker) as br:
        await br.publish(event.model_dump(mode="json"), topics.APPEALS_REGISTERED)

    assert list(repo.documents) == ["1000001:registered"]
    notice = repo.documents["1000001:registered"]
    assert notice["text"] == "Your appeal No. 1000001 is registered. Status: 1551"
    assert (notice["transport"], notice["state"], notice["reason"], notice["attempts"]) == ("sms", "pending", "", 0)
    assert notice["event_id"] == str(event.event_id)
    # Sent at once by the process that recorded it; taken over by the delivery job only if that one dies.
    assert (notice["created_at"], notice["next_attempt_at"]) == (NOW, NOW + timedelta(seconds=60))
    assert parked.items == []


@pytest.mark.parametrize(
    ("outcome", "kind", "department"),
    [("assigned", "assigned", "kyivteploenergo"), ("triage", "triage", "contact_center")],
)
async def test_an_assigned_appeal_gets_one_notice_of_its_kind(broker, repo, outcome, kind, department):
    event = assigned_event(outcome=outcome, department=department, contact=CONTACT)

    async with TestKafkaBroker(broker) as br:
        await br.publish(event.model_dump(mode="json"), topics.APPEALS_ASSIGNED)

    assert list(repo.documents) == [f"1000001:{kind}"]
    assert repo.documents[f"1000001:{kind}"]["kind"] == kind


async def test_status_changes_are_told_and_intermediate_ones_are_not(broker, repo, parked):
    async with TestKafkaBroker(broker) as br:
        for status in ("accepted", "in_progress", "rerouted", "resolved"):
            await br.publish(status_changed(status), topics.APPEALS_STATUS)

    assert sorted(repo.documents) == ["1000001:rerouted:kyivteploenergo", "1000001:resolved"]
    assert repo.documents["1000001:resolved"]["text"] == (
        "Appeal No. 1000001 is resolved (КП «Київтеплоенерго»). Comment: Done"
    )
    assert parked.items == []


async def test_one_notice_per_record_of_a_mixed_batch(broker, repo, parked):
    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            registered_event(appeal_id="1000001", contact=CONTACT).model_dump(mode="json"),
            registered_event(appeal_id="1000002").model_dump(mode="json"),
            registered_event(appeal_id="1000003", contact=ResidentContact(phone=PHONE, notifications=False)).model_dump(
                mode="json"
            ),
            b"garbage",
            topic=topics.APPEALS_REGISTERED,
        )
        await br.publish(
            assigned_event(appeal_id="1000001", contact=CONTACT).model_dump(mode="json"), topics.APPEALS_ASSIGNED
        )

    states = {key: (doc["state"], doc["reason"]) for key, doc in repo.documents.items()}
    assert states == {
        "1000001:registered": ("pending", ""),
        "1000002:registered": ("skipped", "no-contact"),
        "1000003:registered": ("skipped", "opt-out"),
        "1000001:assigned": ("pending", ""),
    }
    assert parked.values == [b"garbage"]


async def test_a_redelivered_event_records_nothing_new(broker, repo):
    event = registered_event(contact=CONTACT)

    async with TestKafkaBroker(broker) as br:
        await br.publish(event.model_dump(mode="json"), topics.APPEALS_REGISTERED)
        repo.documents["1000001:registered"]["state"] = "sent"
        first = {key: dict(value) for key, value in repo.documents.items()}
        await br.publish(event.model_dump(mode="json"), topics.APPEALS_REGISTERED)

    assert repo.documents == first


async def test_a_bad_status_event_is_parked(broker, repo, parked):
    async with TestKafkaBroker(broker) as br:
        await br.publish(status_changed("resolved") | {"status": "exploded"}, topics.APPEALS_STATUS)

    assert repo.documents == {}
    assert [record.topic for record, _ in parked.items] == [topics.APPEALS_STATUS]


async def test_a_failing_store_fails_the_batch(context, parked):
    class FailingRepository(FakeNotifierRepository):
        async def record(self, notices):
            raise TransientError("store unavailable")

    broker = KafkaBroker()
    broker.include_router(build_router(NotifierSettings(), FailingRepository(), context, parked, lambda: NOW))

    async with TestKafkaBroker(broker) as br:
        with pytest.raises(TransientError, match="store unavailable"):
            await br.publish(registered_event(contact=CONTACT).model_dump(mode="json"), topics.APPEALS_REGISTERED)


async def test_the_deliverer_records_what_it_is_handed(repo, context, parked):
    handed: list[list[str]] = []

    async def record_and_hand_off(documents):
        handed.append([d.key for d in documents])
        return await repo.record(documents)

    broker = KafkaBroker()
    broker.include_router(
        build_router(
            NotifierSettings(),
            repo,
            context,
            parked,
            lambda: NOW,
            record_and_hand_off,
        )
    )
    event = registered_event(contact=CONTACT).model_dump(mode="json")

    async with TestKafkaBroker(broker) as br:
        await br.publish(event, topics.APPEALS_REGISTERED)
        await br.publish(event, topics.APPEALS_REGISTERED)  # redelivered
        await br.publish(registered_event(appeal_id="1000002").model_dump(mode="json"), topics.APPEALS_REGISTERED)

    # Redelivered and skipped notices are handed over too: the deliverer records them, and sends only the pending
    # notices recorded now (tests/unit/test_notifier_delivery).
    assert handed == [["1000001:registered"], ["1000001:registered"], ["1000002:registered"]]
    assert sorted(repo.documents) == ["1000001:registered", "1000002:registered"]
