"""Mass incidents: appeals of one category about one building (or street) grouped, the department told once, and a
report on one of them applied to every appeal of the incident."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.dispatcher.domain.config import Routing
from services.dispatcher.domain.reports import StatusChange, judge_update
from services.dispatcher.domain.routing import find_place
from shared.contracts.base import derived_event_id
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import (
    AppealAssigned,
    IncidentTask,
)
from shared.contracts.intake import Address

URGENCY_ORDER = ("low", "normal", "high", "critical")


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

    def document(self) -> dict:
        return {
            "_id": self.incident_id,
            "key": self.key,
            "department": self.department,
            "category": self.category,
            "location": self.location,
            "district": self.district,
            "address": self.address.model_dump(mode="python") if self.address else None,
            "urgency": self.urgency,
            "appeal_ids": list(self.appeal_ids),
            "texts": list(self.texts),
            "first_at": self.first_at,
            "last_at": self.last_at,
            "due_at": self.due_at,
            "status": self.status,
        }

    @classmethod
    def from_document(cls, document: dict) -> "Incident":
        address = document.get("address")
        return cls(
            incident_id=document["_id"],
            key=document["key"],
            department=document["department"],
            category=document["category"],
            location=document["location"],
            district=document.get("district"),
            address=Address(**address) if address else None,
            urgency=document["urgency"],
            appeal_ids=tuple(document["appeal_ids"]),
            texts=tuple(document.get("texts", ())),
            first_at=document["first_at"],
            last_at=document["last_at"],
            due_at=document["due_at"],
            status=document.get("status", "open"),
        )

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
            urgency = max(incident.urgency, decision.classification.urgency, key=URGENCY_ORDER.index)
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


def fan_out(
    update: DepartmentUpdate,
    siblings: Mapping[str, tuple[AppealAssigned, str, frozenset[str]]],
    routing: Routing,
    now: datetime,
) -> list[StatusChange]:
    """A department's report on one appeal of an incident, applied to each other appeal of the incident as if it had
    been reported on that appeal: judged by the same rules, so an appeal now at another department, or one that cannot
    take the change, is left alone, and one that already took it (a redelivery) is not changed twice. A misrouted
    report reroutes every appeal of the incident. `siblings`: appeal id -> (appeal as assigned, status, applied ids)."""
    changes = []
    for appeal_id, (appeal, status, applied) in sorted(siblings.items()):
        if appeal_id == update.appeal_id:
            continue
        reported = update.model_copy(update={"appeal_id": appeal_id, "event_id": incident_report_id(update, appeal_id)})
        verdict = judge_update(reported, appeal, status, applied, routing, now)
        if isinstance(verdict, StatusChange):
            changes.append(replace(verdict, caused_by=str(update.event_id)))
    return changes


def incident_report_id(update: DepartmentUpdate, appeal_id: str) -> uuid.UUID:
    """The id of a report as applied to another appeal of its incident: the same for a redelivery."""
    return derived_event_id("incident-report", f"{update.event_id}:{appeal_id}")


def fanned_out_before(
    update: DepartmentUpdate, siblings: Mapping[str, tuple[AppealAssigned, str, frozenset[str]]], now: datetime
) -> list[StatusChange]:
    """For a redelivered report: the changes it made to the incident's other appeals earlier, to announce again (a
    reroute is announced again by the reroute path)."""
    if update.status == "misrouted":
        return []
    changes = []
    for appeal_id, (_, _, applied) in sorted(siblings.items()):
        event_id = str(incident_report_id(update, appeal_id))
        if appeal_id != update.appeal_id and event_id in applied:
            changes.append(
                StatusChange(
                    appeal_id,
                    update.status,
                    now,
                    event_id,
                    update.department,
                    update.comment,
                    caused_by=str(update.event_id),
                )
            )
    return changes
