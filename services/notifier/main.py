"""Wiring of the notifier: settings, broker, store, templates, handlers, /health and /metrics."""

from faststream.asgi import AsgiFastStream

from services.notifier.domain import load_templates
from services.notifier.handlers import build_router
from services.notifier.repository import MongoNotifierRepository
from services.notifier.settings import NotifierSettings
from shared.broker import build_broker
from shared.consuming import Parker
from shared.contracts.base import utcnow
from shared.service import service_app, store_lifespan
from shared.store import Store
from shared.taxonomy import cached_taxonomy


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings()
    taxonomy = cached_taxonomy(settings.taxonomy_path)
    templates = load_templates(settings.templates_path)
    broker = build_broker(settings)
    store = Store.from_settings(settings, app_name="cityline-notifier")
    broker.include_router(
        build_router(
            settings,
            MongoNotifierRepository(store),
            templates,
            taxonomy,
            settings.status_hint,
            Parker(broker, settings.service_name),
            utcnow,
        )
    )
    return service_app(
        settings=settings,
        broker=broker,
        lifespan=store_lifespan(store, settings, taxonomy),
        title="CityLine notifier",
        description="Tells residents what happened to their appeals, and records every notice.",
    )
