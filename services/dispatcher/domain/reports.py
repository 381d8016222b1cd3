"""What departments report: the appeal's state machine (which status may follow which), reroutes, extensions and
pauses, and what residents hear of each change."""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from services.dispatcher.documents import AppealDoc, AwaitingReplyDoc
from services.dispatcher.domain.config import CONTACT_CENTER, LEGAL_MAX_DUE, Routing, token_hash
from services.dispatcher.domain.incidents import Incident
from services.dispatcher.domain.outcome import Announcements, Refusal, Refused
from services.dispatcher.domain.routing import department_task
from shared.contracts.base import derived_event_id
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import (
    AppealAssigned,
    AppealStatusChanged,
    Assignment,
)

# The department is working on it: the overdue clock runs. `reopened`: the resident said it was not fixed.
ACTIVE = ("assigned", "accepted", "in_progress", "reopened")
# Held by the department; while it waits for the resident the clock stops (the appeal is not overdue).
HELD = (*ACTIVE, "waiting_for_resident")
# Which reported status may follow which appeal status.
ALLOWED_FROM = {
    "accepted": ("assigned", "reopened"),
    "in_progress": HELD,
    "resolved": HELD,
    "rejected": HELD,
    "misrouted": HELD,
    "extension_requested": HELD,
    "waiting_for_resident": ACTIVE,
}
# The category whose resolution is an answer to a question: nothing to check on the ground, so no verdict is asked.
INFORMATION_REQUEST = "information_request"


@dataclass(frozen=True)
class StatusChange:
    """A department's (or the resident's) report as it changes the appeal; `reroute` is set when the appeal leaves
    the department."""

    appeal_id: str
    status: str
    at: datetime
    event_id: str
    by: str
    note: str
    reroute: AppealAssigned | None = None
    # The department's report it came from, when that is not `event_id` (a change fanned out to an incident's appeal).
    caused_by: str = ""
    # The appeal's status after the change when it is not the history entry's (a granted extension keeps it).
    appeal_status: str = ""
    # A new due time (an extension, the pause added on, a reopened appeal's).
    new_due_at: datetime | None = None
    # The question now put to the resident, and its token (told to the resident once, never stored).
    awaiting: AwaitingReplyDoc | None = None
    reply_token: str = ""
    # Times the appeal was reopened, after this change.
    round: int = 0

    @property
    def resulting_status(self) -> str:
        return self.appeal_status or self.status


def reopened_by_contact_center(update: DepartmentUpdate, status: str) -> bool:
    """The contact center sends back to its operators an information request it resolved with an article that did not
    help the resident (a `misrouted` report with no suggestion: triage)."""
    return update.department == CONTACT_CENTER and update.status == "misrouted" and status == "resolved"


def judge_update(
    update: DepartmentUpdate,
    appeal: AppealAssigned | None,
    status: str,
    applied: frozenset[str],
    routing: Routing,
    now: datetime,
    awaiting: AwaitingReplyDoc | None = None,
    rounds: int = 0,
) -> StatusChange | Refusal | None:
    """What a department's report does to the appeal: a change, a refusal with its reason, or None when it was
    applied before. `appeal` is the appeal as last assigned, `status` its current status, `awaiting` the question
    put to the resident and `rounds` the times it was reopened."""
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
    if status not in ALLOWED_FROM[update.status] and not reopened_by_contact_center(update, status):
        return Refusal(
            "rejected-transition", f"appeal {update.appeal_id} is {status}: it cannot become {update.status}"
        )
    change = StatusChange(
        update.appeal_id, update.status, now, str(update.event_id), update.department, update.comment, round=rounds
    )
    if status == "waiting_for_resident":
        # The department has its answer another way (a call): the clock restarts, the pause added to the due time.
        change = replace(change, new_due_at=resumed_due(appeal, awaiting, now))
    if update.status == "extension_requested":
        return extension(update, appeal, status, change)
    if update.status == "waiting_for_resident":
        return pause(update, status, change, routing, now)
    if update.status == "resolved" and appeal.classification.category != INFORMATION_REQUEST:
        return ask_verdict(change, routing, now)
    if update.status != "misrouted":
        return change
    return _reroute(update, appeal, routing, now)


def resumed_due(appeal: AppealAssigned, awaiting: AwaitingReplyDoc | None, now: datetime) -> datetime:
    """The due time once the resident has answered: moved on by the time the department waited."""
    waited = now - awaiting.asked_at if awaiting is not None else timedelta(0)
    return appeal.assignment.due_at + max(waited, timedelta(0))


def extension(
    update: DepartmentUpdate, appeal: AppealAssigned, status: str, change: StatusChange
) -> StatusChange | Refusal:
    """A department asks for more time, with its reason: granted up to 45 days from registration in all."""
    if not update.comment.strip():
        return Refusal("extension-without-reason", f"appeal {update.appeal_id}: an extension needs its reason")
    if update.extend_to is None:
        return Refusal("extension-without-date", f"appeal {update.appeal_id}: extend_to is required")
    due = change.new_due_at or appeal.assignment.due_at
    if update.extend_to <= due:
        return Refusal(
            "extension-not-later",
            f"appeal {update.appeal_id}: extend_to {update.extend_to.isoformat()} is not after the due time "
            f"{due.isoformat()}",
        )
    limit = appeal.registered_at + LEGAL_MAX_DUE
    if update.extend_to > limit:
        days = (update.extend_to - appeal.registered_at) / timedelta(days=1)
        return Refusal(
            "extension-beyond-legal-maximum",
            f"appeal {update.appeal_id}: extend_to is {days:.1f} days after registration; the law allows at most "
            f"{LEGAL_MAX_DUE.days} days in all (until {limit.isoformat()})",
        )
    resulting = "in_progress" if status == "waiting_for_resident" else status
    return replace(change, status="extended", appeal_status=resulting, new_due_at=update.extend_to)


def pause(
    update: DepartmentUpdate, status: str, change: StatusChange, routing: Routing, now: datetime
) -> StatusChange | Refusal:
    """The department waits for the resident: the question goes to the resident and the overdue clock stops."""
    if not update.comment.strip():
        return Refusal("question-missing", f"appeal {update.appeal_id}: waiting_for_resident needs the question")
    return _asking(change, "answer", routing.execution.answer_window, routing, now, resume_status=status)


def ask_verdict(change: StatusChange, routing: Routing, now: datetime) -> StatusChange:
    """A resolved appeal: the resident is asked whether it really is fixed."""
    return _asking(change, "verdict", routing.execution.verdict_window, routing, now)


def _asking(
    change: StatusChange,
    purpose: str,
    window: timedelta,
    routing: Routing,
    now: datetime,
    resume_status: str = "",
) -> StatusChange:
    token = routing.execution.reply_token(change.appeal_id, change.event_id)
    awaiting = AwaitingReplyDoc(
        purpose=purpose,  # type: ignore[arg-type]
        token_hash=token_hash(token),
        asked_at=now,
        expires_at=now + window,
        resume_status=resume_status,
    )
    return replace(change, awaiting=awaiting, reply_token=token)


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
        due_at=change.new_due_at,
        reply_token=change.reply_token,
        reply_until=change.awaiting.expires_at if change.awaiting else None,
        round=change.round,
    )


# ---- a report on one appeal of a mass incident applies to every appeal of it -------------------------------------


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


# ---- a batch of reports: judged in order against the state the batch has reached ------------------------------------


@dataclass
class TrackedAppeal:
    """An appeal's state while one batch of reports is judged in order: as last assigned, its status, and the ids of
    every event already written onto it."""

    appeal: AppealAssigned | None
    status: str
    applied: frozenset[str]
    last_event_id: str
    awaiting: AwaitingReplyDoc | None = None
    rounds: int = 0

    @property
    def incident_id(self) -> str | None:
        return self.appeal.assignment.incident_id if self.appeal else None

    @classmethod
    def of(cls, document: AppealDoc) -> "TrackedAppeal":
        return cls(
            document.as_assigned(),
            document.status,
            document.applied,
            document.last_event_id,
            document.awaiting_reply,
            document.rounds,
        )

    @classmethod
    def missing(cls) -> "TrackedAppeal":
        return cls(None, "", frozenset(), "")

    def apply(self, change: StatusChange) -> None:
        self.status = change.resulting_status
        self.applied = self.applied | {change.event_id}
        self.last_event_id = change.event_id
        self.rounds = change.round
        if change.awaiting is not None:
            self.awaiting = change.awaiting
        if change.reroute is not None:
            self.appeal = change.reroute
        if change.new_due_at is not None and self.appeal is not None:
            assignment = self.appeal.assignment.model_copy(update={"due_at": change.new_due_at})
            self.appeal = self.appeal.model_copy(update={"assignment": assignment})


@dataclass(frozen=True)
class ReportSnapshot:
    """What a batch of reports is judged against: the reported appeals and every other appeal of their incidents,
    and those incidents, as stored."""

    appeals: Mapping[str, AppealDoc]
    incidents: Mapping[str, Incident]


@dataclass(frozen=True)
class ReportWrites:
    """The changes in the order they were judged (the repository writes each appeal's in one update, applied once),
    and the incidents a final report (or a misrouted one) closes, by their new status."""

    changes: list[StatusChange] = field(default_factory=list)
    closed_incidents: Mapping[str, list[str]] = field(default_factory=dict)
    at: datetime | None = None
    # Each changed appeal's due time before the batch, so each history entry records the due time in force.
    due_before: Mapping[str, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportDecision:
    writes: ReportWrites
    # Residents hear of every change; an appeal that left its department is announced as assigned again, and the new
    # department gets its task.
    events: Announcements
    refusals: list[Refused]
    # (reported status, verdict) of every report, for the metrics: StatusChange, Refusal or repeated.
    verdicts: list[tuple[str, str]]


def decide_reports(
    updates: Sequence[DepartmentUpdate], snapshot: ReportSnapshot, routing: Routing, now: datetime
) -> ReportDecision:
    """Each report judged in order against the state the batch has reached; a redelivered one is announced again (a
    lost first announcement is not lost for good); a report on an appeal of an incident applied to its others."""
    tracked = {appeal_id: TrackedAppeal.of(document) for appeal_id, document in snapshot.appeals.items()}
    changes: list[StatusChange] = []
    judged: list[tuple[DepartmentUpdate, StatusChange]] = []
    repeats: list[DepartmentUpdate] = []
    reroutes: list[AppealAssigned] = []
    statuses: list[AppealStatusChanged] = []
    refusals: list[Refused] = []
    verdicts: list[tuple[str, str]] = []
    for update in updates:
        appeal = tracked.get(update.appeal_id, TrackedAppeal.missing())
        verdict = judge_update(
            update, appeal.appeal, appeal.status, appeal.applied, routing, now, appeal.awaiting, appeal.rounds
        )
        verdicts.append((update.status, type(verdict).__name__ if verdict else "repeated"))
        if isinstance(verdict, Refusal):
            refusals.append(Refused(str(update.event_id), verdict))
        elif verdict is None:
            assert appeal.appeal is not None
            # A reroute is announced again only while it is the appeal's latest change (a later one has its own).
            if update.status != "misrouted":
                repeated = StatusChange(
                    update.appeal_id, update.status, now, str(update.event_id), update.department, update.comment
                )
                statuses.append(status_event(repeated, appeal.appeal))
                repeats.append(update)
            elif appeal.last_event_id == str(update.event_id):
                reroutes.append(appeal.appeal.model_copy(update={"event_id": rerouted_event_id(update)}))
        else:
            changes.append(verdict)
            judged.append((update, verdict))
            appeal.apply(verdict)
            assert appeal.appeal is not None
            statuses.append(status_event(verdict, appeal.appeal))
            if verdict.reroute is not None:
                reroutes.append(verdict.reroute)
    fanned_out, closed, announced_again = _incident_changes(judged, repeats, tracked, snapshot.incidents, routing, now)
    changes += fanned_out
    reroutes += [change.reroute for change in fanned_out if change.reroute is not None]
    statuses += [
        status_event(change, tracked[change.appeal_id].appeal)  # type: ignore[arg-type]
        for change in (*fanned_out, *announced_again)
    ]
    # One announcement per appeal, its latest.
    latest = list({appeal.appeal_id: appeal for appeal in reroutes}.values())
    return ReportDecision(
        writes=ReportWrites(changes, closed, now, due_before(changes, snapshot.appeals)),
        events=Announcements(
            assigned=latest, tasks=[department_task(appeal, routing) for appeal in latest], statuses=statuses
        ),
        refusals=refusals,
        verdicts=verdicts,
    )


def due_before(changes: Sequence[StatusChange], appeals: Mapping[str, AppealDoc]) -> dict[str, datetime | None]:
    return {
        change.appeal_id: assignment.due_at
        for change in changes
        if (document := appeals.get(change.appeal_id)) is not None and (assignment := document.assignment)
    }


def _incident_changes(
    judged: list[tuple[DepartmentUpdate, StatusChange]],
    repeats: list[DepartmentUpdate],
    tracked: dict[str, TrackedAppeal],
    incidents: Mapping[str, Incident],
    routing: Routing,
    now: datetime,
) -> tuple[list[StatusChange], dict[str, list[str]], list[StatusChange]]:
    """A report on one appeal of an incident applied to the incident's other appeals; a final one (or a misrouted
    one: its appeals went elsewhere) closes the incident, so later appeals about the place start a new one.
    Returns the new changes, the incidents closed by status, and the changes a redelivered report made before."""

    def siblings(incident_id: str | None) -> dict[str, tuple[AppealAssigned, str, frozenset[str]]]:
        incident = incidents.get(incident_id or "")
        return {
            appeal_id: (appeal.appeal, appeal.status, appeal.applied)
            for appeal_id in (incident.appeal_ids if incident else ())
            if (appeal := tracked.get(appeal_id)) is not None and appeal.appeal is not None
        }

    added: list[StatusChange] = []
    closed: dict[str, set[str]] = defaultdict(set)
    for update, change in judged:
        incident_id = tracked[change.appeal_id].incident_id
        if incident_id not in incidents:
            continue
        for sibling_change in fan_out(update, siblings(incident_id), routing, now):
            tracked[sibling_change.appeal_id].apply(sibling_change)
            added.append(sibling_change)
        if update.status in ("resolved", "rejected", "misrouted"):
            closed[update.status].add(incident_id)  # type: ignore[arg-type]
    again = [
        change
        for update in repeats
        for change in fanned_out_before(update, siblings(tracked[update.appeal_id].incident_id), now)
    ]
    return added, {status: sorted(ids) for status, ids in closed.items()}, again
