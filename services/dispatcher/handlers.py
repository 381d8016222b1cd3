"""Dispatcher: one subscriber per topic, each the same four calls: load (one read phase) -> decide (pure) -> apply
(one bulk, idempotent write phase) -> publish (then refusals go to the dead-letter topic).

- appeals.classified: route each appeal, group mass incidents, store classification and assignment, announce the
  assignment and give the department its task (or the incident).
- dept.updates: judge departments' reports against the appeal's state, apply them (to every appeal of an incident),
  tell residents, send misrouted appeals on.
- appeals.replies: the resident's verdict on a resolved appeal (close, reopen to the department, or a second time to
  the supervisor) or answer to a department's question (the clock restarts).
- every `overdue_check_interval_s`: escalate open appeals past their due time; close resolved appeals whose resident
  gave no verdict in time.

The handlers are module-level; what they use comes from the broker's context (`provide`), named by the Annotated
types below. The subscribers themselves are declared in `build_router`: their batch and consumer options come from
settings and there is one publisher per department of the taxonomy, both known only once main has read them.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from faststream import Context
from faststream.kafka import KafkaBroker, KafkaRouter

from services.dispatcher.domain import Routing, escalation, overdue_by_department
from services.dispatcher.domain.assignments import (
    decide_assignments,
    route_batch,
    routed_decisions,
)
from services.dispatcher.domain.outcome import Announcements, Refused
from services.dispatcher.domain.replies import decide_replies, unanswered_closures
from services.dispatcher.domain.reports import decide_reports
from services.dispatcher.metrics import (
    assignments,
    department_updates,
    escalations,
    incidents_grouped,
    observe_assigned,
    observe_execution,
    overdue,
    resident_replies,
)
from services.dispatcher.repository import AssignmentRepository, OverdueRepository, ReplyRepository, ReportRepository
from shared.broker import batch_subscriber, publish_keyed
from shared.consuming import Accepted, ParkRecord, Records, accept
from shared.contracts import topics
from shared.contracts.classifier import AppealClassified
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import (
    AppealAssigned,
    AppealEscalated,
    AppealStatusChanged,
    DepartmentTask,
    IncidentTask,
)
from shared.contracts.residents import ResidentReplied
from shared.errors import PermanentError
from shared.metrics import stage_appeals
from shared.settings import ServiceSettings
from shared.taxonomy import Taxonomy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dependencies:
    """What the dispatcher's handlers, its overdue check and its triage desk use, set once on the broker's context."""

    assignments: AssignmentRepository
    reports: ReportRepository
    replies: ReplyRepository
    overdue: OverdueRepository
    routing: Routing
    park: ParkRecord
    clock: Callable[[], datetime]
    overdue_batch: int = 5000


CONTEXT_KEY = "dispatcher"
AssignmentsDep = Annotated[AssignmentRepository, Context(f"{CONTEXT_KEY}.assignments")]
ReportsDep = Annotated[ReportRepository, Context(f"{CONTEXT_KEY}.reports")]
RepliesDep = Annotated[ReplyRepository, Context(f"{CONTEXT_KEY}.replies")]
RoutingDep = Annotated[Routing, Context(f"{CONTEXT_KEY}.routing")]
ParkDep = Annotated[ParkRecord, Context(f"{CONTEXT_KEY}.park")]
ClockDep = Annotated[Callable[[], datetime], Context(f"{CONTEXT_KEY}.clock")]
PUBLISHERS_KEY = "dispatcher_publishers"
PublishersDep = Annotated["Publishers", Context(PUBLISHERS_KEY)]


# ---- the subscribers ------------------------------------------------------------------------------------------------


async def on_appeals_classified(
    records: Records[AppealClassified],
    repo: AssignmentsDep,
    routing: RoutingDep,
    park: ParkDep,
    clock: ClockDep,
    publishers: PublishersDep,
) -> None:
    accepted = await accept(records, AppealClassified, park)
    if not accepted:
        return
    now = clock()
    # Routed first: the places the appeals group by say which open incidents the read phase needs.
    batch = route_batch([item.event for item in accepted], routing, now)
    snapshot = await repo.load(batch)
    decision = decide_assignments(batch, snapshot, routing, now)
    await repo.apply(decision.writes)
    await publishers.publish(decision.events)
    await park_refused(decision.refusals, accepted, park)
    incidents_grouped.inc(decision.joined)
    stage_appeals.labels("dispatcher", "new").inc(len(decision.events.assigned))
    observe_assigned(decision.events.assigned)


async def on_department_updates(
    records: Records[DepartmentUpdate],
    repo: ReportsDep,
    routing: RoutingDep,
    park: ParkDep,
    clock: ClockDep,
    publishers: PublishersDep,
) -> None:
    accepted = await accept(records, DepartmentUpdate, park)
    if not accepted:
        return
    updates = [item.event for item in accepted]
    snapshot = await repo.load(updates)
    decision = decide_reports(updates, snapshot, routing, clock())
    await repo.apply(decision.writes)
    await publishers.publish(decision.events)
    await park_refused(decision.refusals, accepted, park)
    for status, verdict in decision.verdicts:
        department_updates.labels(status, verdict).inc()
    observe_execution(decision.writes.changes, decision.writes.due_before, snapshot.appeals)


async def on_resident_replies(
    records: list[Any],
    repo: RepliesDep,
    routing: RoutingDep,
    park: ParkDep,
    clock: ClockDep,
    publishers: PublishersDep,
) -> None:
    accepted = await accept(records, ResidentReplied, park)
    if not accepted:
        return
    replies = [item.event for item in accepted]
    appeals = await repo.load(replies)
    decision = decide_replies(replies, appeals, routing, clock())
    await repo.apply(decision.writes)
    await publishers.publish(decision.events)
    await park_refused(decision.refusals, accepted, park)
    for reply, outcome in decision.outcomes:
        resident_replies.labels(reply, outcome).inc()
    observe_execution(decision.writes.changes, decision.writes.due_before, appeals)


async def park_refused(refusals: Sequence[Refused], accepted: Sequence[Accepted], park: ParkRecord) -> None:
    records = {str(item.event.event_id): item.record for item in accepted}
    for refused in refusals:
        await park(records[refused.event_id], PermanentError(refused.refusal.reason, refused.refusal.detail))


# ---- the overdue check and the triage desk's way in ------------------------------------------------------------------


async def check_overdue(deps: Dependencies, publishers: "Publishers") -> list[AppealEscalated]:
    """Escalate open appeals past their due time (publish, then mark, so none is lost) and count them."""
    now = deps.clock()
    due = await deps.overdue.load(now, deps.overdue_batch)
    counts = overdue_by_department(due, now)
    for code in deps.routing.department_codes:
        overdue.labels(code).set(counts.get(code, 0))
    events = [event for appeal in due if (event := escalation(appeal, now)) is not None]
    if events:
        await publish_keyed(publishers.escalated, events)
        await deps.overdue.apply(events)
        for event in events:
            escalations.labels(event.department).inc()
        logger.info("escalated %d overdue appeals", len(events))
    closures = unanswered_closures(await deps.overdue.load_unanswered(now, deps.overdue_batch), now)
    if closures:
        await deps.overdue.close(closures)
        logger.info("closed %d resolved appeals the resident gave no verdict on", len(closures))
    return events


async def assign(deps: Dependencies, publishers: "Publishers", decisions: list[AppealAssigned]) -> list[AppealAssigned]:
    """Decisions made elsewhere (an operator's, in triage) through the same four steps as a classified appeal: the
    one way into a department's queue. Returns the assignments as published."""
    batch = routed_decisions(decisions, deps.routing)
    snapshot = await deps.assignments.load(batch)
    decision = decide_assignments(batch, snapshot, deps.routing, deps.clock())
    await deps.assignments.apply(decision.writes)
    await publishers.publish(decision.events)
    incidents_grouped.inc(decision.joined)
    return decision.events.assigned


# ---- what is published ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publishers:
    """The dispatcher's publishers: appeals.assigned, each department's tasks and incidents, appeals.status and
    appeals.escalated. Each batch of one kind goes out keyed by appeal (or incident), after its write."""

    assigned: Any
    tasks: dict[str, Any]
    incidents: dict[str, Any]
    status: Any
    escalated: Any

    @classmethod
    def declare(cls, router: KafkaRouter, taxonomy: Taxonomy) -> "Publishers":
        def publisher(topic: str, schema: type, description: str) -> Any:
            return router.publisher(topic, batch=True, title=topic, description=description, schema=schema)

        codes = taxonomy.department_codes()
        return cls(
            assigned=publisher(
                topics.APPEALS_ASSIGNED,
                AppealAssigned,
                "Which department handles the appeal and by when; the notifier and anyone may listen.",
            ),
            tasks={
                code: publisher(
                    topics.department_assignments(code),
                    DepartmentTask,
                    f"Tasks for {taxonomy.department_name(code)}. Deduplicate on event_id.",
                )
                for code in codes
            },
            incidents={
                code: publisher(
                    topics.department_incidents(code),
                    IncidentTask,
                    f"Mass incidents for {taxonomy.department_name(code)}: appeals about one place, keyed by "
                    "incident_id; keep the latest per incident_id (count grows as appeals join).",
                )
                for code in codes
            },
            status=publisher(
                topics.APPEALS_STATUS,
                AppealStatusChanged,
                "Each appeal's change after a department's report (one per appeal, incidents fanned out).",
            ),
            escalated=publisher(
                topics.APPEALS_ESCALATED,
                AppealEscalated,
                "Open appeals past their due time, once per appeal and due time (reason overdue); resolutions the "
                "resident disputed a second time, for the supervisor (reason disputed).",
            ),
        )

    async def publish(self, events: Announcements) -> None:
        """Assignments, each department's tasks and incidents together; then residents' status changes in waves, each
        appeal at most once per wave, so an appeal changed twice in one batch is heard of in order."""
        tasks_by_department: dict[str, list[DepartmentTask]] = defaultdict(list)
        for task in events.tasks:
            tasks_by_department[task.department].append(task)
        incidents_by_department: dict[str, list[IncidentTask]] = defaultdict(list)
        for incident in events.incidents:
            incidents_by_department[incident.department].append(incident)
        await asyncio.gather(
            publish_keyed(self.assigned, events.assigned),
            *(publish_keyed(self.tasks[code], tasks) for code, tasks in tasks_by_department.items()),
            *(publish_keyed(self.incidents[code], grown) for code, grown in incidents_by_department.items()),
            publish_keyed(self.escalated, events.escalated),
        )
        for wave in _waves(events.statuses):
            await publish_keyed(self.status, wave)
        for assigned in events.assigned:
            assignments.labels(assigned.assignment.department, assigned.assignment.outcome).inc()


def _waves(events: list[AppealStatusChanged]) -> list[list[AppealStatusChanged]]:
    """Split events so each wave holds an appeal at most once, keeping each appeal's order across waves."""
    waves: list[list[AppealStatusChanged]] = []
    depth: dict[str, int] = defaultdict(int)
    for event in events:
        index = depth[event.appeal_id]
        if index == len(waves):
            waves.append([])
        waves[index].append(event)
        depth[event.appeal_id] += 1
    return waves


# ---- wiring ---------------------------------------------------------------------------------------------------------


def build_router(settings: ServiceSettings, taxonomy: Taxonomy) -> tuple[KafkaRouter, "Publishers"]:
    """The subscribers, one per topic, and the publishers. Subscriber options come from settings and there is a
    publisher per department of the taxonomy, so this runs once main has them (a module-level router would read the
    environment at import)."""
    router = KafkaRouter()
    batch_subscriber(router, topics.APPEALS_CLASSIFIED, settings=settings, title="appeals.classified:dispatcher")(
        on_appeals_classified
    )
    # A consumer group of its own: two members of one group rejoin together at every rebalance, and a member busy
    # with a long batch of appeals then loses the batch's commit and handles it again.
    batch_subscriber(
        router,
        topics.DEPARTMENT_UPDATES,
        settings=settings,
        group_id=f"{settings.group_id}-reports",
        title="dept.updates:dispatcher",
    )(on_department_updates)
    batch_subscriber(
        router,
        topics.APPEALS_REPLIES,
        settings=settings,
        group_id=f"{settings.group_id}-replies",
        title="appeals.replies:dispatcher",
    )(on_resident_replies)
    return router, Publishers.declare(router, taxonomy)


def provide(broker: KafkaBroker, deps: Dependencies, publishers: "Publishers") -> None:
    """Put what the handlers use on the broker's context."""
    broker.context.set_global(CONTEXT_KEY, deps)
    broker.context.set_global(PUBLISHERS_KEY, publishers)
