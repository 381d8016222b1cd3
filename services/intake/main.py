"""Wiring of the intake service: its channels, handlers, HTTP API and redrive job in the common service frame."""

from datetime import timedelta

from faststream.asgi import AsgiFastStream

from services.intake.api import create_api
from services.intake.handlers import build_router
from services.intake.repository import AppealReads, MongoIdempotencyKeys, MongoIntakeRepository
from services.intake.settings import IntakeSettings
from shared.channel_keys import ChannelRegistry
from shared.channels import load_channels
from shared.contracts.base import utcnow
from shared.service import Periodic, Wiring, assemble
from shared.staff_auth import StaffAuth


def create_app(settings: IntakeSettings | None = None) -> AsgiFastStream:
    settings = settings or IntakeSettings()
    # Before anything connects: without its staff token outside development the service refuses to start.
    staff = StaffAuth.from_settings(settings)

    def wire(store, park_record, taxonomy) -> Wiring:
        channels = load_channels(settings.channels_path)
        registry = ChannelRegistry(store)
        handlers = build_router(settings, MongoIntakeRepository(store), channels, park_record, utcnow, registry)
        redrive = Periodic(
            "redrive stalled appeals",
            lambda: handlers.redrive_stalled(timedelta(seconds=settings.redrive_after_s)),
            settings.redrive_interval_s,
        )
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
        return Wiring(handlers.router, background=[redrive], http_app=api)

    return assemble(
        settings,
        wire,
        title="CityLine intake",
        description="Registers residents' appeals from every channel and gives each its number.",
    )
