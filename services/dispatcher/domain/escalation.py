"""Deadlines: open appeals past their due time, escalated once per due time and counted by department."""

from collections.abc import Sequence
from datetime import datetime

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain.config import UNCLASSIFIED
from services.dispatcher.domain.reports import ACTIVE
from shared.contracts.base import derived_event_id
from shared.contracts.dispatcher import (
    AppealEscalated,
)

OPEN_STATUSES = ("triage", *ACTIVE)


def escalation(appeal: AppealDoc, now: datetime) -> AppealEscalated | None:
    """The escalation of an open appeal past its due time, once per due time (None: not due, or already escalated)."""
    assignment = appeal.assignment
    if appeal.status not in OPEN_STATUSES or assignment is None or assignment.due_at >= now:
        return None
    if appeal.escalated_due_at == assignment.due_at:
        return None
    classification = appeal.classification
    return AppealEscalated(
        event_id=derived_event_id("escalated", f"{appeal.appeal_id}:{assignment.due_at.isoformat()}"),
        occurred_at=now,
        correlation_id=appeal.correlation_id or "",
        appeal_id=appeal.appeal_id,
        department=assignment.department,
        department_name=assignment.department_name,
        category=classification.category if classification else UNCLASSIFIED,
        urgency=classification.urgency if classification else "normal",
        status=appeal.status,
        district=assignment.district,
        due_at=assignment.due_at,
        overdue_s=int((now - assignment.due_at).total_seconds()),
        incident_id=assignment.incident_id,
    )


def overdue_by_department(appeals: Sequence[AppealDoc], now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    for appeal in appeals:
        assignment = appeal.assignment
        if appeal.status in OPEN_STATUSES and assignment is not None and assignment.due_at < now:
            counts[assignment.department] = counts.get(assignment.department, 0) + 1
    return counts
