"""Dispatcher: subscribe to appeals.classified -> decide (route) -> persist -> publish the assignment and task."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaRouter

from services.dispatcher.domain import Routing, department_task, route
from services.dispatcher.metrics import assignments
from services.dispatcher.repository import DispatcherRepository
from shared.appeals import as_stored
from shared.broker import batch_subscriber, publish_keyed
from shared.consuming import ParkRecord, accept
from shared.contracts import topics
from shared.contracts.classifier import AppealClassified
from shared.contracts.dispatcher import AppealAssigned, Assignment, DepartmentTask
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

    @batch_subscriber(router, topics.APPEALS_CLASSIFIED, settings=settings, title="appeals.classified:dispatcher")
    async def on_appeal_classified(records: list[Any]) -> None:
        accepted = await accept(records, AppealClassified, park_record)
        if not accepted:
            return
        now = clock()
        decisions = [route(item.event, routing, now).assigned for item in accepted]

        stored = await repo.save_assignments(decisions)
        if stored is not None:
            decisions = await as_stored(decisions, stored, accepted, park_record, "assignment", Assignment)

        tasks_by_department: dict[str, list[DepartmentTask]] = defaultdict(list)
        for decision in decisions:
            tasks_by_department[decision.assignment.department].append(department_task(decision, routing))
            assignments.labels(decision.assignment.department, decision.assignment.outcome).inc()
        stage_appeals.labels("dispatcher", "new").inc(len(decisions))

        await asyncio.gather(
            publish_keyed(appeal_assigned, decisions),
            *(publish_keyed(department_tasks[department], tasks) for department, tasks in tasks_by_department.items()),
        )

    return router
