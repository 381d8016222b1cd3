"""Wiring of the intake service: settings, broker, store, handlers, /health and /metrics."""

from datetime import timedelta

from faststream.asgi import AsgiFastStream

from services.intake.handlers import build_router
from services.intake.repository import MongoIntakeRepository
from services.intake.settings import IntakeSettings
from shared.broker import build_broker
from shared.channels import load_channels
from shared.consuming import Parker
from shared.contracts.base import utcnow
from shared.service import Periodic, service_app, store_lifespan
from shared.store import Store
from shared.taxonomy import cached_taxonomy


def create_app(settings: IntakeSettings | None = None) -> AsgiFastStream:
    settings = settings or IntakeSettings()
    broker = build_broker(settings)
    store = Store.from_settings(settings, app_name="cityline-intake")
    handlers = build_router(
        settings,
        MongoIntakeRepository(store),
        load_channels(settings.channels_path),
        Parker(broker, settings.service_name),
        utcnow,
    )
    broker.include_router(handlers.router)
    redrive = Periodic(
        "redrive stalled appeals",
        lambda: handlers.redrive_stalled(timedelta(seconds=settings.redrive_after_s)),
        settings.redrive_interval_s,
    )
    return service_app(
        settings=settings,
        broker=broker,
        lifespan=store_lifespan(store, settings, cached_taxonomy(settings.taxonomy_path), background=[redrive]),
        title="CityLine intake",
        description="Registers residents' appeals from every channel and gives each its number.",
    )
