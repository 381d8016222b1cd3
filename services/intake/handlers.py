"""Intake: subscribe to appeals.intake -> load (numbers) -> decide (register) -> apply (insert) -> publish
appeals.registered. The API's writes take the same path (`register_submissions`)."""

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from faststream.kafka import KafkaRouter

from services.intake.domain import (
    check_channel,
    check_channel_header,
    check_channel_matches,
    deduplicate,
    register_batch,
    registration_from_document,
)
from services.intake.metrics import count_registered
from services.intake.repository import IntakeRepository
from shared.broker import batch_subscriber, publish_keyed
from shared.channel_keys import CHANNEL_HEADER, ChannelRegistry
from shared.channels import ChannelList
from shared.consuming import ParkRecord, Records, accept
from shared.contracts import topics
from shared.contracts.intake import AppealRegistered, AppealSubmitted
from shared.errors import PermanentError
from shared.metrics import stage_appeals
from shared.reconcile import count_reconciled
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


class Registered(NamedTuple):
    appeal_id: str
    new: bool


@dataclass(frozen=True)
class IntakeHandlers:
    router: KafkaRouter
    redrive_stalled: Callable[..., Awaitable[int]]
    register_submissions: Callable[[list[AppealSubmitted]], Awaitable[dict[str, Registered]]]


def record_header(record: Any, name: str) -> bytes | None:
    for key, value in record.headers or ():
        if key.lower() == name:
            return value
    return None


def build_router(
    settings: ServiceSettings,
    repo: IntakeRepository,
    channels: ChannelList,
    park_record: ParkRecord,
    clock: Callable[[], datetime],
    channel_registry: ChannelRegistry | None = None,
) -> IntakeHandlers:
    router = KafkaRouter()
    appeal_registered = router.publisher(
        topics.APPEALS_REGISTERED,
        batch=True,
        title="appeals.registered",
        description="An appeal was stored under its number; the classifier takes it from here.",
        schema=AppealRegistered,
    )

    async def register_submissions(submissions: list[AppealSubmitted]) -> dict[str, Registered]:
        """Register valid submissions and announce them: the one path of every channel, Kafka or HTTP.

        Returns {intake key: (appeal id, new?)}. A submission already registered (a redelivery, a retry over HTTP)
        keeps its appeal and is announced again; the unique intake key decides, so concurrent requests agree.
        """
        submissions = deduplicate(submissions)
        if not submissions:
            return {}
        numbers = await repo.load(submissions)
        decision = register_batch(submissions, numbers, clock())
        already = await repo.apply(decision.writes)
        events, registered = decision.announced(already)
        await publish_keyed(appeal_registered, events)

        count_registered(events[: len(events) - len(already)])
        stage_appeals.labels("intake", "redelivered").inc(len(already))
        stage_appeals.labels("intake", "new").inc(len(submissions) - len(already))
        logger.debug("registered %d appeals (%d already known)", len(events), len(already))
        return {key: Registered(*answer) for key, answer in registered.items()}

    async def api_channel_names() -> Collection[str]:
        return await channel_registry.active_names() if channel_registry is not None else ()

    @batch_subscriber(
        router,
        topics.APPEALS_INTAKE,
        settings=settings,
        title="appeals.intake",
        description=(
            "Channels publish residents' appeals here, one AppealSubmitted each, naming their channel in the "
            f"`{CHANNEL_HEADER}` header; an unknown channel is parked in appeals.intake.dlq."
        ),
    )
    async def on_appeal_submitted(records: Records[AppealSubmitted]) -> None:
        api_channels = await api_channel_names()
        header_channels: dict[int, str | None] = {}
        named: list[Any] = []
        for record in records:
            try:
                header_channels[id(record)] = check_channel_header(
                    record_header(record, CHANNEL_HEADER), channels, api_channels
                )
            except PermanentError as error:
                await park_record(record, error)
                continue
            named.append(record)

        accepted = await accept(named, AppealSubmitted, park_record, lambda s: check_channel(s, channels, api_channels))
        valid = []
        for item in accepted:
            try:
                check_channel_matches(item.event, header_channels[id(item.record)])
            except PermanentError as error:
                await park_record(item.record, error)
                continue
            valid.append(item.event)
        await register_submissions(valid)

    async def redrive_stalled(older_than: timedelta, consumed_before: datetime | None = None) -> int:
        """Announce again appeals registered more than `older_than` ago and before `consumed_before` (the time
        before which the classifier has taken everything published) that the classifier has not decided: their
        event was lost (a broker that forgot its log) or never published. The event id is the registration's own,
        so downstream's idempotent writes catch a repeat; an appeal merely queued is younger than the horizon."""
        before = clock() - older_than
        if consumed_before is not None:
            before = min(before, consumed_before)
        documents = await repo.stalled(before=before)
        if documents:
            await publish_keyed(appeal_registered, [registration_from_document(d) for d in documents])
            stage_appeals.labels("intake", "redriven").inc(len(documents))
            count_reconciled("intake", "classification", [d.appeal_id for d in documents])
        return len(documents)

    return IntakeHandlers(router, redrive_stalled, register_submissions)
