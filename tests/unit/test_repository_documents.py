"""The pure halves of the repositories: what each service asks the store to write."""

from datetime import timedelta

from pymongo import UpdateOne

from services.classifier.domain import classify
from services.classifier.repository import classification_document
from services.dispatcher.domain import route
from services.dispatcher.repository import assignment_update
from shared.appeals import as_operation
from tests.unit.fakes import NOW, classified_event, registered_event


def test_a_classification_is_kept_under_its_event_id(rules):
    decision = classify(registered_event("Сильний запах газу в під'їзді"), rules, NOW)

    document = classification_document(decision)

    assert document["_id"] == str(decision.event_id)
    assert document["appeal_id"] == "1000001"
    assert document["classification"]["category"] == "gas"
    assert document["classification"]["decision_id"] == str(decision.event_id)
    assert document["at"] == NOW
    assert document["correlation_id"] == decision.correlation_id


def test_the_dispatcher_writes_classification_and_assignment_once(routing, rules):
    decided_at = NOW - timedelta(seconds=3)
    classified = classify(registered_event("Сильний запах газу в під'їзді"), rules, decided_at)
    assigned = route(classified, routing, NOW).assigned

    update = assignment_update(assigned)
    operation = as_operation(update)

    assert update.appeal_id == "1000001"
    assert update.event_id == str(assigned.event_id)
    assert update.fields["classification"]["category"] == "gas"
    assert update.fields["assignment"]["department"] == "kyivgaz"
    assert [(e.status, e.event_id, e.by, e.at) for e in update.entries] == [
        ("classified", str(classified.event_id), "classifier", decided_at),
        ("assigned", str(assigned.event_id), "dispatcher", NOW),
    ]
    assert update.entries[-1].note == assigned.assignment.reason
    assert operation == UpdateOne(
        {"_id": "1000001", "history.event_id": {"$ne": str(assigned.event_id)}},
        {
            "$set": {**update.fields, "status": "assigned", "updated_at": NOW},
            "$push": {"history": {"$each": [entry.document() for entry in update.entries]}},
        },
    )


def test_a_triage_is_written_with_status_triage(routing):
    assigned = route(classified_event("unclassified"), routing, NOW).assigned

    assert assignment_update(assigned).entries[-1].status == "triage"
