"""Wiring of the classifier: settings, broker, store, rules, handlers, /health and /metrics."""

from faststream.asgi import AsgiFastStream

from services.classifier.domain import load_rules
from services.classifier.handlers import build_router
from services.classifier.repository import MongoClassifierRepository
from services.classifier.settings import ClassifierSettings
from shared.broker import build_broker
from shared.consuming import Parker
from shared.contracts.base import utcnow
from shared.service import service_app, store_lifespan
from shared.store import Store
from shared.taxonomy import cached_taxonomy


def create_app(settings: ClassifierSettings | None = None) -> AsgiFastStream:
    settings = settings or ClassifierSettings()
    taxonomy = cached_taxonomy(settings.taxonomy_path)
    rules = load_rules(settings.rules_path, taxonomy)
    broker = build_broker(settings)
    store = Store.from_settings(settings, app_name="cityline-classifier")
    broker.include_router(
        build_router(
            settings, MongoClassifierRepository(store), lambda: rules, Parker(broker, settings.service_name), utcnow
        )
    )
    return service_app(
        settings=settings,
        broker=broker,
        lifespan=store_lifespan(store, settings, taxonomy),
        title="CityLine classifier",
        description="Decides each appeal's category and urgency by rules, and says which rules fired.",
    )
