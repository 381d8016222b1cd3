"""services/dispatcher: judging departments' reports (domain.py) and writing them onto the appeal (repository.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import UpdateOne

from services.classifier.domain import classify
from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain import (
    ALLOWED_FROM,
    Refusal,
    StatusChange,
    judge_update,
    rerouted_event_id,
    route,
)
from services.dispatcher.domain.reports import ReportWrites
from services.dispatcher.repository import MongoReports, MongoTriageDesk, assignment_update, status_update
from services.intake.domain import register
from shared.appeals import HistoryEntry, as_operation
from shared.contracts.base import derived_event_id
from shared.contracts.intake import AppealSubmitted
from shared.store import APPEALS, INCIDENTS
from tests.unit.fakes import (
    NOW,
    RECEIVED,
    apply_stage_update,
    classified_event,
    department_update,
    registered_document,
    registered_event,
    submission_payload,
)

LATER = NOW + timedelta(hours=2)
REPORTED = ("accepted", "in_progress", "resolved", "rejected", "misrouted")
# Every status an appeal document can hold (docs/architecture.md, "Storage"; docs/execution-control.md).
CURRENT = (
    "registered",
    "classified",
    "assigned",
    "triage",
    "accepted",
    "in_progress",
    "resolved",
    "rejected",
    "reopened",
    "waiting_for_resident",
    "closed",
    "disputed",
)
HELD = {"assigned", "accepted", "in_progress", "reopened", "waiting_for_resident"}
# The lifecycle as specified, written out here rather than read from the code under test.
EXPECTED_ALLOWED = {
    "accepted": {"assigned", "reopened"},
    "in_progress": HELD,
    "resolved": HELD,
    "rejected": HELD,
    "misrouted": HELD,
    "extension_requested": HELD,
    "waiting_for_resident": {"assigned", "accepted", "in_progress", "reopened"},
}
PAIRS = [(reported, current) for reported in REPORTED for current in CURRENT]


def heating(routing, **kwargs):
    """An appeal the dispatcher assigned to Kyivteploenergo."""
    return route(classified_event("heating", "high", **kwargs), routing, NOW).assigned


def snow_in_podil(routing):
    """A district-scoped appeal: assigned to the Podilskyi district administration, with a district and due time."""
    return route(classified_event("snow_ice", "critical", district="podilskyi"), routing, NOW).assigned


# --- judge_update: the lifecycle table ----------------------------------------------------------


def test_the_lifecycle_table_is_as_specified():
    assert {status: set(allowed) for status, allowed in ALLOWED_FROM.items()} == EXPECTED_ALLOWED


@pytest.mark.parametrize(("reported", "current"), PAIRS, ids=[f"{c}->{r}" for r, c in PAIRS])
def test_every_report_against_every_current_status(routing, reported, current):
    appeal = heating(routing)
    update = department_update(reported, comment="бригада на місці")

    verdict = judge_update(update, appeal, current, frozenset(), routing, LATER)

    if current not in EXPECTED_ALLOWED[reported]:
        assert verdict == Refusal("rejected-transition", f"appeal 1000001 is {current}: it cannot become {reported}"), (
            verdict
        )
        assert f"cannot become {reported}" in verdict.detail
        return
    assert isinstance(verdict, StatusChange)
    assert (verdict.appeal_id, verdict.at, verdict.event_id, verdict.by) == (
        "1000001",
        LATER,
        str(update.event_id),
        "kyivteploenergo",
    )
    if reported == "misrouted":
        # No suggestion: the contact center decides.
        assert (verdict.status, verdict.reroute.assignment.department) == ("triage", "contact_center")
        assert "бригада на місці" in verdict.note
    else:
        assert verdict.status == reported
        assert verdict.note == "бригада на місці"
        assert verdict.reroute is None


def test_a_report_without_a_comment_has_an_empty_note(routing):
    verdict = judge_update(department_update("accepted"), heating(routing), "assigned", frozenset(), routing, LATER)

    assert verdict == StatusChange(
        "1000001", "accepted", LATER, str(department_update("accepted").event_id), "kyivteploenergo", ""
    )


# --- judge_update: who may report, and what was seen before ---------------------------------------


@pytest.mark.parametrize("status", REPORTED)
def test_a_report_from_a_department_the_appeal_is_not_assigned_to_is_refused(routing, status):
    update = department_update(status, department="kyivvodokanal", suggested="kyivgaz")

    verdict = judge_update(update, heating(routing), "assigned", frozenset(), routing, LATER)

    assert isinstance(verdict, Refusal)
    assert verdict.reason == "rejected-transition"
    assert "kyivteploenergo" in verdict.detail and "kyivvodokanal" in verdict.detail
    assert verdict.detail == "appeal 1000001 is assigned to kyivteploenergo, not to kyivvodokanal"


def test_the_department_is_checked_before_the_status(routing):
    # Another department reports on a resolved appeal: the refusal names the departments, not the status.
    update = department_update("accepted", department="kyivgaz")

    verdict = judge_update(update, heating(routing), "resolved", frozenset(), routing, LATER)

    assert verdict == Refusal("rejected-transition", "appeal 1000001 is assigned to kyivteploenergo, not to kyivgaz")


@pytest.mark.parametrize("seen", [False, True], ids=["new-report", "report-id-seen-before"])
def test_a_report_on_an_appeal_never_assigned_is_refused_as_unknown(routing, seen):
    update = department_update("accepted", appeal_id="1000777")
    applied = frozenset({str(update.event_id)} if seen else ())

    verdict = judge_update(update, None, "", applied, routing, LATER)

    assert verdict == Refusal("unknown-appeal", "no appeal 1000777 has been assigned")


@pytest.mark.parametrize("current", CURRENT)
@pytest.mark.parametrize("status", REPORTED)
def test_a_report_applied_before_is_none_whatever_the_appeal_is_now(routing, status, current):
    update = department_update(status, suggested="kyivvodokanal")
    applied = frozenset({"another", str(update.event_id)})

    # Even once the appeal moved on (or away to another department), a redelivery is not refused.
    assert judge_update(update, heating(routing), current, applied, routing, LATER) is None
    moved = heating(routing).model_copy(
        update={"assignment": heating(routing).assignment.model_copy(update={"department": "kyivvodokanal"})}
    )
    assert judge_update(update, moved, current, applied, routing, LATER) is None


def test_an_applied_set_without_the_event_id_does_not_stop_the_report(routing):
    update = department_update("accepted")
    applied = frozenset({str(department_update("accepted", number=2).event_id), str(heating(routing).event_id)})

    verdict = judge_update(update, heating(routing), "assigned", applied, routing, LATER)

    assert isinstance(verdict, StatusChange) and verdict.status == "accepted"


# --- judge_update: misrouted ---------------------------------------------------------------------


def test_misrouted_with_a_known_suggestion_goes_to_the_suggested_department(routing, taxonomy):
    appeal = heating(routing)
    update = department_update("misrouted", comment="це водопостачання", suggested="kyivvodokanal")

    verdict = judge_update(update, appeal, "accepted", frozenset(), routing, LATER)

    assert isinstance(verdict, StatusChange)
    assert (verdict.status, verdict.by, verdict.event_id, verdict.at) == (
        "assigned",
        "kyivteploenergo",
        str(update.event_id),
        LATER,
    )
    assignment = verdict.reroute.assignment
    assert (assignment.department, assignment.outcome) == ("kyivvodokanal", "assigned")
    assert assignment.department_name == taxonomy.department_name("kyivvodokanal")
    assert (
        assignment.reason == "misrouted by kyivteploenergo: це водопостачання; rerouted to kyivvodokanal as suggested"
    )
    assert verdict.note == assignment.reason


@pytest.mark.parametrize(
    ("suggested", "mentioned"),
    [("nasa", "unknown suggestion nasa"), ("kyivteploenergo", "kyivteploenergo"), (None, None)],
    ids=["unknown-suggestion", "the-reporter-itself", "no-suggestion"],
)
def test_misrouted_without_a_usable_suggestion_goes_to_the_contact_center_for_triage(
    routing, taxonomy, suggested, mentioned
):
    update = department_update("misrouted", suggested=suggested)

    verdict = judge_update(update, heating(routing), "in_progress", frozenset(), routing, LATER)

    assert isinstance(verdict, StatusChange)
    assert verdict.status == "triage"
    assignment = verdict.reroute.assignment
    assert (assignment.department, assignment.outcome) == ("contact_center", "triage")
    assert assignment.department_name == taxonomy.department_name("contact_center")
    assert assignment.reason.startswith("misrouted by kyivteploenergo; the contact center decides")
    if mentioned:
        assert mentioned in assignment.reason.removeprefix("misrouted by kyivteploenergo")
    else:
        assert assignment.reason == "misrouted by kyivteploenergo; the contact center decides"
    assert "rerouted to" not in assignment.reason


def test_misrouted_may_suggest_the_contact_center_itself(routing):
    update = department_update("misrouted", suggested="contact_center")

    verdict = judge_update(update, heating(routing), "assigned", frozenset(), routing, LATER)

    assert verdict.status == "assigned"
    assert (verdict.reroute.assignment.department, verdict.reroute.assignment.outcome) == ("contact_center", "assigned")


@pytest.mark.parametrize("suggested", ["housing_podilskyi", None], ids=["to-a-department", "to-triage"])
def test_a_reroute_keeps_the_district_and_the_due_time_and_the_appeal_itself(routing, suggested):
    appeal = snow_in_podil(routing)
    assert (appeal.assignment.department, appeal.assignment.district) == ("rda_podilskyi", "podilskyi")
    update = department_update("misrouted", department="rda_podilskyi", suggested=suggested)

    reroute = judge_update(update, appeal, "assigned", frozenset(), routing, LATER).reroute

    assert reroute.assignment.district == "podilskyi"
    assert reroute.assignment.due_at == appeal.assignment.due_at == NOW + timedelta(hours=24)
    assert reroute.assignment.department == (suggested or "contact_center")
    assert reroute.occurred_at == LATER
    # Everything but the event id, the time and the assignment is the appeal as it was assigned.
    assert reroute.model_dump(exclude={"event_id", "occurred_at", "assignment"}) == appeal.model_dump(
        exclude={"event_id", "occurred_at", "assignment"}
    )


def test_a_reroute_has_a_deterministic_event_id(routing):
    update = department_update("misrouted", suggested="kyivvodokanal")

    first = judge_update(update, heating(routing), "assigned", frozenset(), routing, LATER)
    again = judge_update(update, heating(routing), "assigned", frozenset(), routing, LATER)
    other = judge_update(
        department_update("misrouted", number=2), heating(routing), "assigned", frozenset(), routing, LATER
    )

    assert first == again
    assert first.reroute.event_id == rerouted_event_id(update) == derived_event_id("rerouted", update.event_id)
    # The history entry keeps the report's own id; the announced reroute has its derived one.
    assert first.event_id == str(update.event_id) != str(first.reroute.event_id)
    assert other.reroute.event_id != first.reroute.event_id


# --- AppealDoc.as_assigned --------------------------------------------------------------------


def stored_appeal(rules, routing, text: str = "Сильний запах газу в під'їзді", **payload):
    """The appeal document as intake, then the dispatcher, write it, and the AppealAssigned the dispatcher published."""
    submission = AppealSubmitted.model_validate(submission_payload(text=text, **payload))
    registration = register(submission, "1000042", RECEIVED + timedelta(seconds=5))
    classified = classify(registration.event, rules, NOW - timedelta(seconds=3))
    assigned = route(classified, routing, NOW).assigned
    documents = {"1000042": registration.document.to_document()}
    assert apply_stage_update(documents, assignment_update(assigned))
    return documents["1000042"], assigned


def as_assigned(document: dict):
    return AppealDoc.model_validate(document).as_assigned()


def test_the_fake_registered_document_has_the_shape_intake_stores():
    submission = AppealSubmitted.model_validate(submission_payload())
    intake = register(submission, "1000001", NOW).document.to_document()

    assert set(registered_document(registered_event()).keys()) == set(intake.keys())


def test_an_assigned_appeal_is_rebuilt_from_its_document(rules, routing):
    document, assigned = stored_appeal(rules, routing)
    assert (document["status"], document["assignment"]["department"]) == ("assigned", "kyivgaz")

    rebuilt = as_assigned(document)

    assert rebuilt == assigned
    assert rebuilt.contact is not None and rebuilt.contact == assigned.contact


def test_a_triaged_appeal_without_contact_or_address_is_rebuilt_from_its_document(rules, routing):
    document, assigned = stored_appeal(rules, routing, text="Просто текст без сенсу", contact=None, address=None)
    assert document["status"] == "triage" and document["contact"] is None and document["correlation_id"]

    assert as_assigned(document) == assigned


def test_reports_after_the_assignment_do_not_change_the_appeal_as_last_assigned(rules, routing):
    document, assigned = stored_appeal(rules, routing)
    reports = [
        StatusChange("1000042", "accepted", LATER, "r1", "kyivgaz", ""),
        StatusChange("1000042", "in_progress", LATER, "r2", "kyivgaz", "їдемо"),
    ]
    assert apply_stage_update({"1000042": document}, status_update(reports))
    assert document["status"] == "in_progress"

    assert as_assigned(document) == assigned


def test_after_a_reroute_the_document_gives_the_new_assignment(rules, routing):
    document, assigned = stored_appeal(rules, routing)
    update = department_update("misrouted", appeal_id="1000042", department="kyivgaz", suggested="kyivvodokanal")
    change = judge_update(update, assigned, "assigned", frozenset(), routing, LATER)
    assert apply_stage_update({"1000042": document}, status_update([change]))

    rebuilt = as_assigned(document)

    assert rebuilt.assignment == change.reroute.assignment
    assert rebuilt.occurred_at == LATER
    assert rebuilt.model_dump(exclude={"event_id", "occurred_at", "assignment"}) == assigned.model_dump(
        exclude={"event_id", "occurred_at", "assignment"}
    )


# --- status_update: one appeal's changes of a batch in one update ----------------------------------


def test_status_update_merges_an_appeals_reports_in_order():
    changes = [
        StatusChange("1000001", "accepted", NOW, "e1", "kyivgaz", ""),
        StatusChange("1000001", "in_progress", NOW + timedelta(minutes=5), "e2", "kyivgaz", "виїхали"),
        StatusChange("1000001", "resolved", LATER, "e3", "kyivgaz", "готово"),
    ]

    update = status_update(changes)

    assert update.appeal_id == "1000001"
    assert update.fields == {}
    assert update.entries == (
        HistoryEntry("accepted", NOW, "e1", "kyivgaz", ""),
        HistoryEntry("in_progress", NOW + timedelta(minutes=5), "e2", "kyivgaz", "виїхали"),
        HistoryEntry("resolved", LATER, "e3", "kyivgaz", "готово"),
    )
    assert update.event_id == "e3"
    assert as_operation(update) == UpdateOne(
        {"_id": "1000001", "history.event_id": {"$ne": "e3"}},
        {
            "$set": {"status": "resolved", "updated_at": LATER},
            "$push": {"history": {"$each": [entry.document() for entry in update.entries]}},
        },
    )


def test_status_update_sets_the_assignment_of_the_last_reroute(routing):
    appeal = heating(routing)
    first = judge_update(
        department_update("misrouted", suggested="kyivvodokanal"), appeal, "assigned", frozenset(), routing, NOW
    )
    accepted = judge_update(
        department_update("accepted", department="kyivvodokanal"),
        first.reroute,
        first.status,
        frozenset({first.event_id}),
        routing,
        NOW + timedelta(minutes=1),
    )
    second = judge_update(
        department_update("misrouted", department="kyivvodokanal", suggested="kyivgaz"),
        first.reroute,
        accepted.status,
        frozenset({first.event_id, accepted.event_id}),
        routing,
        LATER,
    )

    update = status_update([first, accepted, second])

    assert update.fields == {"assignment": second.reroute.assignment.model_dump(mode="python")}
    assert update.fields["assignment"]["department"] == "kyivgaz"
    assert [(e.status, e.by, e.event_id) for e in update.entries] == [
        ("assigned", "kyivteploenergo", first.event_id),
        ("accepted", "kyivvodokanal", accepted.event_id),
        ("assigned", "kyivvodokanal", second.event_id),
    ]
    assert update.entries[0].note == first.reroute.assignment.reason
    assert update.event_id == second.event_id


def test_a_reroute_followed_by_a_report_still_sets_the_assignment(routing):
    reroute = judge_update(
        department_update("misrouted"), heating(routing), "assigned", frozenset(), routing, NOW
    )  # to triage
    later = StatusChange("1000001", "resolved", LATER, "e9", "contact_center", "")

    update = status_update([reroute, later])

    assert update.fields["assignment"]["department"] == "contact_center"
    assert [entry.status for entry in update.entries] == ["triage", "resolved"]


# --- the dispatcher's repositories, on a recording stand-in for the collection -------------------------


class _Result:
    def __init__(self, matched_count: int) -> None:
        self.matched_count = matched_count


class _Cursor:
    def __init__(self, documents: list[dict]) -> None:
        self.documents = documents

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        for document in self.documents:
            yield document


class _Collection:
    def __init__(self, documents: list[dict]) -> None:
        self.documents = documents
        self.writes: list[tuple[list, bool]] = []
        self.finds: list[tuple] = []

    async def bulk_write(self, operations, ordered=True):
        self.writes.append((operations, ordered))
        return _Result(len(operations))

    def find(self, *args, **kwargs):
        self.finds.append(args)
        return _Cursor(self.documents)


class _Store:
    def __init__(self, documents: list[dict] | None = None) -> None:
        self.collections = {APPEALS: _Collection(documents or []), INCIDENTS: _Collection([])}

    @property
    def db(self):
        return self.collections


async def test_applying_reports_writes_one_merged_update_per_appeal():
    store = _Store()
    at = datetime(2026, 2, 1, tzinfo=UTC)
    changes = [
        StatusChange("1000001", "accepted", at, "a1", "kyivgaz", ""),
        StatusChange("1000002", "rejected", at, "b1", "kyivgaz", "не наше"),
        StatusChange("1000001", "resolved", at, "a2", "kyivgaz", ""),
    ]

    await MongoReports(store).apply(ReportWrites(changes, {}, at))

    ((operations, ordered),) = store.db[APPEALS].writes
    assert ordered is False
    assert operations == [
        as_operation(status_update([changes[0], changes[2]])),
        as_operation(status_update([changes[1]])),
    ]


async def test_applying_no_reports_writes_nothing():
    store = _Store()

    await MongoReports(store).apply(ReportWrites([], {}, NOW))

    assert store.db[APPEALS].writes == [] and store.db[INCIDENTS].writes == []


async def test_load_appeals_finds_the_documents_by_id():
    documents = [{"_id": "1000001", "status": "assigned"}, {"_id": "1000002", "status": "resolved"}]
    store = _Store(documents)

    loaded = await MongoTriageDesk(store).load_appeals(("1000001", "1000002", "1000003"))

    assert loaded == {document["_id"]: AppealDoc.model_validate(document) for document in documents}
    assert store.db[APPEALS].finds == [({"_id": {"$in": ["1000001", "1000002", "1000003"]}}, None)]
