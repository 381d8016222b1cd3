"""Mass incidents: appeals of one category about one building (or street) grouped, and the department told once
per growth instead of once per appeal. A report on one appeal of an incident is applied to the others in reports."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.dispatcher.domain.config import Routing
from services.dispatcher.domain.routing import find_place
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import most_urgent
from shared.contracts.dispatcher import (
    AppealAssigned,
    IncidentTask,
)
from shared.contracts.intake import Address


@dataclass(frozen=True)
class Incident:
    """Appeals of one category about one place, handled by one department as one piece of work."""

    incident_id: str
    key: str
    department: str
    category: str
    location: str
    district: str | None
    address: Address | None
    urgency: str
    appeal_ids: tuple[str, ...]
    texts: tuple[str, ...]
    first_at: datetime
    last_at: datetime
    due_at: datetime
    status: str = "open"

    def task(self, routing: Routing) -> IncidentTask:
        return IncidentTask(
            event_id=derived_event_id("incident", f"{self.incident_id}:{len(self.appeal_ids)}"),
            occurred_at=self.last_at,
            correlation_id=self.incident_id,
            incident_id=self.incident_id,
            department=self.department,
            category=self.category,
            category_name=routing.taxonomy.category(self.category).name,
            urgency=self.urgency,
            location=self.location,
            address=self.address,
            district=self.district,
            lead_appeal_id=self.appeal_ids[0],
            appeal_ids=self.appeal_ids,
            count=len(self.appeal_ids),
            first_reported_at=self.first_at,
            last_reported_at=self.last_at,
            due_at=self.due_at,
            texts=self.texts,
        )


MAX_INCIDENT_TEXTS = 20


def incident_key(assigned: AppealAssigned, routing: Routing) -> tuple[str, str] | None:
    """(key, location) for grouping, or None when the appeal is not grouped: a category of personal matters, no
    department yet (triage), or no place precise enough (a building; a street for street categories)."""
    category = assigned.classification.category
    rules = routing.incidents
    if assigned.assignment.outcome != "assigned" or category not in rules.categories:
        return None
    place = find_place(assigned, routing)
    address = assigned.address
    location = None
    if place.street is not None and place.street.house:
        location = place.street.location
    elif address is not None and address.lat is not None and address.lon is not None:
        # Four decimals are about 10 m in Kyiv: one building.
        location = f"{address.lat:.4f},{address.lon:.4f}"
    elif place.street is not None and category in rules.by_street:
        location = place.street.location
    if location is None:
        return None
    return f"{assigned.assignment.department}|{category}|{location}", location


@dataclass(frozen=True)
class Grouping:
    assigned: list[AppealAssigned]  # the decisions, with incident ids set where grouped
    incidents: list[Incident]  # incidents opened or grown, to store
    joined: frozenset[str]  # appeals that joined an incident of others: their department gets the incident instead
    announced: list[IncidentTask]


def group_incidents(
    decisions: list[AppealAssigned],
    open_incidents: Mapping[str, Incident],
    routing: Routing,
    now: datetime,
    keys: Sequence[tuple[str, str] | None] | None = None,
) -> Grouping:
    """Put each groupable appeal into the open incident of its place, or open one. `open_incidents` are the open
    incidents by key whose last appeal is within the window (as the handler read them); `keys`, parallel to
    `decisions`, are their `incident_key`s if the caller has them already."""
    if keys is None:
        keys = [incident_key(decision, routing) for decision in decisions]
    window = timedelta(hours=routing.incidents.window_hours)
    current = {key: incident for key, incident in open_incidents.items() if now - incident.last_at <= window}
    changed: dict[str, Incident] = {}
    joined: set[str] = set()
    result: list[AppealAssigned] = []
    for decision, found in zip(decisions, keys, strict=True):
        if found is None:
            result.append(decision)
            continue
        key, location = found
        incident = current.get(key)
        appeal_id = decision.appeal_id
        if incident is None:
            incident = Incident(
                incident_id=f"inc-{appeal_id}",
                key=key,
                department=decision.assignment.department,
                category=decision.classification.category,
                location=location,
                district=decision.assignment.district,
                address=decision.address,
                urgency=decision.classification.urgency,
                appeal_ids=(appeal_id,),
                texts=(decision.text,),
                first_at=now,
                last_at=now,
                due_at=decision.assignment.due_at,
            )
            changed[key] = current[key] = incident
        elif appeal_id not in incident.appeal_ids:
            urgency = most_urgent(incident.urgency, decision.classification.urgency)
            incident = replace(
                incident,
                urgency=urgency,
                appeal_ids=(*incident.appeal_ids, appeal_id),
                texts=(*incident.texts, decision.text)[:MAX_INCIDENT_TEXTS],
                last_at=now,
                due_at=min(incident.due_at, decision.assignment.due_at),
            )
            changed[key] = current[key] = incident
        if incident.appeal_ids[0] != appeal_id:
            joined.add(appeal_id)
        assignment = decision.assignment.model_copy(update={"incident_id": incident.incident_id})
        result.append(decision.model_copy(update={"assignment": assignment}))
    announced = [incident.task(routing) for incident in changed.values() if len(incident.appeal_ids) > 1]
    return Grouping(result, list(changed.values()), frozenset(joined), announced)
