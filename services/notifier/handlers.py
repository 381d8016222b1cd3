"""Notifier: subscribe to appeals.registered, appeals.assigned and appeals.status -> load (the channels' webhooks)
-> decide (render, choose the transport; pure) -> apply (record each notice once, pending or skipped) -> hand the
new ones to the deliverer (delivery.py), which sends them in the background: the consumer never waits for a
gateway."""

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaRouter

from services.notifier.documents import NoticeDoc
from services.notifier.domain import NoticeContext, Progress, decide_notices
from services.notifier.metrics import notifications, observe_notified
from services.notifier.repository import NotifierRepository
from shared.broker import batch_subscriber
from shared.consuming import ParkRecord, Records, accept
from shared.contracts import topics
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged
from shared.contracts.intake import AppealRegistered
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)

SUBSCRIBED = (topics.APPEALS_REGISTERED, topics.APPEALS_ASSIGNED, topics.APPEALS_STATUS)


async def accept_progress(records: list[Any], park_record: ParkRecord) -> Progress:
    """The batch's events by topic, each validated against its contract; the invalid ones parked."""
    by_topic: dict[str, list[Any]] = {topic: [] for topic in SUBSCRIBED}
    for record in records:
        by_topic[record.topic].append(record)
    accepted = [
        [item.event for item in await accept(by_topic[topic], model, park_record)]
        for topic, model in zip(SUBSCRIBED, (AppealRegistered, AppealAssigned, AppealStatusChanged), strict=True)
    ]
    return Progress(*accepted)


def build_router(
    settings: ServiceSettings,
    repo: NotifierRepository,
    context: NoticeContext,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
    record_and_hand_off: Callable[[list[NoticeDoc]], Awaitable[list[int]]] | None = None,
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
    async def on_appeal_progress(records: Records[AppealRegistered | AppealAssigned | AppealStatusChanged]) -> None:
        progress = await accept_progress(records, park_record)
        context = await load_context(clock())
        notices = decide_notices(progress, context)
        if not notices:
            return
        # Recorded once each (apply), the new ones handed to the deliverer, which sends them in the background (the
        # publish step): the batch is committed now, whatever the gateways do. Without a deliverer the notices wait
        # for any delivery job (their takeover time).
        already = set(await (record_and_hand_off or repo.record)([notice.document() for notice in notices]))
        observe_notified(progress.assigned, at=context.now)
        for index, notice in enumerate(notices):
            state = "duplicate" if index in already else notice.state
            notifications.labels(notice.kind, notice.route.transport or "none", state).inc()

    async def load_context(now: datetime) -> NoticeContext:
        """The load step: what every notice of the batch needs besides its event (the channels' webhooks, read
        through the registry's cache)."""
        at_now = dataclasses.replace(context, now=now)
        if webhook_urls is None:
            return at_now
        return dataclasses.replace(at_now, webhooks=await webhook_urls())

    return router
