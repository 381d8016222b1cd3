"""A batch of classified appeals (or an operator's triage decisions): each routed, grouped into mass incidents, and
checked against what the store holds, so a redelivery publishes what was stored and an unknown appeal is refused."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain.config import Routing
from services.dispatcher.domain.incidents import Incident, group_incidents, incident_key
from services.dispatcher.domain.outcome import Announcements, Refusal, Refused
from services.dispatcher.domain.routing import department_task, route
from shared.contracts.classifier import AppealClassified
from shared.contracts.dispatcher import AppealAssigned


@dataclass(frozen=True)
class RoutedBatch:
    """The batch routed, with the place each appeal groups by (None: not grouped). The places are what the read
    phase needs besides the appeals: the open incidents about them."""

    routed: list[AppealAssigned]
    keys: list[tuple[str, str] | None]
    # The incoming event id of each routed appeal (a refusal names the event it refuses).
    event_ids: list[str]

    @property
    def appeal_ids(self) -> list[str]:
        return sorted({assigned.appeal_id for assigned in self.routed})

    @property
    def places(self) -> list[str]:
        return sorted({found[0] for found in self.keys if found is not None})


def route_batch(events: Sequence[AppealClassified], routing: Routing, now: datetime) -> RoutedBatch:
    routed = [route(event, routing, now).assigned for event in events]
    return RoutedBatch(routed, [incident_key(a, routing) for a in routed], [str(event.event_id) for event in events])


def routed_decisions(decisions: Sequence[AppealAssigned], routing: Routing) -> RoutedBatch:
    """Decisions made elsewhere (an operator's, in triage) as a routed batch."""
    keys = [incident_key(decision, routing) for decision in decisions]
    return RoutedBatch(list(decisions), keys, [str(decision.event_id) for decision in decisions])


@dataclass(frozen=True)
class AssignmentSnapshot:
    """The batch's appeals as stored (their assignment and history), and the open incidents of its places by key."""

    appeals: Mapping[str, AppealDoc]
    open_incidents: Mapping[str, Incident] = field(default_factory=dict)


@dataclass(frozen=True)
class AssignmentWrites:
    # Written first: a redelivery after a crash between the two writes finds its appeal in the incident.
    incidents: list[Incident]
    # Classification and assignment onto each appeal, applied once per assignment event id.
    assignments: list[AppealAssigned]


@dataclass(frozen=True)
class AssignmentDecision:
    writes: AssignmentWrites
    # Everyone hears of each assignment (a redelivered one as it was stored); the department gets the task, except
    # for an appeal that joined an incident of others: its department gets the grown incident instead.
    events: Announcements
    refusals: list[Refused]
    joined: int


def decide_assignments(
    batch: RoutedBatch, snapshot: AssignmentSnapshot, routing: Routing, now: datetime
) -> AssignmentDecision:
    refusals: list[Refused] = []
    new: list[tuple[AppealAssigned, tuple[str, str] | None]] = []
    # Applied before (a redelivery): published as stored, which may differ (an operator moved it since).
    repeated: dict[str, AppealAssigned] = {}
    for assigned, key, event_id in zip(batch.routed, batch.keys, batch.event_ids, strict=True):
        stored = snapshot.appeals.get(assigned.appeal_id)
        if stored is None:
            refusals.append(Refused(event_id, Refusal("unknown-appeal", f"no appeal {assigned.appeal_id}")))
        elif str(assigned.event_id) in stored.applied and stored.assignment is not None:
            repeated[assigned.appeal_id] = assigned.model_copy(update={"assignment": stored.assignment})
        else:
            new.append((assigned, key))
    grouping = group_incidents([a for a, _ in new], snapshot.open_incidents, routing, now, [k for _, k in new])
    grouped = {assigned.appeal_id: assigned for assigned in grouping.assigned}
    published = [
        grouped.get(assigned.appeal_id) or repeated[assigned.appeal_id]
        for assigned in batch.routed
        if assigned.appeal_id in grouped or assigned.appeal_id in repeated
    ]
    joined = grouping.joined | {appeal_id for appeal_id, assigned in repeated.items() if _joined_others(assigned)}
    return AssignmentDecision(
        writes=AssignmentWrites(grouping.incidents, grouping.assigned),
        events=Announcements(
            assigned=published,
            tasks=[department_task(a, routing) for a in published if a.appeal_id not in joined],
            incidents=grouping.announced,
        ),
        refusals=refusals,
        joined=len(grouping.joined),
    )


def _joined_others(assigned: AppealAssigned) -> bool:
    """An appeal stored in an incident another appeal opened (an incident is named after the appeal that opened it)."""
    incident_id = assigned.assignment.incident_id
    return incident_id is not None and incident_id != f"inc-{assigned.appeal_id}"
