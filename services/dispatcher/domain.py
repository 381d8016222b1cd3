"""The decide step of the dispatcher: which department, by when, and what it is told. Pure."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.dispatcher.gazetteer import Gazetteer, GazetteerError, StreetMatch, load_gazetteer
from shared.appeals import registration_fields
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import AppealClassified, Classification, Urgency
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import (
    AppealAssigned,
    AppealEscalated,
    AppealStatusChanged,
    Assignment,
    DepartmentTask,
    IncidentTask,
)
from shared.contracts.intake import Address
from shared.taxonomy import Taxonomy
from shared.textmatch import TermIndex, compile_term, tokenize

CONTACT_CENTER = "contact_center"
UNCLASSIFIED = "unclassified"


class RoutingError(ValueError):
    """The routing file is not valid; the message names the file and the entry."""


# The law on citizens' appeals: at most one month, 45 days with a justified extension.
LEGAL_MAX_DUE = timedelta(days=45)


class IncidentRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    window_hours: float = Field(12, gt=0, le=24 * 30)
    categories: list[str] = Field(default_factory=list)
    # Categories about a street rather than a building: appeals naming the same street group without a house number.
    by_street: list[str] = Field(default_factory=list)


class RoutingFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    district_names: dict[str, list[str]]
    share_contact_with: list[str]
    gazetteer: str | None = None
    incidents: IncidentRules = IncidentRules()


@dataclass(frozen=True)
class Routing:
    taxonomy: Taxonomy
    district_names: TermIndex  # terms labelled with their district code
    share_contact_with: frozenset[str]
    department_codes: frozenset[str]
    gazetteer: Gazetteer | None = None
    # Due times by urgency that override the taxonomy's (the dispatcher's settings); each within LEGAL_MAX_DUE.
    deadlines: Mapping[str, timedelta] = field(default_factory=dict)
    incidents: IncidentRules = field(default_factory=IncidentRules)

    def due_after(self, urgency: str) -> timedelta:
        return self.deadlines.get(urgency) or self.taxonomy.due_after(urgency)


def check_deadlines(deadlines: Mapping[str, timedelta], taxonomy: Taxonomy) -> None:
    """Raises ValueError naming the urgency whose due time is unknown, not positive, or beyond the legal maximum."""
    for urgency, due in deadlines.items():
        if urgency not in taxonomy.urgency:
            raise ValueError(f"deadline for unknown urgency {urgency!r}")
        if not timedelta(0) < due <= LEGAL_MAX_DUE:
            raise ValueError(
                f"deadline for {urgency} is {due}: it must be positive and at most {LEGAL_MAX_DUE.days} days"
            )


def load_routing(path: Path, taxonomy: Taxonomy, deadlines: Mapping[str, timedelta] | None = None) -> Routing:
    try:
        raw = RoutingFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise RoutingError(f"{path}: {error}") from error
    unknown = [c for c in (*raw.incidents.categories, *raw.incidents.by_street) if c not in taxonomy.categories]
    if unknown:
        raise RoutingError(f"{path}: incidents: unknown category codes {unknown}")
    try:
        check_deadlines(deadlines or {}, taxonomy)
        gazetteer = load_gazetteer(path.parent / raw.gazetteer, taxonomy.districts) if raw.gazetteer else None
    except (ValueError, GazetteerError) as error:
        raise RoutingError(f"{path}: {error}") from error
    unknown = [code for code in raw.district_names if code not in taxonomy.districts]
    if unknown:
        raise RoutingError(f"{path}: unknown district codes {unknown}")
    departments = set(taxonomy.department_codes())
    unknown = [code for code in raw.share_contact_with if code not in departments]
    if unknown:
        raise RoutingError(f"{path}: unknown department codes {unknown}")
    try:
        terms = [compile_term(code, name) for code, names in raw.district_names.items() for name in names]
    except ValueError as error:
        raise RoutingError(f"{path}: {error}") from error
    return Routing(
        taxonomy,
        TermIndex(terms),
        frozenset(raw.share_contact_with),
        frozenset(departments),
        gazetteer=gazetteer,
        deadlines=dict(deadlines or {}),
        incidents=raw.incidents,
    )


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
    return Place(district, street, address)


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


# ---- the loop back: what departments report --------------------------------------------------------

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


# ---- mass incidents: appeals about one building grouped, the department told once ------------------------------------

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


# ---- deadlines: open appeals past their due time ----------------------------------------------------------

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


# ---- manual triage: a contact-center operator decides ---------------------------------------------------------------


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
    document: dict | None, decision: TriageDecision, routing: Routing, now: datetime
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
    if document.get("status") != "triage" or not document.get("classification"):
        return TriageProblem("conflict", f"the appeal is {document.get('status')}, not waiting in triage")
    before = document["classification"]
    category = decision.category or before["category"]
    if decision.department is None and category == UNCLASSIFIED:
        return TriageProblem("invalid", "the appeal is unclassified: give its category or a department", "category")
    decision_id = derived_event_id("operator", f"{document['_id']}:{len(document.get('history', []))}")
    classified = AppealClassified(
        **registration_fields(document),
        event_id=decision_id,
        occurred_at=now,
        classification=Classification(
            category=category,
            urgency=decision.urgency or before["urgency"],
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
