"""Dispatcher: subscribe to appeals.classified and dept.updates -> decide (route, judge the report) -> persist
-> publish the assignment and the department's task."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
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
    judge_update,
    rerouted_event_id,
    route,
)
from services.dispatcher.metrics import assignments, department_updates
from services.dispatcher.repository import DispatcherRepository
from shared.appeals import as_stored
from shared.broker import batch_subscriber, publish_keyed
from shared.consuming import ParkRecord, accept
from shared.contracts import topics
from shared.contracts.classifier import AppealClassified
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import AppealAssigned, Assignment, DepartmentTask
from shared.errors import PermanentError
from shared.metrics import stage_appeals
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


def build_router(
    settings: ServiceSettings,
    repo: DispatcherRepository,
    routing: Routing,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
) -> KafkaRouter:
    router = KafkaRouter()
    appeal_assigned = router.publisher(
        topics.APPEALS_ASSIGNED,
        batch=True,
        title="appeals.assigned",
        description="Which department handles the appeal and by when; the notifier and anyone may listen.",
        schema=AppealAssigned,
    )
    department_tasks = {
        code: router.publisher(
            topics.department_assignments(code),
            batch=True,
            title=topics.department_assignments(code),
            description=f"Tasks for {routing.taxonomy.department_name(code)}. Deduplicate on event_id.",
            schema=DepartmentTask,
        )
        for code in routing.taxonomy.department_codes()
    }

    async def publish_assignments(decisions: list[AppealAssigned]) -> None:
        tasks_by_department: dict[str, list[DepartmentTask]] = defaultdict(list)
        for decision in decisions:
            tasks_by_department[decision.assignment.department].append(department_task(decision, routing))
            assignments.labels(decision.assignment.department, decision.assignment.outcome).inc()
        await asyncio.gather(
            publish_keyed(appeal_assigned, decisions),
            *(publish_keyed(department_tasks[department], tasks) for department, tasks in tasks_by_department.items()),
        )

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

        stored = await repo.save_assignments(decisions)
        if stored is not None:
            decisions = await as_stored(decisions, stored, accepted, park_record, "assignment", Assignment)

        stage_appeals.labels("dispatcher", "new").inc(len(decisions))
        await publish_assignments(decisions)

    async def on_department_updates(records: list[Any]) -> None:
        accepted = await accept(records, DepartmentUpdate, park_record)
        if not accepted:
            return
        now = clock()
        documents = await repo.load_appeals(sorted({item.event.appeal_id for item in accepted}))
        appeals = {appeal_id: _Tracked.of(document) for appeal_id, document in documents.items()}
        changes, reroutes = [], []
        for item in accepted:
            tracked = appeals.get(item.event.appeal_id, _Tracked.missing())
            verdict = judge_update(item.event, tracked.appeal, tracked.status, tracked.applied, routing, now)
            if isinstance(verdict, Refusal):
                await park_record(item.record, PermanentError(verdict.reason, verdict.detail))
            elif verdict is None:
                # Applied before: a reroute is announced again in case the first announcement was lost, as
                # long as it is still the appeal's latest change (a later reroute has its own announcement).
                if (
                    item.event.status == "misrouted"
                    and tracked.appeal
                    and tracked.last_event_id == str(item.event.event_id)
                ):
                    reroutes.append(tracked.appeal.model_copy(update={"event_id": rerouted_event_id(item.event)}))
            else:
                changes.append(verdict)
                tracked.apply(verdict)
                if verdict.reroute is not None:
                    reroutes.append(verdict.reroute)
            department_updates.labels(item.event.status, type(verdict).__name__ if verdict else "repeated").inc()
        await repo.save_status_changes(changes)
        # One announcement per appeal, its latest: publish_keyed sends each appeal once.
        await publish_assignments(list({appeal.appeal_id: appeal for appeal in reroutes}.values()))

    return router


@dataclass
class _Tracked:
    """An appeal's state while one batch of reports is judged in order."""

    appeal: AppealAssigned | None
    status: str
    applied: frozenset[str]
    last_event_id: str

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
