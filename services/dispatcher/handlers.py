"""Dispatcher: subscribe to appeals.classified and dept.updates -> decide (route, group incidents, judge the report)
-> persist -> publish the assignment and the department's task or incident, and each appeal's status change.
A periodic check escalates open appeals past their due time."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaRouter

from services.dispatcher.domain import (
    Refusal,
    Routing,
    StatusChange,
    assigned_from_document,
    department_task,
    escalation,
    fan_out,
    fanned_out_before,
    group_incidents,
    incident_key,
    judge_update,
    overdue_by_department,
    rerouted_event_id,
    route,
    status_event,
)
from services.dispatcher.metrics import (
    assignments,
    department_updates,
    escalations,
    incidents_grouped,
    observe_assigned,
    overdue,
)
from services.dispatcher.repository import DispatcherRepository
from shared.appeals import as_stored
from shared.broker import batch_subscriber, publish_keyed
from shared.consuming import ParkRecord, accept
from shared.contracts import topics
from shared.contracts.classifier import AppealClassified
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import (
    AppealAssigned,
    AppealEscalated,
    AppealStatusChanged,
    Assignment,
    DepartmentTask,
    IncidentTask,
)
from shared.errors import PermanentError
from shared.metrics import stage_appeals
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dispatcher:
    """The dispatcher's router and what its background job and HTTP desk share with the handlers."""

    router: KafkaRouter
    # Store the decisions and announce them (assignment, task or incident): the one way into a department's queue.
    assign: Callable[[list[AppealAssigned]], Any]
    check_overdue: Callable[[], Any]


def build_router(
    settings: ServiceSettings,
    repo: DispatcherRepository,
    routing: Routing,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
) -> KafkaRouter:
    return build_dispatcher(settings, repo, routing, park_record, clock).router


def build_dispatcher(
    settings: ServiceSettings,
    repo: DispatcherRepository,
    routing: Routing,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
    overdue_batch: int = 5000,
) -> Dispatcher:
    router = KafkaRouter()

    def publisher(topic: str, schema: type, description: str) -> Any:
        return router.publisher(topic, batch=True, title=topic, description=description, schema=schema)

    appeal_assigned = publisher(
        topics.APPEALS_ASSIGNED,
        AppealAssigned,
        "Which department handles the appeal and by when; the notifier and anyone may listen.",
    )
    department_tasks = {
        code: publisher(
            topics.department_assignments(code),
            DepartmentTask,
            f"Tasks for {routing.taxonomy.department_name(code)}. Deduplicate on event_id.",
        )
        for code in routing.taxonomy.department_codes()
    }
    department_incidents = {
        code: publisher(
            topics.department_incidents(code),
            IncidentTask,
            f"Mass incidents for {routing.taxonomy.department_name(code)}: appeals about one place, keyed by "
            "incident_id; keep the latest per incident_id (count grows as appeals join).",
        )
        for code in routing.taxonomy.department_codes()
    }
    appeal_status = publisher(
        topics.APPEALS_STATUS,
        AppealStatusChanged,
        "Each appeal's change after a department's report (one per appeal, incidents fanned out).",
    )
    appeal_escalated = publisher(
        topics.APPEALS_ESCALATED, AppealEscalated, "Open appeals past their due time, once per appeal and due time."
    )

    async def publish_assignments(
        decisions: list[AppealAssigned],
        joined: frozenset[str] = frozenset(),
        incidents: Sequence[IncidentTask] = (),
    ) -> None:
        """Everyone hears of each decision on appeals.assigned; the department gets a task, or for an appeal that
        joined an incident, the incident."""
        tasks_by_department: dict[str, list[DepartmentTask]] = defaultdict(list)
        for decision in decisions:
            if decision.appeal_id not in joined:
                tasks_by_department[decision.assignment.department].append(department_task(decision, routing))
            assignments.labels(decision.assignment.department, decision.assignment.outcome).inc()
        incidents_by_department: dict[str, list[IncidentTask]] = defaultdict(list)
        for incident in incidents:
            incidents_by_department[incident.department].append(incident)
        await asyncio.gather(
            publish_keyed(appeal_assigned, decisions),
            *(publish_keyed(department_tasks[department], tasks) for department, tasks in tasks_by_department.items()),
            *(publish_keyed(department_incidents[code], grown) for code, grown in incidents_by_department.items()),
        )

    async def assign(decisions: list[AppealAssigned], accepted: list | None = None) -> list[AppealAssigned]:
        """Group into incidents, persist, publish. `accepted`: the records the decisions came from, parallel to
        them, so an appeal the store does not know is parked (None: decisions made on an appeal read from the store).
        """
        keys = [incident_key(decision, routing) for decision in decisions]
        places = sorted({found[0] for found in keys if found is not None})
        open_incidents = await repo.open_incidents(places) if places else {}
        grouping = group_incidents(decisions, open_incidents, routing, clock(), keys)
        # The incident first: a redelivery then finds its appeal in it and decides the same way.
        await repo.save_incidents(grouping.incidents)
        decisions = grouping.assigned
        stored = await repo.save_assignments(decisions)
        if stored is not None and accepted is not None:
            decisions = await as_stored(decisions, stored, accepted, park_record, "assignment", Assignment)
        incidents_grouped.inc(len(grouping.joined))
        await publish_assignments(decisions, grouping.joined, grouping.announced)
        return decisions

    # One consumer for both topics: one group join, records told apart by topic.
    @batch_subscriber(
        router,
        topics.APPEALS_CLASSIFIED,
        topics.DEPARTMENT_UPDATES,
        settings=settings,
        title="appeals.classified+dept.updates:dispatcher",
    )
    async def on_dispatcher_input(records: list[Any]) -> None:
        await on_appeals_classified([r for r in records if r.topic == topics.APPEALS_CLASSIFIED])
        await on_department_updates([r for r in records if r.topic == topics.DEPARTMENT_UPDATES])

    async def on_appeals_classified(records: list[Any]) -> None:
        accepted = await accept(records, AppealClassified, park_record)
        if not accepted:
            return
        now = clock()
        decisions = [route(item.event, routing, now).assigned for item in accepted]
        decisions = await assign(decisions, accepted)
        stage_appeals.labels("dispatcher", "new").inc(len(decisions))
        observe_assigned(decisions)

    async def on_department_updates(records: list[Any]) -> None:
        accepted = await accept(records, DepartmentUpdate, park_record)
        if not accepted:
            return
        now = clock()
        documents = await repo.load_appeals(sorted({item.event.appeal_id for item in accepted}))
        appeals = {appeal_id: _Tracked.of(document) for appeal_id, document in documents.items()}
        changes: list[StatusChange] = []
        reroutes: list[AppealAssigned] = []
        statuses: list[AppealStatusChanged] = []
        repeats: list[DepartmentUpdate] = []
        for item in accepted:
            tracked = appeals.get(item.event.appeal_id, _Tracked.missing())
            verdict = judge_update(item.event, tracked.appeal, tracked.status, tracked.applied, routing, now)
            if isinstance(verdict, Refusal):
                await park_record(item.record, PermanentError(verdict.reason, verdict.detail))
            elif verdict is None:
                # Applied before (a redelivery): announced again in case the first announcement was lost. A reroute
                # only while it is the appeal's latest change (a later reroute has its own announcement).
                assert tracked.appeal is not None
                if item.event.status != "misrouted":
                    repeated = StatusChange(
                        item.event.appeal_id,
                        item.event.status,
                        now,
                        str(item.event.event_id),
                        item.event.department,
                        item.event.comment,
                    )
                    statuses.append(status_event(repeated, tracked.appeal))
                    repeats.append(item.event)
                elif tracked.last_event_id == str(item.event.event_id):
                    reroutes.append(tracked.appeal.model_copy(update={"event_id": rerouted_event_id(item.event)}))
            else:
                changes.append(verdict)
                tracked.apply(verdict)
                assert tracked.appeal is not None
                statuses.append(status_event(verdict, tracked.appeal))
                if verdict.reroute is not None:
                    reroutes.append(verdict.reroute)
            department_updates.labels(item.event.status, type(verdict).__name__ if verdict else "repeated").inc()
        reports = {str(item.event.event_id): item.event for item in accepted}
        fanned_out, announced_again = await incident_changes(
            [(reports[c.event_id], c) for c in changes], repeats, appeals, now
        )
        reroutes += [change.reroute for change in fanned_out if change.reroute is not None]
        statuses += [
            status_event(change, appeals[change.appeal_id].appeal)  # type: ignore[arg-type]
            for change in (*fanned_out, *announced_again)
        ]
        await repo.save_status_changes(changes + fanned_out)
        # One announcement per appeal, its latest: publish_keyed sends each appeal once.
        await publish_assignments(list({appeal.appeal_id: appeal for appeal in reroutes}.values()))
        # Every status in order: an appeal reported on twice in one batch is published in two waves.
        for wave in _waves(statuses):
            await publish_keyed(appeal_status, wave)

    async def incident_changes(
        judged: list[tuple[DepartmentUpdate, StatusChange]],
        repeats: list[DepartmentUpdate],
        appeals: dict[str, "_Tracked"],
        now: datetime,
    ) -> tuple[list[StatusChange], list[StatusChange]]:
        """A report on one appeal of an incident applies to the incident's other appeals; a final one closes it.
        Returns the new changes, and those a redelivered report made before (to announce again)."""
        reports = [*((update, change.appeal_id) for update, change in judged), *((u, u.appeal_id) for u in repeats)]
        incident_of = {appeal_id: appeals[appeal_id].incident_id for _, appeal_id in reports}
        wanted = sorted({incident_id for incident_id in incident_of.values() if incident_id})
        if not wanted:
            return [], []
        incidents = await repo.load_incidents(wanted)
        others = sorted(
            {appeal_id for incident in incidents.values() for appeal_id in incident.appeal_ids} - set(appeals)
        )
        for appeal_id, document in (await repo.load_appeals(others)).items() if others else ():
            appeals[appeal_id] = _Tracked.of(document)

        def siblings(incident_id: str | None) -> dict[str, tuple[AppealAssigned, str, frozenset[str]]]:
            incident = incidents.get(incident_id or "")
            members = incident.appeal_ids if incident else ()
            return {
                appeal_id: (tracked.appeal, tracked.status, tracked.applied)
                for appeal_id in members
                if (tracked := appeals.get(appeal_id)) is not None and tracked.appeal is not None
            }

        added: list[StatusChange] = []
        closed: dict[str, set[str]] = defaultdict(set)
        for update, change in judged:
            incident_id = incident_of[change.appeal_id]
            if incident_id not in incidents:
                continue
            for sibling_change in fan_out(update, siblings(incident_id), routing, now):
                appeals[sibling_change.appeal_id].apply(sibling_change)
                added.append(sibling_change)
            # Final, or its appeals went elsewhere: later appeals about the place start a new incident.
            if update.status in ("resolved", "rejected", "misrouted"):
                closed[update.status].add(incident_id)  # type: ignore[arg-type]
        for status, incident_ids in closed.items():
            await repo.close_incidents(sorted(incident_ids), status, now)
        again = [
            change
            for update in repeats
            for change in fanned_out_before(update, siblings(incident_of[update.appeal_id]), now)
        ]
        return added, again

    async def check_overdue() -> list[AppealEscalated]:
        """Escalate open appeals past their due time (publish, then mark, so none is lost) and count them."""
        now = clock()
        documents = await repo.open_past_due(now, overdue_batch)
        counts = overdue_by_department(documents, now)
        for code in routing.department_codes:
            overdue.labels(code).set(counts.get(code, 0))
        events = [event for document in documents if (event := escalation(document, now)) is not None]
        if events:
            await publish_keyed(appeal_escalated, events)
            await repo.mark_escalated(events)
            for event in events:
                escalations.labels(event.department).inc()
            logger.info("escalated %d overdue appeals", len(events))
        return events

    return Dispatcher(router, assign, check_overdue)


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


@dataclass
class _Tracked:
    """An appeal's state while one batch of reports is judged in order."""

    appeal: AppealAssigned | None
    status: str
    applied: frozenset[str]
    last_event_id: str

    @property
    def incident_id(self) -> str | None:
        return self.appeal.assignment.incident_id if self.appeal else None

    @classmethod
    def of(cls, document: dict) -> "_Tracked":
        history = document.get("history", [])
        applied = frozenset(entry["event_id"] for entry in history)
        appeal = assigned_from_document(document) if document.get("assignment") else None
        return cls(appeal, document["status"], applied, history[-1]["event_id"] if history else "")

    @classmethod
    def missing(cls) -> "_Tracked":
        return cls(None, "", frozenset(), "")

    def apply(self, change: StatusChange) -> None:
        self.status = change.status
        self.applied = self.applied | {change.event_id}
        self.last_event_id = change.event_id
        if change.reroute is not None:
            self.appeal = change.reroute
