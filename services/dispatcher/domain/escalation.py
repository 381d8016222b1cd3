"""Deadlines: open appeals past their due time, escalated once per due time and counted by department."""

from datetime import datetime

from services.dispatcher.domain.config import UNCLASSIFIED
from services.dispatcher.domain.reports import ACTIVE
from shared.contracts.base import derived_event_id
from shared.contracts.dispatcher import (
    AppealEscalated,
)

OPEN_STATUSES = ("triage", *ACTIVE)


def escalation(document: dict, now: datetime) -> AppealEscalated | None:
    """The escalation of an open appeal past its due time, once per due time (None: not due, or already escalated)."""
    assignment = document.get("assignment") or {}
    due_at = assignment.get("due_at")
    if document.get("status") not in OPEN_STATUSES or due_at is None or due_at >= now:
        return None
    if document.get("escalated_due_at") == due_at:
        return None
    classification = document.get("classification") or {}
    return AppealEscalated(
        event_id=derived_event_id("escalated", f"{document['_id']}:{due_at.isoformat()}"),
        occurred_at=now,
        correlation_id=document.get("correlation_id") or "",
        appeal_id=document["_id"],
        department=assignment["department"],
        department_name=assignment["department_name"],
        category=classification.get("category", UNCLASSIFIED),
        urgency=classification.get("urgency", "normal"),
        status=document["status"],
        district=assignment.get("district"),
        due_at=due_at,
        overdue_s=int((now - due_at).total_seconds()),
        incident_id=assignment.get("incident_id"),
    )


def overdue_by_department(documents: list[dict], now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    for document in documents:
        assignment = document.get("assignment") or {}
        if document.get("status") in OPEN_STATUSES and assignment.get("due_at") and assignment["due_at"] < now:
            counts[assignment["department"]] = counts.get(assignment["department"], 0) + 1
    return counts
