"""The console's queues in memory: placed from stored documents and the dispatcher's events, ordered, counted, moved
only by what is newer, taken out at once by the console's own actions, and reconciled with a scan of the store."""

from datetime import UTC, datetime, timedelta

import pytest

from services.console.queues import (
    TRIAGE,
    Move,
    Placement,
    QueueBook,
    moves_of_assigned,
    moves_of_documents,
    moves_of_statuses,
    placement_of_document,
)
from shared.contracts.classifier import Classification
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged, Assignment

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def document(appeal_id: str, status: str, department: str = "kyivgaz", *, received: float, due: float, version: float):
    return {
        "_id": appeal_id,
        "status": status,
        "received_at": at(received),
        "updated_at": at(version),
        "assignment": {"department": department, "due_at": at(due)},
    }


def triage(appeal_id: str, received: float, version: float = 0) -> Move:
    placement = Placement(TRIAGE, "contact_center", naive(at(received)), naive(at(received + 60)))
    return Move(appeal_id, naive(at(version)), placement)


def task(appeal_id: str, department: str, due: float, version: float = 0) -> Move:
    return Move(appeal_id, naive(at(version)), Placement(department, department, naive(at(-100)), naive(at(due))))


def closed(appeal_id: str, version: float) -> Move:
    return Move(appeal_id, naive(at(version)), None)


@pytest.mark.parametrize(
    ("status", "department", "queue"),
    [
        ("triage", "contact_center", TRIAGE),
        ("assigned", "kyivgaz", "kyivgaz"),
        ("accepted", "kyivgaz", "kyivgaz"),
        ("in_progress", "kyivgaz", "kyivgaz"),
        ("resolved", "kyivgaz", None),
        ("rejected", "kyivgaz", None),
        ("classified", "", None),
        ("assigned", "", None),
    ],
)
def test_a_stored_appeal_waits_where_its_status_says(status, department, queue):
    placement = placement_of_document(document("1000001", status, department, received=0, due=5, version=1))
    assert (placement.queue if placement else None) == queue


def test_triage_serves_the_oldest_first_and_a_department_the_soonest_due():
    book = QueueBook()
    book.apply([triage("1000003", received=30), triage("1000001", received=10), triage("1000002", received=20)])
    book.apply(
        [task("2000001", "kyivgaz", due=90), task("2000002", "kyivgaz", due=-5), task("2000003", "vodokanal", 1)]
    )
    assert book.page(TRIAGE, 2) == ["1000001", "1000002"] and book.count(TRIAGE) == 3
    assert book.page("kyivgaz", 50) == ["2000002", "2000001"] and book.count("kyivgaz") == 2
    assert book.page("nobody", 50) == [] and book.count("nobody") == 0


def test_an_older_move_never_undoes_a_newer_one_whatever_the_order_they_come_in():
    in_order, reversed_order = QueueBook(), QueueBook()
    moves = [
        triage("1000001", received=0, version=1),
        task("1000001", "kyivgaz", due=60, version=2),
        closed("1000001", 3),
    ]
    in_order.apply(moves)
    reversed_order.apply(reversed(moves))
    for book in (in_order, reversed_order):
        assert book.placement("1000001") is None
        assert book.count(TRIAGE) == 0 and book.count("kyivgaz") == 0
    reversed_order.apply([task("1000001", "kyivgaz", due=60, version=2)])  # a redelivery
    assert reversed_order.count("kyivgaz") == 0


def test_a_move_to_another_queue_leaves_the_first():
    book = QueueBook()
    book.apply([task("1000001", "kyivgaz", due=60, version=1)])
    assert book.apply([triage("1000001", received=0, version=2)]) == 1  # sent back as misrouted
    assert book.page(TRIAGE, 5) == ["1000001"] and book.count("kyivgaz") == 0
    assert book.apply([triage("1000001", received=0, version=2)]) == 0  # the same again changes nothing


def test_the_consoles_own_action_takes_it_out_at_once_and_the_confirming_event_still_applies():
    book = QueueBook()
    book.apply([triage("1000001", received=0, version=1), triage("1000002", received=1, version=1)])
    assert book.leave("1000001", TRIAGE) is True
    assert book.page(TRIAGE, 5) == ["1000002"]
    book.apply([task("1000001", "kyivgaz", due=60, version=2)])  # the dispatcher's appeals.assigned
    assert book.page("kyivgaz", 5) == ["1000001"]
    # The event came before the redirect: the appeal is at its department, and leaving triage does not undo that.
    assert book.leave("1000001", TRIAGE) is False and book.page("kyivgaz", 5) == ["1000001"]


def test_events_become_moves_assignments_place_closing_reports_take_out_others_are_left():
    assignment = Assignment(
        department="kyivgaz", department_name="Київгаз", due_at=at(120), outcome="assigned", reason="routing"
    )
    assigned = AppealAssigned(
        appeal_id="1000001",
        occurred_at=at(5),
        channel="web",
        text="Пахне газом",
        received_at=at(0),
        registered_at=at(0),
        classification=Classification(category="gas_smell", urgency="critical", confidence=0.9),
        assignment=assignment,
    )
    to_triage = assigned.model_copy(
        update={"appeal_id": "1000002", "assignment": assignment.model_copy(update={"outcome": "triage"})}
    )
    (placed, waiting) = moves_of_assigned([assigned, to_triage])
    assert placed.placement.queue == "kyivgaz" and placed.version == naive(at(5))
    assert placed.placement.due_at == naive(at(120)) and placed.placement.received_at == naive(at(0))
    assert waiting.placement.queue == TRIAGE

    def status(value: str) -> AppealStatusChanged:
        return AppealStatusChanged(
            appeal_id="1000001",
            occurred_at=at(9),
            status=value,
            department="kyivgaz",
            department_name="К",
            category="gas_smell",
        )

    moves = moves_of_statuses(
        [status(value) for value in ("accepted", "in_progress", "resolved", "rejected", "rerouted")]
    )
    assert [(move.appeal_id, move.placement) for move in moves] == [("1000001", None), ("1000001", None)]


def test_reconciliation_adds_what_was_missed_and_removes_what_closed_unless_heard_of_after_the_scan_began():
    book = QueueBook()
    assert not book.built
    book.apply([triage("1000001", received=0, version=1), triage("1000002", received=1, version=1)])
    book.apply([task("1000003", "kyivgaz", due=60, version=20)])  # heard of while the scan ran
    scanned = moves_of_documents(
        [
            document("1000002", "triage", "contact_center", received=1, due=61, version=1),
            document("1000004", "accepted", received=2, due=30, version=4),  # its event was missed
        ]
    )
    book.reconcile(scanned, scan_started=at(10))
    assert book.built
    assert book.page(TRIAGE, 5) == ["1000002"]  # 1000001 closed before the scan: the store no longer has it open
    assert book.page("kyivgaz", 5) == ["1000004", "1000003"]


def test_open_and_overdue_by_department_and_the_longest_overdue_first():
    book = QueueBook()
    book.apply(
        [
            task("2000001", "kyivgaz", due=-30),
            task("2000002", "kyivgaz", due=-10),
            task("2000003", "kyivgaz", due=40),
            task("2000004", "vodokanal", due=-20),
            triage("1000001", received=-200),  # due 60 minutes after it came in: overdue by 140
        ]
    )
    now = at(0)
    assert book.open_by_department(now) == {"kyivgaz": (3, 2), "vodokanal": (1, 1), "contact_center": (1, 1)}
    assert book.overdue(now, 3) == ["1000001", "2000001", "2000004"]
    assert book.overdue(now, 10) == ["1000001", "2000001", "2000004", "2000002"]
