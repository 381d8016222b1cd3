"""Intake: subscribe to appeals.intake -> decide (register) -> persist (insert) -> publish appeals.registered."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from faststream.kafka import KafkaRouter

from services.intake.domain import (
    appeal_number,
    check_channel,
    deduplicate,
    register,
    registration_from_document,
)
from services.intake.repository import IntakeRepository
from shared.broker import batch_subscriber, publish_keyed
from shared.channels import ChannelList
from shared.consuming import ParkRecord, accept
from shared.contracts import topics
from shared.contracts.intake import AppealRegistered, AppealSubmitted
from shared.metrics import stage_appeals
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeHandlers:
    router: KafkaRouter
    redrive_stalled: Callable[[timedelta], Awaitable[int]]


def build_router(
    settings: ServiceSettings,
    repo: IntakeRepository,
    channels: ChannelList,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
) -> IntakeHandlers:
    router = KafkaRouter()
    appeal_registered = router.publisher(
        topics.APPEALS_REGISTERED,
        batch=True,
        title="appeals.registered",
        description="An appeal was stored under its number; the classifier takes it from here.",
        schema=AppealRegistered,
    )

    @batch_subscriber(
        router,
        topics.APPEALS_INTAKE,
        settings=settings,
        title="appeals.intake",
        description="Channels publish residents' appeals here, one AppealSubmitted each.",
    )
    async def on_appeal_submitted(records: list[Any]) -> None:
        accepted = await accept(records, AppealSubmitted, park_record, lambda s: check_channel(s, channels))
        submissions = deduplicate([item.event for item in accepted])
        if not submissions:
            return
        now = clock()
        first = await repo.reserve_numbers(len(submissions))
        registrations = [register(s, appeal_number(first + i), now) for i, s in enumerate(submissions)]

        known_keys = await repo.insert_new([r.document for r in registrations])
        events = [r.event for r in registrations if r.document["intake_key"] not in known_keys]
        if known_keys:
            for document in await repo.find_by_intake_keys(sorted(known_keys)):
                events.append(registration_from_document(document))
            stage_appeals.labels("intake", "redelivered").inc(len(known_keys))
        stage_appeals.labels("intake", "new").inc(len(submissions) - len(known_keys))

        await publish_keyed(appeal_registered, events)
        logger.debug("registered %d appeals (%d already known)", len(events), len(known_keys))

    async def redrive_stalled(older_than: timedelta) -> int:
        """Announce again appeals still `registered` after `older_than`: their event may have been lost with
        the broker (the embedded one keeps nothing across a restart). Downstream is idempotent."""
        documents = await repo.stalled(before=clock() - older_than)
        if documents:
            await publish_keyed(appeal_registered, [registration_from_document(d) for d in documents])
            stage_appeals.labels("intake", "redriven").inc(len(documents))
            logger.warning("announced %d stalled appeals again", len(documents))
        return len(documents)

    return IntakeHandlers(router, redrive_stalled)
