"""The boards' pure pieces: why an appeal waits in triage, the reports offered in each status, the department lines
from the store's groupings, the CSV rows of the supervisor board, a department report as the dispatcher reads it."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.console.boards import SupervisorBoard, department_lines, triage_reason
from services.console.department_updates import department_update
from services.console.repository import AppealSummary
from services.console.routes.department import allowed_actions, own_department
from services.console.routes.supervisor import board_rows, kyiv_day_start
from shared.contracts.departments import DepartmentUpdate

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"classification": {"category": "unclassified"}, "assignment": {"reason": "needs a person"}}, "unclassified"),
        (
            {"classification": {"category": "gas"}, "assignment": {"reason": "misrouted by kyivgaz: не наше"}},
            "misrouted",
        ),
        (
            {"classification": {"category": "snow_ice"}, "assignment": {"reason": "the district is unknown"}},
            "no_district",
        ),
        ({}, "unclassified"),
    ],
)
def test_why_an_appeal_waits_in_triage(document, reason):
    assert triage_reason(document)[0] == reason


def test_only_the_reports_the_dispatcher_accepts_are_offered():
    assert allowed_actions("assigned") == ["accept", "in_progress", "resolve", "reject", "misrouted"]
    assert allowed_actions("accepted") == ["in_progress", "resolve", "reject", "misrouted"]
    assert allowed_actions("resolved") == [] and allowed_actions("triage") == []


def test_department_lines_join_the_groupings_most_overdue_first():
    lines = department_lines(
        [{"_id": "kyivgaz", "open": 3, "overdue": 1}, {"_id": "kyivvodokanal", "open": 5, "overdue": 4}, {"_id": None}],
        [{"_id": "kyivgaz", "closed": 4, "on_time": 3}, {"_id": "kyivavtodor", "closed": 2, "on_time": 0}],
    )
    assert [(line.department, line.open, line.overdue, line.closed) for line in lines] == [
        ("kyivvodokanal", 5, 4, 0),
        ("kyivgaz", 3, 1, 4),
        ("kyivavtodor", 0, 0, 2),
    ]
    assert lines[1].on_time_share == 0.75 and lines[0].on_time_share is None and lines[2].on_time_share == 0


def test_the_csv_has_one_row_per_figure_shown(taxonomy):
    late = AppealSummary(
        appeal_id="1000001",
        status="accepted",
        channel="phone",
        received_at=NOW,
        text="x",
        department="kyivgaz",
        due_at=NOW,
    )
    board = SupervisorBoard(
        day_start=kyiv_day_start(NOW),
        intake_by_channel={"phone": 3, "web": 1},
        unclassified_today=1,
        departments=department_lines([{"_id": "kyivgaz", "open": 2, "overdue": 1}], []),
        overdue=[late],
        incidents=[],
        open_incidents=0,
        on_time_since=NOW,
    )
    rows = list(board_rows(board, taxonomy))
    assert ("intake_today", "", "", "total", 4) in rows
    assert ("intake_today", "unclassified", "", "share", "0.250") in rows
    assert ("departments", "kyivgaz", "ПрАТ «Київгаз»", "overdue", 1) in rows
    assert ("departments", "kyivgaz", "ПрАТ «Київгаз»", "on_time_share", "") in rows
    assert ("overdue", "1000001", "kyivgaz", "due_at", NOW.isoformat()) in rows
    assert kyiv_day_start(NOW).isoformat() == "2026-01-15T00:00:00+02:00"


def test_a_report_is_the_departments_event_and_the_same_form_is_the_same_event():
    made = {
        "appeal_id": "1000001",
        "department": "kyivgaz",
        "status": "resolved",
        "comment": "Витік усунено",
        "suggested_department": None,
        "form_key": "form-key-1234",
        "user": "olena",
        "correlation_id": "",
    }
    update = department_update(**made)
    assert DepartmentUpdate.model_validate(update.model_dump(mode="json")) == update
    assert update.event_id == department_update(**made).event_id
    assert update.event_id != department_update(**{**made, "form_key": "form-key-5678"}).event_id
    assert update.correlation_id == "console:olena:form-key-1234"
    with pytest.raises(ValidationError) as error:
        department_update(**{**made, "comment": "x" * 2001})
    assert error.value.errors()[0]["loc"] == ("comment",)


def test_department_staff_see_only_their_department():
    from fastapi import HTTPException

    from services.console.repository import UserDoc

    def user(role, department=None):
        return UserDoc(
            _id="someone", role=role, department=department, password_hash="x", created_at=NOW, password_changed_at=NOW
        )

    assert own_department(user("department", "kyivgaz"), None) == "kyivgaz"
    with pytest.raises(HTTPException) as refused:
        own_department(user("department", "kyivgaz"), "kyivvodokanal")
    assert refused.value.status_code == 403
    assert own_department(user("supervisor"), "kyivvodokanal") == "kyivvodokanal"
    assert own_department(user("supervisor"), None) is None
