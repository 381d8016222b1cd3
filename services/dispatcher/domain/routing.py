"""Locating an appeal (district, street and house) and routing it: which department, by when, what it is told."""

from dataclasses import dataclass
from datetime import datetime

from services.dispatcher.domain.config import CONTACT_CENTER, UNCLASSIFIED, Routing
from services.dispatcher.gazetteer import StreetMatch
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import AppealClassified
from shared.contracts.dispatcher import (
    AppealAssigned,
    Assignment,
    DepartmentTask,
)
from shared.contracts.intake import Address
from shared.textmatch import tokenize


def find_district(text: str, routing: Routing) -> str | None:
    """The district a text names, if exactly one district is named."""
    found = {term.label for term, _ in routing.district_names.find(tokenize(text))}
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class Place:
    """Where an appeal is: its district if known, and the street it names (with house number) if any."""

    district: str | None
    street: StreetMatch | None
    address: Address | None


def find_place(event: AppealClassified, routing: Routing) -> Place:
    """The district, from the most precise evidence first: the structured address, a street of the gazetteer in the
    address, a district or neighbourhood name in the address, then the same two in the appeal's text (where a street
    counts only with its type or a house number beside it)."""
    address, gazetteer = event.address, routing.gazetteer
    address_text = address.text if address and address.text else ""
    street = gazetteer.find(address_text, need_marker=False) if gazetteer and address_text else None
    text_street = gazetteer.find(event.text, need_marker=True) if gazetteer and street is None else None
    street = street or text_street
    candidates = (
        lambda: address.district if address and address.district in routing.taxonomy.districts else None,
        lambda: street.district if street and street is not text_street else None,
        lambda: find_district(address_text, routing) if address_text else None,
        lambda: text_street.district if text_street else None,
        lambda: find_district(event.text, routing),
    )
    district = next((found for candidate in candidates if (found := candidate())), None)
    if district is None and street is not None and gazetteer is not None:
        district = narrow_district(street, f"{address_text}\n{event.text}", routing)
    return Place(district, street, address)


def narrow_district(street: StreetMatch, text: str, routing: Routing) -> str | None:
    """A street that crosses districts, in the one district that the other places the text names agree on: the
    cross street ("просп. Шухевича біля Радунської"), a landmark, a district or neighbourhood name."""
    candidates = set(street.street.districts)
    if not candidates or routing.gazetteer is None:
        return None
    # Unmarked, a short name is often a plain word ("не працює" is not бульвар Праці): only long ones count.
    others = {
        match.district
        for match in routing.gazetteer.matches(text, need_marker=False)
        if match.street != street.street and match.district is not None and (match.marked or match.letters >= 8)
    }
    named = {term.label for term, _ in routing.district_names.find(tokenize(text))}
    agreed = (others | named) & candidates
    return agreed.pop() if len(agreed) == 1 else None


def locate(event: AppealClassified, routing: Routing) -> str | None:
    return find_place(event, routing).district


@dataclass(frozen=True)
class Dispatch:
    assigned: AppealAssigned
    task: DepartmentTask


def route(event: AppealClassified, routing: Routing, now: datetime) -> Dispatch:
    taxonomy = routing.taxonomy
    category_code = event.classification.category
    district = locate(event, routing)
    department = taxonomy.department_for(category_code, district)
    if category_code == UNCLASSIFIED:
        outcome, reason, department = "triage", "the category needs a person's decision", CONTACT_CENTER
    elif department is None:
        outcome, reason, department = "triage", "the district is unknown for a district-scoped category", CONTACT_CENTER
    elif department == CONTACT_CENTER:
        outcome, reason = "assigned", f"{category_code} is answered by the contact center"
    else:
        outcome = "assigned"
        reason = f"{category_code} -> {department}" + (f" ({district})" if district else "")

    assignment = Assignment(
        department=department,
        department_name=taxonomy.department_name(department),
        district=district,
        due_at=now + routing.due_after(event.classification.urgency),
        outcome=outcome,
        reason=reason,
    )
    classification = event.classification
    if not classification.decision_id:
        # A classification from an older producer: the classified event itself is the decision.
        classification = classification.model_copy(
            update={"decision_id": str(event.event_id), "decided_at": event.occurred_at}
        )
    assigned = AppealAssigned(
        **event.model_dump(exclude={"event_id", "occurred_at", "schema_version", "classification"}),
        classification=classification,
        event_id=derived_event_id("assigned", event.event_id),
        occurred_at=now,
        assignment=assignment,
    )
    return Dispatch(assigned=assigned, task=department_task(assigned, routing))


def department_task(assigned: AppealAssigned, routing: Routing) -> DepartmentTask:
    assignment, classification = assigned.assignment, assigned.classification
    return DepartmentTask(
        event_id=derived_event_id("task", assigned.event_id),
        occurred_at=assigned.occurred_at,
        correlation_id=assigned.correlation_id,
        appeal_id=assigned.appeal_id,
        department=assignment.department,
        category=classification.category,
        category_name=routing.taxonomy.category(classification.category).name,
        urgency=classification.urgency,
        text=assigned.text,
        address=assigned.address,
        district=assignment.district,
        due_at=assignment.due_at,
        contact=assigned.contact if assignment.department in routing.share_contact_with else None,
        status=assignment.outcome,
        incident_id=assignment.incident_id,
    )
