"""Mass incidents (grouping decision, the department told once per growth, reports fanned out to every resident) and
deadlines (the overdue decision, the periodic check through the handler with a fake repository)."""

from datetime import timedelta

from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain import (
    escalation,
    fan_out,
    group_incidents,
    incident_key,
    overdue_by_department,
    route,
)
from services.dispatcher.handlers import build_router, check_overdue, provide
from services.dispatcher.repository import incident_document, incident_of
from services.dispatcher.settings import DispatcherSettings
from shared.contracts import topics
from shared.contracts.dispatcher import AppealEscalated, AppealStatusChanged, IncidentTask
from shared.contracts.intake import Address
from tests.unit.fakes import (
    NOW,
    FakeDispatcherRepository,
    classified_event,
    department_update,
    published,
    registered_document,
    registered_event,
)

BUILDING = "вул. Липська, 5"


def assigned(routing, category="elevators", appeal_id="1000001", address_text=BUILDING, urgency="high", **kw):
    event = classified_event(category, urgency, appeal_id=appeal_id, address_text=address_text, **kw)
    return route(event, routing, NOW).assigned


def test_appeals_about_one_building_are_grouped_and_the_incident_is_announced_when_the_second_joins(routing):
    first = group_incidents([assigned(routing)], {}, routing, NOW)
    (opened,) = first.incidents
    assert opened.appeal_ids == ("1000001",) and opened.location == "вулиця Липська, 5"
    assert first.assigned[0].assignment.incident_id == opened.incident_id == "inc-1000001"
    assert first.joined == frozenset() and first.announced == []  # one appeal is an ordinary task

    later = NOW + timedelta(hours=2)
    second = group_incidents(
        [assigned(routing, appeal_id="1000002", address_text="Липська 5", urgency="critical")],
        {opened.key: opened},
        routing,
        later,
    )
    (grown,) = second.incidents
    assert grown.appeal_ids == ("1000001", "1000002")
    assert second.joined == frozenset({"1000002"})
    (task,) = second.announced
    assert (task.incident_id, task.count, task.appeal_ids) == ("inc-1000001", 2, ("1000001", "1000002"))
    assert task.urgency == "critical"  # the most urgent appeal sets the incident's urgency
    assert task.department == "lift_service" and task.lead_appeal_id == "1000001"


def test_a_batch_groups_among_itself_and_a_redelivery_changes_nothing(routing):
    batch = [assigned(routing, appeal_id=f"100000{i}") for i in range(1, 4)]
    grouping = group_incidents(batch, {}, routing, NOW)
    (incident,) = grouping.incidents
    assert incident.appeal_ids == ("1000001", "1000002", "1000003")
    assert grouping.joined == frozenset({"1000002", "1000003"})
    assert [t.count for t in grouping.announced] == [3]

    again = group_incidents(batch, {incident.key: incident}, routing, NOW)
    assert again.incidents == [] and again.announced == []
    assert {d.assignment.incident_id for d in again.assigned} == {"inc-1000001"}


def test_what_is_not_grouped(routing):
    other_building = assigned(routing, appeal_id="1000002", address_text="вул. Липська, 7")
    other_category = assigned(routing, "water_supply", appeal_id="1000003")
    personal = assigned(routing, "healthcare", appeal_id="1000004")
    no_house = assigned(routing, appeal_id="1000005", address_text="вул. Липська")
    opened = group_incidents([assigned(routing)], {}, routing, NOW).incidents[0]

    grouping = group_incidents([other_building, other_category, personal, no_house], {opened.key: opened}, routing, NOW)
    assert grouping.joined == frozenset() and grouping.announced == []
    assert incident_key(personal, routing) is None and incident_key(no_house, routing) is None
    assert len(grouping.incidents) == 2  # the other building and the other category open their own


def test_an_incident_outside_the_window_is_not_joined(routing):
    opened = group_incidents([assigned(routing)], {}, routing, NOW).incidents[0]
    late = NOW + timedelta(hours=routing.incidents.window_hours, minutes=1)
    grouping = group_incidents([assigned(routing, appeal_id="1000002")], {opened.key: opened}, routing, late)
    assert grouping.joined == frozenset()
    assert grouping.assigned[0].assignment.incident_id == "inc-1000002"


def test_street_categories_group_by_street_and_coordinates_group_a_building(routing):
    roads = [assigned(routing, "roads", appeal_id=f"100000{i}", address_text="вулиця Липська") for i in (1, 2)]
    assert group_incidents(roads, {}, routing, NOW).announced[0].location == "вулиця Липська"

    event = classified_event("gas", "critical", appeal_id="1000003")
    with_point = event.model_copy(update={"address": Address(lat=50.45012, lon=30.52)})
    decision = route(with_point, routing, NOW).assigned
    assert incident_key(decision, routing)[1] == "50.4501,30.5200"


def appeal_pair(routing):
    first, second = assigned(routing), assigned(routing, appeal_id="1000002")
    grouping = group_incidents([first, second], {}, routing, NOW)
    return grouping.assigned


def test_a_report_on_one_appeal_of_an_incident_applies_to_the_others_that_may_take_it(routing):
    first, second = appeal_pair(routing)
    third = assigned(routing, appeal_id="1000003")
    moved = assigned(routing, appeal_id="1000004")
    moved = moved.model_copy(update={"assignment": moved.assignment.model_copy(update={"department": "kyivgaz"})})
    report = department_update("resolved", department="lift_service", comment="Ліфт працює")
    siblings = {
        "1000001": (first, "accepted", frozenset()),
        "1000002": (second, "accepted", frozenset()),
        "1000003": (third, "resolved", frozenset()),  # resolved already: cannot be resolved again
        "1000004": (moved, "assigned", frozenset()),  # rerouted to another department: not this report's
    }

    (sibling,) = fan_out(report, siblings, routing, NOW)
    assert (sibling.appeal_id, sibling.status, sibling.note, sibling.by) == (
        "1000002",
        "resolved",
        "Ліфт працює",
        "lift_service",
    )
    assert sibling.event_id != str(report.event_id) and sibling.caused_by == str(report.event_id)
    # A redelivered report finds it applied and changes nothing more.
    again = {"1000002": (second, "resolved", frozenset({sibling.event_id}))}
    assert fan_out(report, again, routing, NOW) == []


def test_a_misrouted_incident_is_rerouted_as_a_whole(routing):
    _, second = appeal_pair(routing)
    report = department_update("misrouted", department="lift_service", suggested="housing_pecherskyi")
    (sibling,) = fan_out(report, {"1000002": (second, "assigned", frozenset())}, routing, NOW)
    assert sibling.reroute is not None and sibling.reroute.assignment.department == "housing_pecherskyi"
    assert sibling.reroute.assignment.incident_id == second.assignment.incident_id


# ---- deadlines -------------------------------------------------------------------------------------------------


def stored(status="assigned", due_at=NOW - timedelta(hours=1), **extra) -> dict:
    """An appeal as the overdue check reads it."""
    return {
        "_id": "1000001",
        "status": status,
        "correlation_id": "c-1",
        "assignment": {
            "department": "kyivgaz",
            "department_name": "Київгаз",
            "due_at": due_at,
            "district": None,
            "outcome": "assigned",
            "reason": "gas -> kyivgaz",
        },
        "classification": {"category": "gas", "urgency": "critical", "confidence": 0.9},
        **extra,
    }


def document(status="assigned", due_at=NOW - timedelta(hours=1), **extra) -> AppealDoc:
    return AppealDoc.model_validate(stored(status, due_at, **extra))


def test_an_open_appeal_past_its_due_time_is_escalated_once_per_due_time():
    event = escalation(document(), NOW)
    assert isinstance(event, AppealEscalated)
    assert (event.department, event.category, event.overdue_s) == ("kyivgaz", "gas", 3600)
    assert escalation(document(escalated_due_at=NOW - timedelta(hours=1)), NOW) is None  # already escalated
    assert escalation(document(escalated_due_at=NOW - timedelta(days=3)), NOW) is not None  # a new due time
    assert escalation(document(due_at=NOW + timedelta(minutes=1)), NOW) is None  # not due yet
    assert escalation(document("resolved"), NOW) is None  # closed
    assert escalation(document("triage"), NOW) is not None  # the contact center has a due time too
    # the same appeal and due time always give the same event id, so a repeat is deduplicated downstream
    assert escalation(document(), NOW + timedelta(hours=1)).event_id == event.event_id


def test_overdue_counted_by_department():
    documents = [document(), document(), document("in_progress"), document("rejected"), document(due_at=NOW)]
    assert overdue_by_department(documents, NOW) == {"kyivgaz": 3}


async def test_the_overdue_check_publishes_escalations_and_marks_them(routing, parked):
    repo = FakeDispatcherRepository()
    repo.documents["1000001"] = stored()
    repo.documents["1000002"] = {**stored(), "_id": "1000002", "status": "resolved"}
    router, publishers = build_router(DispatcherSettings(), routing.taxonomy)
    broker = KafkaBroker()
    broker.include_router(router)
    deps = repo.dependencies(routing, parked)

    async with TestKafkaBroker(broker):
        first = await check_overdue(deps, publishers)
        second = await check_overdue(deps, publishers)
        messages = published(publishers.escalated)

    assert [e.appeal_id for e in first] == ["1000001"] and second == []
    assert [m["appeal_id"] for m in messages] == ["1000001"]
    assert repo.documents["1000001"]["escalated_due_at"] == NOW - timedelta(hours=1)


# ---- through the handlers ------------------------------------------------------------------------------------


def lift_appeals_service(routing, parked, count: int):
    """The dispatcher in memory with `count` registered appeals about the lift of one building, and their
    classified events to publish."""
    repo = FakeDispatcherRepository(appeals=[])
    numbers = [f"100000{i}" for i in range(1, count + 1)]
    for number in numbers:
        registered = registered_event(appeal_id=number, address=Address(text=BUILDING))
        repo.documents[number] = registered_document(registered)
    router, publishers = build_router(DispatcherSettings(), routing.taxonomy)
    broker = KafkaBroker()
    broker.include_router(router)
    provide(broker, repo.dependencies(routing, parked), publishers)
    by_topic = {p.topic: p for p in router.publishers}
    appeals = [
        classified_event("elevators", "high", appeal_id=number, address_text=BUILDING).model_dump(mode="json")
        for number in numbers
    ]
    return repo, broker, by_topic, appeals


async def test_the_department_gets_the_incident_and_every_resident_hears_the_resolution(routing, parked):
    repo, broker, by_topic, appeals = lift_appeals_service(routing, parked, 3)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(*appeals, topic=topics.APPEALS_CLASSIFIED)
        tasks = published(by_topic["dept.lift_service.assignments"])
        incidents = [IncidentTask.model_validate(m) for m in published(by_topic["dept.lift_service.incidents"])]
        await br.publish(department_update("accepted", department="lift_service"), topics.DEPARTMENT_UPDATES)
        resolved_report = department_update("resolved", department="lift_service", comment="Ліфт відремонтовано")
        await br.publish(resolved_report, topics.DEPARTMENT_UPDATES)
        statuses = [AppealStatusChanged.model_validate(m) for m in published(by_topic[topics.APPEALS_STATUS])]
        await br.publish(resolved_report, topics.DEPARTMENT_UPDATES)  # redelivered
        repeated = [AppealStatusChanged.model_validate(m) for m in published(by_topic[topics.APPEALS_STATUS])]

    # The first appeal is a task; the other two come as the incident, not as tasks of their own.
    assert [t["appeal_id"] for t in tasks] == ["1000001"] and tasks[0]["incident_id"] == "inc-1000001"
    assert [(i.count, i.appeal_ids) for i in incidents] == [(3, ("1000001", "1000002", "1000003"))]
    resolved = [s for s in statuses if s.status == "resolved"]
    assert len([s for s in statuses if s.status == "accepted"]) == 3
    assert sorted(s.appeal_id for s in resolved) == ["1000001", "1000002", "1000003"]
    assert {(s.incident_id, s.comment) for s in resolved} == {("inc-1000001", "Ліфт відремонтовано")}
    assert len({s.caused_by for s in resolved}) == 1 and len({s.event_id for s in resolved}) == 3
    # A redelivered report changes nothing, yet every resident's notice is announced again under the same id.
    again = repeated[len(statuses) :]
    assert sorted((s.appeal_id, str(s.event_id)) for s in again) == sorted(
        (s.appeal_id, str(s.event_id)) for s in resolved
    )
    assert {repo.documents[a]["status"] for a in ("1000001", "1000002", "1000003")} == {"resolved"}
    assert repo.incidents["inc-1000001"].status == "resolved"


def test_incident_documents_round_trip(routing):
    incident = group_incidents([assigned(routing)], {}, routing, NOW).incidents[0]
    assert incident_of(incident_document(incident)) == incident


async def test_a_misrouted_incident_goes_to_the_suggested_department_whole_and_is_closed(routing, parked):
    repo, broker, by_topic, appeals = lift_appeals_service(routing, parked, 2)

    async with TestKafkaBroker(broker) as br:
        await br.publish_batch(*appeals, topic=topics.APPEALS_CLASSIFIED)
        report = department_update("misrouted", department="lift_service", suggested="housing_pecherskyi")
        await br.publish(report.model_dump(mode="json"), topics.DEPARTMENT_UPDATES)
        tasks = published(by_topic["dept.housing_pecherskyi.assignments"])
        statuses = published(by_topic[topics.APPEALS_STATUS])

    assert sorted(t["appeal_id"] for t in tasks) == ["1000001", "1000002"]
    assert sorted((s["appeal_id"], s["status"]) for s in statuses) == [("1000001", "rerouted"), ("1000002", "rerouted")]
    assert {repo.documents[a]["assignment"]["department"] for a in ("1000001", "1000002")} == {"housing_pecherskyi"}
    assert repo.incidents["inc-1000001"].status == "misrouted"
