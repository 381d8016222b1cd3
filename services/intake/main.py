"""Wiring of the intake service: settings, broker, store, handlers, /health and /metrics."""

from faststream.asgi import AsgiFastStream

from services.intake.handlers import build_router
from services.intake.repository import MongoIntakeRepository
from services.intake.settings import IntakeSettings
from shared.broker import build_broker
from shared.channels import load_channels
from shared.consuming import Parker
from shared.contracts.base import utcnow
from shared.service import service_app, store_lifespan
from shared.store import Store
from shared.taxonomy import cached_taxonomy


def create_app(settings: IntakeSettings | None = None) -> AsgiFastStream:
    settings = settings or IntakeSettings()
    broker = build_broker(settings)
    store = Store.from_settings(settings, app_name="cityline-intake")
    broker.include_router(
        build_router(
            settings,
            MongoIntakeRepository(store),
            load_channels(settings.channels_path),
            Parker(broker, settings.service_name),
            utcnow,
        )
    )
    return service_app(
        settings=settings,
        broker=broker,
        lifespan=store_lifespan(store, settings, cached_taxonomy(settings.taxonomy_path)),
        title="CityLine intake",
        description="Registers residents' appeals from every channel and gives each its number.",
    )
