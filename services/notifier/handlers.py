"""Notifier: subscribe to appeals.registered, appeals.assigned and appeals.status -> decide (render, choose the
transport) -> persist (record each notice once, pending or skipped) -> hand the new ones to the deliverer
(delivery.py), which sends them in the background: the consumer never waits for a gateway."""

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaRouter

from services.notifier.domain import Notice, NoticeContext, assignment_notice, registration_notice, status_notice
from services.notifier.metrics import notifications, observe_notified
from services.notifier.repository import NotifierRepository
from shared.broker import batch_subscriber
from shared.consuming import ParkRecord, accept
from shared.contracts import topics
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged
from shared.contracts.intake import AppealRegistered
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)

SUBSCRIBED = (topics.APPEALS_REGISTERED, topics.APPEALS_ASSIGNED, topics.APPEALS_STATUS)


def build_router(
    settings: ServiceSettings,
    repo: NotifierRepository,
    context: NoticeContext,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
    record_and_hand_off: Callable[[list[dict[str, Any]]], Awaitable[list[int]]] | None = None,
    webhook_urls: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
) -> KafkaRouter:
    router = KafkaRouter()

    # One consumer for the three topics: one group join, one batch per poll, records told apart by topic.
    @batch_subscriber(
        router,
        *SUBSCRIBED,
        settings=settings,
        title="appeals.registered+assigned+status:notifier",
    )
    async def on_appeal_progress(records: list[Any]) -> None:
        by_topic: dict[str, list[Any]] = {topic: [] for topic in SUBSCRIBED}
        for record in records:
            by_topic[record.topic].append(record)
        at_now = dataclasses.replace(context, now=clock())
        if webhook_urls is not None:
            at_now = dataclasses.replace(at_now, webhooks=await webhook_urls())
        notices: list[Notice] = [
            registration_notice(item.event, at_now)
            for item in await accept(by_topic[topics.APPEALS_REGISTERED], AppealRegistered, park_record)
        ]
        assigned = await accept(by_topic[topics.APPEALS_ASSIGNED], AppealAssigned, park_record)
        notices += [assignment_notice(item.event, at_now) for item in assigned]
        for item in await accept(by_topic[topics.APPEALS_STATUS], AppealStatusChanged, park_record):
            if (notice := status_notice(item.event, at_now)) is not None:
                notices.append(notice)
        if not notices:
            return
        documents = [notice.document() for notice in notices]
        # Sent in the background: the batch is committed now, whatever the gateways do. Without a deliverer the
        # notices wait for any delivery job (their takeover time).
        already = set(await (record_and_hand_off or repo.record)(documents))
        observe_notified([item.event for item in assigned], at=at_now.now)
        for index, notice in enumerate(notices):
            state = "duplicate" if index in already else notice.state
            notifications.labels(notice.kind, notice.route.transport or "none", state).inc()

    return router
