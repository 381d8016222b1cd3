"""Wiring of the intake service: its channels, handlers and redrive job in the common service frame."""

from datetime import timedelta

from faststream.asgi import AsgiFastStream

from services.intake.handlers import build_router
from services.intake.repository import MongoIntakeRepository
from services.intake.settings import IntakeSettings
from shared.channels import load_channels
from shared.contracts.base import utcnow
from shared.service import Periodic, Wiring, assemble


def create_app(settings: IntakeSettings | None = None) -> AsgiFastStream:
    settings = settings or IntakeSettings()

    def wire(store, park_record, taxonomy) -> Wiring:
        channels = load_channels(settings.channels_path)
        handlers = build_router(settings, MongoIntakeRepository(store), channels, park_record, utcnow)
        redrive = Periodic(
            "redrive stalled appeals",
            lambda: handlers.redrive_stalled(timedelta(seconds=settings.redrive_after_s)),
            settings.redrive_interval_s,
        )
        return Wiring(handlers.router, background=[redrive])

    return assemble(
        settings,
        wire,
        title="CityLine intake",
        description="Registers residents' appeals from every channel and gives each its number.",
    )
