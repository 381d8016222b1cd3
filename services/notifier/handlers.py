"""Notifier: subscribe to appeals.registered and appeals.assigned -> decide (render) -> persist (record)."""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaRouter

from services.notifier.domain import Notice, Templates, assignment_notice, registration_notice
from services.notifier.metrics import notifications
from services.notifier.repository import NotifierRepository
from shared.broker import batch_subscriber
from shared.consuming import ParkRecord, accept
from shared.contracts import topics
from shared.contracts.dispatcher import AppealAssigned
from shared.contracts.intake import AppealRegistered
from shared.settings import ServiceSettings
from shared.taxonomy import Taxonomy

logger = logging.getLogger(__name__)


def build_router(
    settings: ServiceSettings,
    repo: NotifierRepository,
    templates: Templates,
    taxonomy: Taxonomy,
    status_hint: str,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
) -> KafkaRouter:
    router = KafkaRouter()

    # One consumer for both topics: one group join, one batch per poll, records told apart by topic.
    @batch_subscriber(
        router,
        topics.APPEALS_REGISTERED,
        topics.APPEALS_ASSIGNED,
        settings=settings,
        title="appeals.registered+assigned:notifier",
    )
    async def on_appeal_progress(records: list[Any]) -> None:
        registered = [r for r in records if r.topic == topics.APPEALS_REGISTERED]
        assigned = [r for r in records if r.topic == topics.APPEALS_ASSIGNED]
        now = clock()
        notices: list[Notice] = [
            registration_notice(item.event, templates, status_hint, now)
            for item in await accept(registered, AppealRegistered, park_record)
        ]
        notices += [
            assignment_notice(item.event, templates, taxonomy, now)
            for item in await accept(assigned, AppealAssigned, park_record)
        ]
        if not notices:
            return
        already = await repo.record(notices)
        for notice in notices:
            notifications.labels(notice.kind, notice.transport, notice.state).inc()
        if already:
            notifications.labels("any", "any", "duplicate").inc(already)

    return router
