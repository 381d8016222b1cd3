"""Manual triage: a contact-center operator decides an appeal the dispatcher could not route."""

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain.config import UNCLASSIFIED, Routing
from services.dispatcher.domain.routing import route
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import AppealClassified, Classification, Urgency
from shared.contracts.dispatcher import (
    AppealAssigned,
)


class TriageDecision(BaseModel):
    """What an operator decides for an appeal in triage: its category, or the department directly, or both."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    category: str | None = None
    department: str | None = None
    urgency: Urgency | None = None
    operator: str = Field(min_length=1, max_length=100)
    comment: str = Field(default="", max_length=2000)


@dataclass(frozen=True)
class TriageProblem:
    """Why a decision cannot be applied: `kind` is not-found, conflict or invalid (then `field` names the field)."""

    kind: str
    detail: str
    field: str | None = None


def decide_triage(
    document: AppealDoc | None, decision: TriageDecision, routing: Routing, now: datetime
) -> AppealAssigned | TriageProblem:
    """The appeal assigned as the operator decided, re-entering the normal flow through route()."""
    taxonomy = routing.taxonomy
    if decision.category is None and decision.department is None:
        return TriageProblem("invalid", "give a category, a department or both", "category")
    if decision.category is not None and decision.category not in taxonomy.categories:
        return TriageProblem("invalid", f"unknown category {decision.category!r}", "category")
    if decision.category == UNCLASSIFIED:
        return TriageProblem("invalid", "choose a category other than unclassified", "category")
    if decision.department is not None and decision.department not in routing.department_codes:
        return TriageProblem("invalid", f"unknown department {decision.department!r}", "department")
    if document is None:
        return TriageProblem("not-found", "no such appeal")
    before = document.classification
    if document.status != "triage" or before is None:
        return TriageProblem("conflict", f"the appeal is {document.status}, not waiting in triage")
    category = decision.category or before.category
    if decision.department is None and category == UNCLASSIFIED:
        return TriageProblem("invalid", "the appeal is unclassified: give its category or a department", "category")
    decision_id = derived_event_id("operator", f"{document.appeal_id}:{len(document.history)}")
    classified = AppealClassified(
        **document.registration(),
        event_id=decision_id,
        occurred_at=now,
        classification=Classification(
            category=category,
            urgency=decision.urgency or before.urgency,
            confidence=1.0,
            ruleset=f"operator:{decision.operator}",
            decided_by="operator",
            decision_id=str(decision_id),
            decided_at=now,
        ),
    )
    assigned = route(classified, routing, now).assigned
    note = f"operator {decision.operator}" + (f": {decision.comment}" if decision.comment else "")
    if decision.department is not None:
        assignment = assigned.assignment.model_copy(
            update={
                "department": decision.department,
                "department_name": taxonomy.department_name(decision.department),
                "outcome": "assigned",
                "reason": f"{note}; sent to {decision.department}",
            }
        )
    elif assigned.assignment.outcome == "triage":
        return TriageProblem(
            "invalid",
            f"{category} is handled by a district unit and the district is unknown: give the department",
            "department",
        )
    else:
        assignment = assigned.assignment.model_copy(update={"reason": f"{note}; {assigned.assignment.reason}"})
    return assigned.model_copy(update={"assignment": assignment})
