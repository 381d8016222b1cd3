"""The dispatcher's repositories on the real store: each `load` reads what its decision needs, each `apply` writes once
however often it is repeated (the idempotency filters proven against the store), and the decisions made on what was
loaded come out the same after a redelivery."""

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from services.dispatcher.domain import escalation, load_routing
from services.dispatcher.domain.assignments import (
    AssignmentWrites,
    decide_assignments,
    route_batch,
)
from services.dispatcher.domain.reports import ReportWrites, decide_reports
from services.dispatcher.repository import (
    MongoAssignments,
    MongoOverdue,
    MongoReports,
    MongoTriageDesk,
    ensure_indexes,
    incident_upsert,
)
from services.dispatcher.settings import DEFAULT_ROUTING
from services.intake.domain import register
from services.intake.repository import ensure_indexes as intake_indexes
from shared.contracts.base import utcnow
from shared.contracts.classifier import AppealClassified, Classification
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.intake import Address, AppealSubmitted
from shared.settings import DEFAULT_TAXONOMY
from shared.store import APPEALS, INCIDENTS, Store
from shared.taxonomy import load_taxonomy
from tests.integration.helpers import scratch_store

pytestmark = pytest.mark.integration

ROUTING = load_routing(DEFAULT_ROUTING, load_taxonomy(DEFAULT_TAXONOMY))
BUILDING = "вул. Липська, 5"


@pytest.fixture
async def store(servers):
    async with scratch_store(servers.mongodb_uri, "dispatcher_repo", intake_indexes, ensure_indexes) as store:
        yield store


DOCUMENTS: dict[str, dict] = {}


def classified(appeal_id: str, category: str = "elevators", address_text: str | None = BUILDING) -> AppealClassified:
    """The appeal's classified event; the document intake stored for it is kept in DOCUMENTS."""
    submission = AppealSubmitted(
        channel="web",
        external_id=uuid.uuid4().hex,
        text="Не працює ліфт",
        contact={"phone": "+380671234567"},
        address=Address(text=address_text) if address_text else None,
        received_at=utcnow(),
    )
    registration = register(submission, appeal_id, utcnow())
    DOCUMENTS[appeal_id] = registration.document.to_document()
    return AppealClassified(
        **registration.event.model_dump(exclude={"event_id"}),
        classification=Classification(category=category, urgency="high", confidence=0.9, ruleset="test"),
    )


async def registered(store: Store, *events: AppealClassified) -> None:
    """The appeals as intake stored them."""
    await store.db[APPEALS].insert_many([dict(DOCUMENTS[event.appeal_id]) for event in events])


async def stored(store: Store, appeal_id: str) -> dict:
    return await store.db[APPEALS].find_one({"_id": appeal_id})


async def test_assignments_load_the_batch_and_apply_once_however_often_repeated(store):
    first, second, unknown = classified("1000001"), classified("1000002"), classified("1000777")
    await registered(store, first, second)
    repo = MongoAssignments(store)
    now = utcnow()
    batch = route_batch([first, second, unknown], ROUTING, now)

    snapshot = await repo.load(batch)
    assert set(snapshot.appeals) == {"1000001", "1000002"} and snapshot.open_incidents == {}
    decision = decide_assignments(batch, snapshot, ROUTING, now)
    assert [r.refusal.reason for r in decision.refusals] == ["unknown-appeal"]
    (incident,) = decision.writes.incidents
    assert incident.appeal_ids == ("1000001", "1000002")

    await repo.apply(decision.writes)
    after_first = await stored(store, "1000001")
    incident_after_first = await store.db[INCIDENTS].find_one({"_id": incident.incident_id})
    await repo.apply(decision.writes)  # a redelivery after a crash before the commit

    assert await stored(store, "1000001") == after_first
    assert await store.db[INCIDENTS].find_one({"_id": incident.incident_id}) == incident_after_first
    assert [entry["status"] for entry in after_first["history"]] == ["registered", "classified", "assigned"]
    assert after_first["assignment"]["incident_id"] == incident.incident_id
    assert await store.db[APPEALS].find_one({"_id": "1000777"}) is None

    # Read again, the same batch is a redelivery: nothing to write, the stored assignment published.
    again = decide_assignments(batch, await repo.load(batch), ROUTING, utcnow())
    assert again.writes == AssignmentWrites([], [])
    assert [a.assignment.incident_id for a in again.events.assigned] == [incident.incident_id] * 2
    assert [t.appeal_id for t in again.events.tasks] == ["1000001"]  # the second joined the first's incident


async def test_assignments_load_the_latest_open_incident_of_each_place(store):
    event = classified("1000001")
    await registered(store, event)
    repo = MongoAssignments(store)
    now = utcnow()
    batch = route_batch([event], ROUTING, now)
    opened = decide_assignments(batch, await repo.load(batch), ROUTING, now).writes.incidents[0]
    older = replace(opened, incident_id="inc-older", last_at=now - timedelta(hours=1))
    closed = replace(opened, incident_id="inc-closed", status="resolved")
    await store.db[INCIDENTS].bulk_write([incident_upsert(i) for i in (opened, older, closed)])

    loaded = (await repo.load(batch)).open_incidents

    assert list(loaded) == [opened.key] and loaded[opened.key].incident_id == opened.incident_id
    assert loaded[opened.key] == opened


async def test_an_incident_grows_additively_on_the_store(store):
    events = [classified(f"100000{i}") for i in (1, 2, 3)]
    await registered(store, *events)
    repo = MongoAssignments(store)
    now = utcnow()
    first, other = route_batch(events[:2], ROUTING, now), route_batch([events[0], events[2]], ROUTING, now)
    # Two instances decide on the same place, each without seeing the other's appeal.
    decisions = [decide_assignments(batch, await repo.load(batch), ROUTING, now) for batch in (first, other)]
    for decision in decisions:
        await repo.apply(decision.writes)

    incident = await store.db[INCIDENTS].find_one({"_id": "inc-1000001"})
    assert sorted(incident["appeal_ids"]) == ["1000001", "1000002", "1000003"]


async def assigned_on_store(store: Store, *events: AppealClassified) -> None:
    repo = MongoAssignments(store)
    now = utcnow()
    batch = route_batch(list(events), ROUTING, now)
    await repo.apply(decide_assignments(batch, await repo.load(batch), ROUTING, now).writes)


def report(appeal_id: str, status: str, department: str = "lift_service") -> DepartmentUpdate:
    return DepartmentUpdate(appeal_id=appeal_id, department=department, status=status, comment="")


async def test_reports_load_the_appeals_their_incidents_and_the_incidents_other_appeals(store):
    events = [classified("1000001"), classified("1000002"), classified("1000003", "water_supply", None)]
    await registered(store, *events)
    await assigned_on_store(store, *events)
    repo = MongoReports(store)

    snapshot = await repo.load([report("1000002", "accepted"), report("1000777", "accepted")])

    assert set(snapshot.appeals) == {"1000001", "1000002"}  # the reported one and its incident's other appeal
    assert list(snapshot.incidents) == ["inc-1000001"]
    assert snapshot.appeals["1000001"].as_assigned().assignment.department == "lift_service"


async def test_reports_apply_once_and_close_only_open_incidents(store):
    events = [classified("1000001"), classified("1000002")]
    await registered(store, *events)
    await assigned_on_store(store, *events)
    repo = MongoReports(store)
    updates = [report("1000001", "accepted"), report("1000001", "resolved")]
    now = utcnow()

    decision = decide_reports(updates, await repo.load(updates), ROUTING, now)
    assert [(c.appeal_id, c.status) for c in decision.writes.changes] == [
        ("1000001", "accepted"),
        ("1000001", "resolved"),
        ("1000002", "accepted"),
        ("1000002", "resolved"),
    ]
    await repo.apply(decision.writes)
    first = {appeal_id: await stored(store, appeal_id) for appeal_id in ("1000001", "1000002")}
    await repo.apply(decision.writes)
    # Closing again under another status: an incident closed once stays as it was closed.
    await repo.apply(ReportWrites([], {"rejected": ["inc-1000001"]}, now + timedelta(hours=1)))

    assert {appeal_id: await stored(store, appeal_id) for appeal_id in first} == first
    assert [e["status"] for e in first["1000002"]["history"]] == [
        "registered",
        "classified",
        "assigned",
        "accepted",
        "resolved",
    ]
    incident = await store.db[INCIDENTS].find_one({"_id": "inc-1000001"})
    assert incident["status"] == "resolved"
    # Judged again on what the store now holds, the same reports change nothing and are announced again.
    again = decide_reports(updates, await repo.load(updates), ROUTING, utcnow())
    assert again.writes.changes == [] and again.refusals == []
    assert len(again.events.statuses) == 4


async def test_overdue_loads_open_appeals_past_due_and_marks_each_once_per_due_time(store):
    events = [
        classified("1000001", "gas", None),
        classified("1000002", "gas", None),
        classified("1000003", "gas", None),
    ]
    await registered(store, *events)
    await assigned_on_store(store, *events)
    past = utcnow() - timedelta(hours=1)
    await store.db[APPEALS].update_many({"_id": {"$in": ["1000001", "1000002"]}}, {"$set": {"assignment.due_at": past}})
    await store.db[APPEALS].update_one({"_id": "1000002"}, {"$set": {"status": "resolved"}})
    repo = MongoOverdue(store)

    due = await repo.load(utcnow(), 100)

    assert [appeal.appeal_id for appeal in due] == ["1000001"]
    event = escalation(due[0], utcnow())
    # The due time moved meanwhile (a reroute with a new one): the mark does not apply to it.
    await store.db[APPEALS].update_one({"_id": "1000001"}, {"$set": {"assignment.due_at": past - timedelta(days=1)}})
    await repo.apply([event])
    assert "escalated_due_at" not in await stored(store, "1000001")
    await store.db[APPEALS].update_one({"_id": "1000001"}, {"$set": {"assignment.due_at": event.due_at}})
    await repo.apply([event])
    await repo.apply([event])
    marked = await repo.load(utcnow(), 100)
    assert marked[0].escalated_due_at == event.due_at and escalation(marked[0], utcnow()) is None


async def test_the_triage_desk_reads_appeals_and_pages_of_those_waiting(store):
    events = [classified(f"100000{i}", "unclassified", None) for i in (1, 2, 3)] + [classified("1000004", "gas", None)]
    await registered(store, *events)
    await assigned_on_store(store, *events)
    desk = MongoTriageDesk(store)

    loaded = await desk.load_appeals(["1000001", "1000777"])
    first = await desk.triage_page(2, None)
    second = await desk.triage_page(2, first[-1]["_id"])

    assert list(loaded) == ["1000001"] and loaded["1000001"].status == "triage"
    assert [d["_id"] for d in first] == ["1000001", "1000002"] and [d["_id"] for d in second] == ["1000003"]
