"""services/dispatcher/handlers.py in memory: TestKafkaBroker, a fake repository and a fake park callback."""

import copy
import json
from datetime import timedelta

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pydantic import ValidationError

from services.dispatcher.domain import rerouted_event_id, route
from services.dispatcher.handlers import build_router, provide
from services.dispatcher.settings import DispatcherSettings
from shared.contracts import topics
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import AppealClassified
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged, Assignment, DepartmentTask
from shared.contracts.intake import ResidentContact
from shared.errors import PermanentError, TransientError
from tests.unit.fakes import (
    NOW,
    PHONE,
    FakeDispatcherRepository,
    classified_event,
    consumer_record,
    department_update,
    published,
    registered_document,
    registered_event,
)

CONTACT = ResidentContact(name="Олена", phone=PHONE)


def make_service(repo, routing, parked):
    router, publishers = build_router(DispatcherSettings(), routing.taxonomy)
    broker = KafkaBroker()
    broker.include_router(router)
    provide(broker, repo.dependencies(routing, parked), publishers)
    by_topic = {publisher.topic: publisher for publisher in router.publishers}
    return broker, by_topic


def tasks_of(by_topic, department: str) -> list[DepartmentTask]:
    return [DepartmentTask.model_validate(task) for task in published(by_topic[f"dept.{department}.assignments"])]


def test_there_is_a_task_publisher_for_every_department(routing, taxonomy, parked):
    _, by_topic = make_service(FakeDispatcherRepository(), routing, parked)

    assert set(by_topic) == (
        {topics.APPEALS_ASSIGNED, topics.APPEALS_STATUS, topics.APPEALS_ESCALATED}
        | {topics.department_assignments(code) for code in taxonomy.department_codes()}
        | {topics.department_incidents(code) for code in taxonomy.department_codes()}
    )


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


async def store_unavailable(writes) -> None:
    raise TransientError("store unavailable")


async def test_a_failing_store_stops_the_batch_before_anything_is_published(routing, parked):
    repo = FakeDispatcherRepository()
    repo.assignments.apply = store_unavailable
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        with pytest.raises(TransientError):
            await br.publish(classified_event("gas", "critical").model_dump(mode="json"), topics.APPEALS_CLASSIFIED)

        assert sum(publisher.mock.call_count for publisher in by_topic.values()) == 0


# --- the loop back: departments' reports on dept.updates ----------------------------------------


def assigned_appeal(routing, repo, category="heating", appeal_id="1000001", **kwargs) -> AppealAssigned:
    """An appeal the dispatcher assigned earlier, stored in the fake as intake and the dispatcher wrote it."""
    assigned = route(classified_event(category, "high", appeal_id=appeal_id, **kwargs), routing, NOW).assigned
    repo.seed_assigned(assigned)
    return assigned


def report(status, **kwargs) -> dict:
    return department_update(status, **kwargs).model_dump(mode="json")


def new_entries(repo, appeal_id="1000001") -> list[tuple[str, str, str]]:
    """The history the reports added after the dispatcher's assignment: (status, by, event id)."""
    history = repo.documents[appeal_id]["history"]
    return [(e["status"], e["by"], e["event_id"]) for e in history[3:]]


def publish_counts(by_topic) -> dict[str, int]:
    return {topic: publisher.mock.call_count for topic, publisher in by_topic.items() if publisher.mock.call_count}


async def test_reports_of_one_batch_are_applied_in_order(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo)
    broker, by_topic = make_service(repo, routing, parked)
    reports = [
        department_update("accepted"),
        department_update("in_progress", comment="бригада виїхала"),
        department_update("resolved", comment="опалення відновлено"),
    ]

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(*(r.model_dump(mode="json") for r in reports), topic=topics.DEPARTMENT_UPDATES)

        counts = publish_counts(by_topic)
        published_statuses = published(by_topic[topics.APPEALS_STATUS])

    document = repo.documents["1000001"]
    assert document["status"] == "resolved"
    assert document["updated_at"] == NOW
    assert new_entries(repo) == [(r.status, "kyivteploenergo", str(r.event_id)) for r in reports]
    assert [e.get("note", "") for e in document["history"][3:]] == ["", "бригада виїхала", "опалення відновлено"]
    assert [[c.status for c in call] for call in repo.status_calls] == [["accepted", "in_progress", "resolved"]]
    # The assignment stays; no reassignment is announced, nothing parked; residents hear of each change in order.
    assert document["assignment"]["department"] == "kyivteploenergo"
    assert counts == {topics.APPEALS_STATUS: 3}
    statuses = [AppealStatusChanged.model_validate(m) for m in published_statuses]
    assert [(s.status, s.comment, s.caused_by) for s in statuses] == [
        (r.status, r.comment, str(r.event_id)) for r in reports
    ]
    assert {(s.appeal_id, s.department, s.category, s.channel) for s in statuses} == {
        ("1000001", "kyivteploenergo", "heating", "web")
    }
    assert parked.items == []


async def test_a_report_is_judged_against_the_status_the_batch_has_reached(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo)
    broker, _ = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        # `accepted` may follow only `assigned`: after `in_progress` earlier in the same batch it is refused.
        await br.publish_batch(report("in_progress"), report("accepted"), topic=topics.DEPARTMENT_UPDATES)

    assert repo.documents["1000001"]["status"] == "in_progress"
    assert [entry[0] for entry in new_entries(repo)] == ["in_progress"]
    ((record, error),) = parked.items
    assert DepartmentUpdate.model_validate_json(record.value).status == "accepted"
    assert isinstance(error, PermanentError)
    assert (error.reason, error.detail) == (
        "rejected-transition",
        "appeal 1000001 is in_progress: it cannot become accepted",
    )


async def test_a_redelivered_report_changes_nothing(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo)
    broker, by_topic = make_service(repo, routing, parked)
    batch = (report("accepted"), report("in_progress"))

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(*batch, topic=topics.DEPARTMENT_UPDATES)
        before = copy.deepcopy(repo.documents)
        await br.publish_batch(*batch, topic=topics.DEPARTMENT_UPDATES)
        # The first report alone, once more: the appeal has moved on, yet it is not refused.
        await br.publish(report("accepted"), topics.DEPARTMENT_UPDATES)

        counts = publish_counts(by_topic)
        statuses = published(by_topic[topics.APPEALS_STATUS])

    assert repo.documents == before
    assert [entry[0] for entry in new_entries(repo)] == ["accepted", "in_progress"]
    assert repo.status_calls[1:] == [[], []]
    assert parked.items == []
    # Residents' notices are announced again (a lost first announcement is not lost for good) with the same ids.
    assert counts == {topics.APPEALS_STATUS: 5}
    assert len({status["event_id"] for status in statuses}) == 2


async def test_a_refused_report_is_parked_and_the_rest_of_the_batch_goes_on(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo, appeal_id="1000001")
    assigned_appeal(routing, repo, "gas", appeal_id="1000002")
    # Registered but never assigned: no department may report on it yet.
    repo.documents["1000003"] = registered_document(registered_event(appeal_id="1000003"))
    broker, _ = make_service(repo, routing, parked)
    records = [
        report("accepted", department="kyivvodokanal"),  # not its appeal
        report("accepted"),
        report("resolved", appeal_id="1000777"),  # no such appeal
        b"{broken",
        report("accepted", appeal_id="1000002", department="kyivgaz"),
        report("accepted", appeal_id="1000003"),
        report("resolved"),
    ]

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(*records, topic=topics.DEPARTMENT_UPDATES)

    assert repo.documents["1000001"]["status"] == "resolved"
    assert [entry[:2] for entry in new_entries(repo)] == [
        ("accepted", "kyivteploenergo"),
        ("resolved", "kyivteploenergo"),
    ]
    assert repo.documents["1000002"]["status"] == "accepted"
    assert repo.documents["1000003"]["status"] == "registered" and len(repo.documents["1000003"]["history"]) == 1
    assert "1000777" not in repo.documents
    # The record that is no report at all is parked when the batch is read, before any report is judged.
    assert parked.values[0] == b"{broken" and isinstance(parked.errors[0], ValidationError)
    refusals = [(error.reason, error.detail) for error in parked.errors[1:]]
    assert refusals == [
        ("rejected-transition", "appeal 1000001 is assigned to kyivteploenergo, not to kyivvodokanal"),
        ("unknown-appeal", "no appeal 1000777 has been assigned"),
        ("unknown-appeal", "no appeal 1000003 has been assigned"),
    ]
    parked_reports = [DepartmentUpdate.model_validate_json(value) for value in parked.values[1:]]
    assert [(u.appeal_id, u.department) for u in parked_reports] == [
        ("1000001", "kyivvodokanal"),
        ("1000777", "kyivteploenergo"),
        ("1000003", "kyivteploenergo"),
    ]


async def test_a_misrouted_appeal_is_announced_and_sent_to_the_suggested_department(routing, taxonomy, parked):
    repo = FakeDispatcherRepository()
    assigned = assigned_appeal(routing, repo)
    broker, by_topic = make_service(repo, routing, parked)
    update = department_update("misrouted", comment="це водопостачання", suggested="kyivvodokanal")

    async with TestKafkaBroker(broker) as br:
        await br.publish(update.model_dump(mode="json"), topics.DEPARTMENT_UPDATES)

        announced = [AppealAssigned.model_validate(e) for e in published(by_topic[topics.APPEALS_ASSIGNED])]
        tasks = tasks_of(by_topic, "kyivvodokanal")
        counts = publish_counts(by_topic)
        statuses = published(by_topic[topics.APPEALS_STATUS])

    (event,) = announced
    assert event.event_id == rerouted_event_id(update)
    assert event.appeal_id == "1000001" and event.text == assigned.text
    assert (event.assignment.department, event.assignment.outcome) == ("kyivvodokanal", "assigned")
    assert event.assignment.department_name == taxonomy.department_name("kyivvodokanal")
    assert event.assignment.due_at == assigned.assignment.due_at
    (task,) = tasks
    assert task.event_id == derived_event_id("task", rerouted_event_id(update))
    assert (task.department, task.status, task.category) == ("kyivvodokanal", "assigned", "heating")
    assert task.due_at == assigned.assignment.due_at
    # Nothing goes back to the department that reported the mistake.
    assert counts == {topics.APPEALS_ASSIGNED: 1, "dept.kyivvodokanal.assignments": 1, topics.APPEALS_STATUS: 1}
    (status,) = statuses
    assert (status["status"], status["department"]) == ("rerouted", "kyivvodokanal")
    document = repo.documents["1000001"]
    assert document["status"] == "assigned"
    assert document["assignment"]["department"] == "kyivvodokanal"
    assert new_entries(repo) == [("assigned", "kyivteploenergo", str(update.event_id))]
    assert parked.items == []


async def test_after_a_reroute_in_the_batch_only_the_new_department_may_report(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo)
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(
            report("misrouted", suggested="kyivvodokanal"),
            report("in_progress"),  # the old department, too late
            report("accepted", department="kyivvodokanal"),
            topic=topics.DEPARTMENT_UPDATES,
        )

        tasks = tasks_of(by_topic, "kyivvodokanal")

    assert [entry[:2] for entry in new_entries(repo)] == [
        ("assigned", "kyivteploenergo"),
        ("accepted", "kyivvodokanal"),
    ]
    assert repo.documents["1000001"]["status"] == "accepted"
    assert repo.documents["1000001"]["assignment"]["department"] == "kyivvodokanal"
    assert [(e.reason, e.detail) for e in parked.errors] == [
        ("rejected-transition", "appeal 1000001 is assigned to kyivvodokanal, not to kyivteploenergo")
    ]
    assert len(tasks) == 1


async def test_misrouted_without_a_suggestion_goes_to_triage_at_the_contact_center(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo, "snow_ice", district="podilskyi", contact=CONTACT)
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        await br.publish(report("misrouted", department="rda_podilskyi"), topics.DEPARTMENT_UPDATES)

        (task,) = tasks_of(by_topic, "contact_center")
        counts = publish_counts(by_topic)

    assert (task.status, task.district) == ("triage", "podilskyi")
    # The contact center calls residents back: its task carries the contact.
    assert task.contact == CONTACT
    assert counts == {topics.APPEALS_ASSIGNED: 1, "dept.contact_center.assignments": 1, topics.APPEALS_STATUS: 1}
    assert repo.documents["1000001"]["status"] == "triage"


async def test_a_repeated_misrouted_report_announces_the_same_reroute_again(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo)
    broker, by_topic = make_service(repo, routing, parked)
    update = department_update("misrouted", suggested="kyivvodokanal")

    async with TestKafkaBroker(broker) as br:
        await br.publish(update.model_dump(mode="json"), topics.DEPARTMENT_UPDATES)
        after_first = copy.deepcopy(repo.documents)
        await br.publish(update.model_dump(mode="json"), topics.DEPARTMENT_UPDATES)

        announced = published(by_topic[topics.APPEALS_ASSIGNED])
        tasks = published(by_topic["dept.kyivvodokanal.assignments"])
        old = by_topic["dept.kyivteploenergo.assignments"].mock.call_count

    assert repo.documents == after_first
    assert len(announced) == 2 and announced[1] == announced[0]
    assert announced[0]["event_id"] == str(rerouted_event_id(update))
    assert len(tasks) == 2 and tasks[1] == tasks[0]
    assert old == 0
    assert parked.items == []


async def test_classified_appeals_and_department_reports_each_have_their_subscriber(routing, parked):
    repo = FakeDispatcherRepository()
    assigned_appeal(routing, repo, appeal_id="1000001")
    broker, by_topic = make_service(repo, routing, parked)
    classified = classified_event("gas", "critical", appeal_id="1000002")
    records = [
        consumer_record(json.dumps(report("accepted")).encode(), topics.DEPARTMENT_UPDATES, offset=0),
        consumer_record(classified.model_dump_json().encode(), topics.APPEALS_CLASSIFIED, offset=0),
        consumer_record(
            json.dumps(report("misrouted", suggested="kyivvodokanal")).encode(), topics.DEPARTMENT_UPDATES, 1
        ),
    ]

    async with TestKafkaBroker(broker) as br:
        # One subscriber per topic, each handed its own records of the batch.
        inputs = {topics.APPEALS_CLASSIFIED, topics.DEPARTMENT_UPDATES}
        consumers = [s for s in br.subscribers if {t.name for t in s.topics} & inputs]
        assert sorted(tuple(t.name for t in s.topics) for s in consumers) == [(t,) for t in sorted(inputs)]
        subscribers = {s.topics[0].name: s for s in consumers}
        for topic in (topics.APPEALS_CLASSIFIED, topics.DEPARTMENT_UPDATES):
            await subscribers[topic].process_message([r for r in records if r.topic == topic])

        announced = {
            e["appeal_id"]: e["assignment"]["department"] for e in published(by_topic[topics.APPEALS_ASSIGNED])
        }
        gas = tasks_of(by_topic, "kyivgaz")
        water = tasks_of(by_topic, "kyivvodokanal")

    assert announced == {"1000002": "kyivgaz", "1000001": "kyivvodokanal"}
    assert [task.appeal_id for task in gas] == ["1000002"]
    assert [task.appeal_id for task in water] == ["1000001"]
    assert repo.documents["1000002"]["assignment"]["department"] == "kyivgaz"
    assert [entry[0] for entry in new_entries(repo)] == ["accepted", "assigned"]
    assert repo.documents["1000001"]["assignment"]["department"] == "kyivvodokanal"
    assert parked.items == []


async def test_a_failing_store_stops_a_batch_of_reports_before_anything_is_published(routing, parked):
    repo = FakeDispatcherRepository()
    repo.reports.apply = store_unavailable
    assigned_appeal(routing, repo)
    broker, by_topic = make_service(repo, routing, parked)

    async with TestKafkaBroker(broker) as br:
        with pytest.raises(TransientError):
            await br.publish(report("misrouted", suggested="kyivvodokanal"), topics.DEPARTMENT_UPDATES)

        assert sum(publisher.mock.call_count for publisher in by_topic.values()) == 0
