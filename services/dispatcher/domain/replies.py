"""What the resident's replies do to an appeal: "fixed" closes it, "not fixed" reopens it to the same department
(a second time, a supervisor decides), an answer to the department's question restarts the overdue clock; no verdict
within the window closes it for good."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain.config import UNCLASSIFIED, Routing
from services.dispatcher.domain.outcome import Announcements, Refusal, Refused
from services.dispatcher.domain.reports import (
    ReportWrites,
    StatusChange,
    TrackedAppeal,
    due_before,
    resumed_due,
    status_event,
)
from services.dispatcher.domain.routing import department_task
from shared.contracts.base import derived_event_id
from shared.contracts.dispatcher import AppealAssigned, AppealEscalated, DepartmentTask
from shared.contracts.residents import ResidentReplied


@dataclass(frozen=True)
class ReplyDecision:
    writes: ReportWrites
    # Residents hear of a reopened or disputed appeal; the department gets a reopened appeal (or the answer) again as
    # its task; a disputed appeal goes to the supervisor on appeals.escalated.
    events: Announcements
    refusals: list[Refused]
    # (reply, outcome) of every reply, for the metrics: the resulting status, a refusal's reason, or repeated.
    outcomes: list[tuple[str, str]]


def judge_reply(
    reply: ResidentReplied, appeal: TrackedAppeal, routing: Routing, now: datetime
) -> StatusChange | Refusal | None:
    """A reply as it changes the appeal; None: applied before."""
    assigned = appeal.appeal
    if assigned is None:
        return Refusal("unknown-appeal", f"no appeal {reply.appeal_id} has been assigned")
    if str(reply.event_id) in appeal.applied:
        return None
    awaiting = appeal.awaiting
    wanted, purpose = ("resolved", "verdict") if reply.reply != "answer" else ("waiting_for_resident", "answer")
    if appeal.status != wanted or awaiting is None or awaiting.purpose != purpose:
        return Refusal("not-awaiting-reply", f"appeal {reply.appeal_id} is {appeal.status}: it awaits no {purpose}")
    if now > awaiting.expires_at:
        return Refusal("reply-expired", f"appeal {reply.appeal_id}: the {purpose} was due by {awaiting.expires_at}")
    by = f"resident, by phone to {reply.recorded_by}" if reply.recorded_by else "resident"
    change = StatusChange(reply.appeal_id, "", now, str(reply.event_id), by, reply.text, round=appeal.rounds)
    if reply.reply == "fixed":
        return replace(change, status="closed")
    if reply.reply == "answer":
        return replace(
            change,
            status="resumed",
            appeal_status=awaiting.resume_status or "in_progress",
            new_due_at=resumed_due(assigned, awaiting, now),
        )
    if appeal.rounds >= routing.execution.reopens_before_supervisor:
        return replace(change, status="disputed")
    due = now + routing.due_after(assigned.classification.urgency)
    return replace(change, status="reopened", new_due_at=due, round=appeal.rounds + 1)


def task_again(change: StatusChange, appeal: AppealAssigned, routing: Routing) -> DepartmentTask:
    """The department's task once more: the reopened appeal with the resident's words, or the answer it waited for."""
    return department_task(appeal, routing).model_copy(
        update={
            "event_id": derived_event_id("task-again", change.event_id),
            "occurred_at": change.at,
            "reopened": change.round,
            "resident_comment": change.note,
        }
    )


def disputed(change: StatusChange, appeal: AppealAssigned) -> AppealEscalated:
    """A resolution the resident disputed again: the supervisor decides."""
    assignment, classification = appeal.assignment, appeal.classification
    return AppealEscalated(
        event_id=derived_event_id("disputed", change.event_id),
        occurred_at=change.at,
        correlation_id=appeal.correlation_id,
        appeal_id=appeal.appeal_id,
        department=assignment.department,
        department_name=assignment.department_name,
        category=classification.category if classification else UNCLASSIFIED,
        urgency=classification.urgency,
        status="disputed",
        district=assignment.district,
        due_at=assignment.due_at,
        overdue_s=0,
        incident_id=assignment.incident_id,
        reason="disputed",
        resident_comment=change.note,
    )


def decide_replies(
    replies: Sequence[ResidentReplied], appeals: Mapping[str, AppealDoc], routing: Routing, now: datetime
) -> ReplyDecision:
    tracked = {appeal_id: TrackedAppeal.of(document) for appeal_id, document in appeals.items()}
    changes: list[StatusChange] = []
    events = Announcements()
    refusals: list[Refused] = []
    outcomes: list[tuple[str, str]] = []
    for reply in replies:
        appeal = tracked.get(reply.appeal_id, TrackedAppeal.missing())
        verdict = judge_reply(reply, appeal, routing, now)
        if isinstance(verdict, Refusal):
            refusals.append(Refused(str(reply.event_id), verdict))
            outcomes.append((reply.reply, verdict.reason))
            continue
        if verdict is None:
            outcomes.append((reply.reply, "repeated"))
            continue
        changes.append(verdict)
        appeal.apply(verdict)
        outcomes.append((reply.reply, verdict.status))
        assert appeal.appeal is not None
        if verdict.status in ("reopened", "resumed"):
            events.tasks.append(task_again(verdict, appeal.appeal, routing))
        if verdict.status == "disputed":
            events.escalated.append(disputed(verdict, appeal.appeal))
        if verdict.status in ("reopened", "disputed"):
            events.statuses.append(status_event(verdict, appeal.appeal))
    return ReplyDecision(ReportWrites(changes, {}, now, due_before(changes, appeals)), events, refusals, outcomes)


def unanswered_closures(appeals: Sequence[AppealDoc], now: datetime) -> list[StatusChange]:
    """Resolved appeals whose resident did not answer within the window: closed for good."""
    closures = []
    for appeal in appeals:
        awaiting = appeal.awaiting_reply
        if (
            appeal.status != "resolved"
            or awaiting is None
            or awaiting.purpose != "verdict"
            or awaiting.expires_at > now
        ):
            continue
        event_id = str(derived_event_id("closed-unanswered", f"{appeal.appeal_id}:{awaiting.token_hash}"))
        note = "no answer from the resident in time: closed as resolved"
        closures.append(
            StatusChange(appeal.appeal_id, "closed", now, event_id, "dispatcher", note, round=appeal.rounds)
        )
    return closures
