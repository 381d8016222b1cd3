"""Intake: subscribe to appeals.intake -> decide (register) -> persist (insert) -> publish appeals.registered."""

import logging
from collections.abc import Callable
from datetime import datetime
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


def build_router(
    settings: ServiceSettings,
    repo: IntakeRepository,
    channels: ChannelList,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
) -> KafkaRouter:
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
            by_key = {s.intake_key(): s for s in submissions}
            for document in await repo.find_by_intake_keys(sorted(known_keys)):
                events.append(registration_from_document(document, by_key[document["intake_key"]]))
            stage_appeals.labels("intake", "redelivered").inc(len(known_keys))
        stage_appeals.labels("intake", "new").inc(len(submissions) - len(known_keys))

        await publish_keyed(appeal_registered, events)
        logger.debug("registered %d appeals (%d already known)", len(events), len(known_keys))

    return router
