"""Wiring of the intake service: its channels, handlers, HTTP API and redrive job in the common service frame."""

from datetime import timedelta

from faststream.asgi import AsgiFastStream

from services.intake.api import create_api
from services.intake.handlers import build_router
from services.intake.repository import (
    AppealReads,
    MongoIdempotencyKeys,
    MongoIntakeRepository,
    MongoReplies,
    ensure_indexes,
)
from services.intake.settings import IntakeSettings
from services.intake.verdicts import build_reply_router, declare_reply_publisher
from shared.channel_keys import ChannelRegistry
from shared.channels import load_channels
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.contracts.topics import DEFAULT_PARTITIONS
from shared.reconcile import ConsumedHorizon
from shared.service import Periodic, Wiring, assemble
from shared.settings import group_of
from shared.staff_auth import StaffAuth


def create_app(settings: IntakeSettings | None = None) -> AsgiFastStream:
    settings = settings or IntakeSettings()
    # Before anything connects: without its staff token outside development the service refuses to start.
    staff = StaffAuth.from_settings(settings)

    def wire(store, park_record, taxonomy) -> Wiring:
        channels = load_channels(settings.channels_path)
        registry = ChannelRegistry(store)
        handlers = build_router(settings, MongoIntakeRepository(store), channels, park_record, utcnow, registry)
        # The classifier's own progress: only what it has taken and not decided was lost on the way.
        classifier_progress = ConsumedHorizon(
            settings.kafka_bootstrap_servers,
            topics.APPEALS_REGISTERED,
            (group_of("classifier"),),
            utcnow,
            DEFAULT_PARTITIONS,
        )

        async def redrive() -> None:
            consumed_before = await classifier_progress.advance()
            if consumed_before is not None:
                await handlers.redrive_stalled(timedelta(seconds=settings.redrive_after_s), consumed_before)

        redriving = Periodic("redrive stalled appeals", redrive, settings.redrive_interval_s)
        api = create_api(
            register_submissions=handlers.register_submissions,
            registry=registry,
            idempotency_keys=MongoIdempotencyKeys(store),
            reads=AppealReads(store),
            store=store,
            taxonomy=taxonomy,
            clock=utcnow,
            settings=settings,
            staff=staff,
        )
        secret = settings.sms_inbound_secret.get_secret_value() if settings.sms_inbound_secret else None
        replies = declare_reply_publisher(handlers.router)
        api.include_router(build_reply_router(MongoReplies(store), replies, utcnow, secret, staff))
        return Wiring(handlers.router, background=[redriving], http_app=api, indexes=ensure_indexes)

    return assemble(
        settings,
        wire,
        title="CityLine intake",
        description="Registers residents' appeals from every channel and gives each its number.",
    )
