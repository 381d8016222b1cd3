"""services/dispatcher/handlers.py in memory: TestKafkaBroker, a fake repository and a fake park callback."""

from datetime import timedelta

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.dispatcher.handlers import build_router
from services.dispatcher.settings import DispatcherSettings
from shared.contracts import topics
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import AppealClassified
from shared.contracts.dispatcher import Assignment, DepartmentTask
from shared.contracts.intake import ResidentContact
from shared.errors import PermanentError, TransientError
from tests.unit.fakes import NOW, PHONE, FakeDispatcherRepository, classified_event, published

CONTACT = ResidentContact(name="Олена", phone=PHONE)


def make_service(repo, routing, parked):
    router = build_router(DispatcherSettings(), repo, routing, parked, lambda: NOW)
    broker = KafkaBroker()
    broker.include_router(router)
    by_topic = {publisher.topic: publisher for publisher in router.publishers}
    return broker, by_topic


def tasks_of(by_topic, department: str) -> list[DepartmentTask]:
    return [DepartmentTask.model_validate(task) for task in published(by_topic[f"dept.{department}.assignments"])]


def test_there_is_a_task_publisher_for_every_department(routing, taxonomy, parked):
    _, by_topic = make_service(FakeDispatcherRepository(), routing, parked)

    assert set(by_topic) == {topics.APPEALS_ASSIGNED} | {
        topics.department_assignments(code) for code in taxonomy.department_codes()
    }


async def test_a_classified_appeal_is_assigned_and_its_department_gets_the_task(routing, parked):
    repo = FakeDispatcherRepository()
    broker, by_topic = make_service(repo, routing, parked)
    classified = classified_event("heating", "high", contact=CONTACT, district="obolonskyi")

    async with TestKafkaBroker(broker) as br:
        await br.publish(classified.model_dump(mode="json"), topics.APPEALS_CLASSIFIED)

        assigned = published(by_topic[topics.APPEALS_ASSIGNED])
        tasks = tasks_of(by_topic, "kyivteploenergo")
        others = [p for topic, p in by_topic.items() if topic.startswith("dept.") and p.mock.call_count]

    assert len(assigned) == 1
    assert assigned[0]["event_id"] == str(derived_event_id("assigned", classified.event_id))
    assert assigned[0]["assignment"]["department"] == "kyivteploenergo"
    assert assigned[0]["assignment"]["due_at"] == "2026-01-18T09:30:00Z"
    (task,) = tasks
    assert task.event_id == derived_event_id("task", derived_event_id("assigned", classified.event_id))
    assert (task.appeal_id, task.category, task.urgency, task.status) == ("1000001", "heating", "high", "assigned")
    assert task.due_at == NOW + timedelta(days=3)
    # Kyivteploenergo does not call residents back: no contact in its task.
    assert task.contact is None
    assert [p.topic for p in others] == ["dept.kyivteploenergo.assignments"]
    assert repo.documents["1000001"]["assignment"]["department"] == "kyivteploenergo"


async def test_each_department_gets_only_its_own_tasks(routing, parked):
    repo = FakeDispatcherRepository()
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            classified_event("legal_aid", "low", appeal_id="1000001", contact=CONTACT).model_dump(mode="json"),
            classified_event("snow_ice", "high", appeal_id="1000002", district="podilskyi").model_dump(mode="json"),
            classified_event("snow_ice", "high", appeal_id="1000003", text="Ожеледиця").model_dump(mode="json"),
            classified_event("unclassified", appeal_id="1000004", contact=CONTACT).model_dump(mode="json"),
            b"{broken",
            topic=topics.APPEALS_CLASSIFIED,
        )

        assigned = published(by_topic[topics.APPEALS_ASSIGNED])
        legal = tasks_of(by_topic, "legal_aid")
        rda = tasks_of(by_topic, "rda_podilskyi")
        contact_center = tasks_of(by_topic, "contact_center")
        called = sorted(topic for topic, p in by_topic.items() if topic.startswith("dept.") and p.mock.call_count)

    outcomes = {e["appeal_id"]: (e["assignment"]["department"], e["assignment"]["outcome"]) for e in assigned}
    assert outcomes == {
        "1000001": ("legal_aid", "assigned"),
        "1000002": ("rda_podilskyi", "assigned"),
        "1000003": ("contact_center", "triage"),
        "1000004": ("contact_center", "triage"),
    }
    assert called == ["dept.contact_center.assignments", "dept.legal_aid.assignments", "dept.rda_podilskyi.assignments"]
    assert [task.appeal_id for task in legal] == ["1000001"] and legal[0].contact == CONTACT
    assert [task.appeal_id for task in rda] == ["1000002"] and rda[0].contact is None
    assert sorted(task.appeal_id for task in contact_center) == ["1000003", "1000004"]
    assert {task.status for task in contact_center} == {"triage"}
    assert parked.values == [b"{broken"]


async def test_a_redelivery_sends_the_task_where_the_stored_assignment_says(routing, parked):
    classified = classified_event("heating", "high")
    # Meanwhile an operator moved the appeal to Kyivvodokanal, under the same outgoing event id.
    stored = Assignment(
        department="kyivvodokanal",
        department_name="ПрАТ «АК «Київводоканал»",
        due_at=NOW + timedelta(days=1),
        outcome="assigned",
        reason="operator",
    )
    repo = FakeDispatcherRepository()
    repo.seed("1000001", stored, derived_event_id("assigned", classified.event_id))
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish(classified.model_dump(mode="json"), topics.APPEALS_CLASSIFIED)

        assigned = published(by_topic[topics.APPEALS_ASSIGNED])
        moved = tasks_of(by_topic, "kyivvodokanal")
        original = by_topic["dept.kyivteploenergo.assignments"].mock.call_count

    assert Assignment.model_validate(assigned[0]["assignment"]) == stored
    assert [task.due_at for task in moved] == [NOW + timedelta(days=1)]
    assert original == 0
    assert repo.saved == []


async def test_an_appeal_the_store_does_not_know_is_parked(routing, parked):
    repo = FakeDispatcherRepository(appeals=["1000001"])
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            classified_event("gas", "critical", appeal_id="1000001").model_dump(mode="json"),
            classified_event("gas", "critical", appeal_id="1000777").model_dump(mode="json"),
            topic=topics.APPEALS_CLASSIFIED,
        )

        assigned = published(by_topic[topics.APPEALS_ASSIGNED])
        tasks = tasks_of(by_topic, "kyivgaz")

    assert [event["appeal_id"] for event in assigned] == ["1000001"]
    assert [task.appeal_id for task in tasks] == ["1000001"]
    ((_, error),) = parked.items
    assert isinstance(error, PermanentError) and error.reason == "unknown-appeal"


@pytest.mark.parametrize("known", [[], ["1000999"]], ids=["empty-store", "other-appeals-only"])
async def test_a_batch_of_only_unknown_appeals_is_parked_and_nothing_is_published(routing, parked, known):
    repo = FakeDispatcherRepository(appeals=known)
    broker, by_topic = make_service(repo, routing, parked)
    unknown = [
        classified_event("gas", "critical", appeal_id="1000777"),
        classified_event("unclassified", appeal_id="1000778", contact=CONTACT),
    ]

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(*(event.model_dump(mode="json") for event in unknown), topic=topics.APPEALS_CLASSIFIED)

        calls = {topic: publisher.mock.call_count for topic, publisher in by_topic.items()}

    assert sum(calls.values()) == 0
    assert [AppealClassified.model_validate_json(value).appeal_id for value in parked.values] == [
        "1000777",
        "1000778",
    ]
    assert all(isinstance(error, PermanentError) and error.reason == "unknown-appeal" for error in parked.errors)
    assert repo.saved == []
    assert set(repo.documents) == set(known)


async def test_a_redelivered_and_a_new_appeal_in_one_batch(routing, parked):
    redelivered = classified_event("heating", "high", appeal_id="1000001")
    new = classified_event("gas", "critical", appeal_id="1000002")
    stored = Assignment(
        department="kyivvodokanal",
        department_name="ПрАТ «АК «Київводоканал»",
        due_at=NOW + timedelta(days=1),
        outcome="assigned",
        reason="operator",
    )
    repo = FakeDispatcherRepository(appeals=["1000002"])
    repo.seed("1000001", stored, derived_event_id("assigned", redelivered.event_id))
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            redelivered.model_dump(mode="json"), new.model_dump(mode="json"), topic=topics.APPEALS_CLASSIFIED
        )

        assigned = {e["appeal_id"]: e["assignment"]["department"] for e in published(by_topic[topics.APPEALS_ASSIGNED])}
        moved = tasks_of(by_topic, "kyivvodokanal")
        gas = tasks_of(by_topic, "kyivgaz")

    assert assigned == {"1000001": "kyivvodokanal", "1000002": "kyivgaz"}
    assert [task.appeal_id for task in moved] == ["1000001"]
    assert [task.appeal_id for task in gas] == ["1000002"]
    assert [event.appeal_id for event in repo.saved] == ["1000002"]
    assert parked.items == []


async def test_a_failing_store_stops_the_batch_before_anything_is_published(routing, parked):
    class FailingRepository:
        async def save_assignments(self, events):
            raise TransientError("store unavailable")

    broker, by_topic = make_service(FailingRepository(), routing, parked)

    async with TestKafkaBroker(broker) as br:
        with pytest.raises(TransientError):
            await br.publish(classified_event("gas", "critical").model_dump(mode="json"), topics.APPEALS_CLASSIFIED)

        assert sum(publisher.mock.call_count for publisher in by_topic.values()) == 0
