"""What departments report: the appeal's state machine (which status may follow which), reroutes, and what residents
hear of each change."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.dispatcher.domain.config import CONTACT_CENTER, Routing
from shared.appeals import registration_fields
from shared.contracts.base import derived_event_id
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import (
    AppealAssigned,
    AppealStatusChanged,
    Assignment,
)

ACTIVE = ("assigned", "accepted", "in_progress")
# Which reported status may follow which appeal status.
ALLOWED_FROM = {
    "accepted": ("assigned",),
    "in_progress": ("assigned", "accepted", "in_progress"),
    "resolved": ACTIVE,
    "rejected": ACTIVE,
    "misrouted": ACTIVE,
}


@dataclass(frozen=True)
class StatusChange:
    """A department's report as it changes the appeal; `reroute` is set when the appeal leaves the department."""

    appeal_id: str
    status: str
    at: datetime
    event_id: str
    by: str
    note: str
    reroute: AppealAssigned | None = None
    # The department's report it came from, when that is not `event_id` (a change fanned out to an incident's appeal).
    caused_by: str = ""


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str


def judge_update(
    update: DepartmentUpdate,
    appeal: AppealAssigned | None,
    status: str,
    applied: frozenset[str],
    routing: Routing,
    now: datetime,
) -> StatusChange | Refusal | None:
    """What a department's report does to the appeal: a change, a refusal with its reason, or None when it was
    applied before. `appeal` is the appeal as last assigned, `status` its current status."""
    if appeal is None:
        return Refusal("unknown-appeal", f"no appeal {update.appeal_id} has been assigned")
    if str(update.event_id) in applied:
        return None
    assigned_to = appeal.assignment.department
    if update.department != assigned_to:
        return Refusal(
            "rejected-transition",
            f"appeal {update.appeal_id} is assigned to {assigned_to}, not to {update.department}",
        )
    if status not in ALLOWED_FROM[update.status]:
        return Refusal(
            "rejected-transition", f"appeal {update.appeal_id} is {status}: it cannot become {update.status}"
        )
    note = update.comment
    if update.status != "misrouted":
        return StatusChange(update.appeal_id, update.status, now, str(update.event_id), update.department, note)
    return _reroute(update, appeal, routing, now)


def _reroute(update: DepartmentUpdate, appeal: AppealAssigned, routing: Routing, now: datetime) -> StatusChange:
    """A misrouted appeal goes to the department the reporter suggests, or to the contact center to decide."""
    suggested = update.suggested_department
    known = suggested in routing.department_codes and suggested != update.department
    reason = f"misrouted by {update.department}" + (f": {update.comment}" if update.comment else "")
    if known:
        department, outcome, status = suggested, "assigned", "assigned"
        reason += f"; rerouted to {suggested} as suggested"
    else:
        department, outcome, status = CONTACT_CENTER, "triage", "triage"
        if suggested == update.department:
            reason += f"; the contact center decides ({suggested} suggested itself)"
        else:
            reason += "; the contact center decides" + (f" (unknown suggestion {suggested})" if suggested else "")
    reroute = appeal.model_copy(
        update={
            "event_id": rerouted_event_id(update),
            "occurred_at": now,
            "assignment": Assignment(
                department=department,
                department_name=routing.taxonomy.department_name(department),
                district=appeal.assignment.district,
                due_at=appeal.assignment.due_at,
                outcome=outcome,
                reason=reason,
                incident_id=appeal.assignment.incident_id,
            ),
        }
    )
    return StatusChange(update.appeal_id, status, now, str(update.event_id), update.department, reason, reroute)


def rerouted_event_id(update: DepartmentUpdate) -> uuid.UUID:
    return derived_event_id("rerouted", update.event_id)


def assigned_from_document(document: dict) -> AppealAssigned:
    """The appeal as last assigned, rebuilt from its stored document."""
    last = next(entry for entry in reversed(document["history"]) if entry["status"] in ("assigned", "triage"))
    return AppealAssigned(
        event_id=last["event_id"],
        occurred_at=last["at"],
        **registration_fields(document),
        classification=document["classification"],
        assignment=document["assignment"],
    )


# ---- what residents hear: one status event per appeal the dispatcher changed ----------------------------------------


def status_event(change: StatusChange, appeal: AppealAssigned, incident_id: str | None = None) -> AppealStatusChanged:
    """The appeal's change as the notifier needs it. `appeal` is the appeal as assigned after the change."""
    assignment = appeal.assignment
    return AppealStatusChanged(
        event_id=derived_event_id("status", f"{change.event_id}:{change.appeal_id}"),
        occurred_at=change.at,
        correlation_id=appeal.correlation_id,
        appeal_id=change.appeal_id,
        status="rerouted" if change.reroute is not None else change.status,
        department=assignment.department,
        department_name=assignment.department_name,
        category=appeal.classification.category,
        comment=change.note,
        contact=appeal.contact,
        channel=appeal.channel,
        incident_id=incident_id or assignment.incident_id,
        caused_by=change.caused_by or change.event_id,
    )
