"""Wiring of the dispatcher: settings, broker, store, routing data, handlers, /health and /metrics."""

from faststream.asgi import AsgiFastStream

from services.dispatcher.domain import load_routing
from services.dispatcher.handlers import build_router
from services.dispatcher.repository import MongoDispatcherRepository
from services.dispatcher.settings import DispatcherSettings
from shared.broker import build_broker
from shared.consuming import Parker
from shared.contracts.base import utcnow
from shared.service import service_app, store_lifespan
from shared.store import Store
from shared.taxonomy import cached_taxonomy


def create_app(settings: DispatcherSettings | None = None) -> AsgiFastStream:
    settings = settings or DispatcherSettings()
    taxonomy = cached_taxonomy(settings.taxonomy_path)
    routing = load_routing(settings.routing_path, taxonomy)
    broker = build_broker(settings)
    store = Store.from_settings(settings, app_name="cityline-dispatcher")
    broker.include_router(
        build_router(settings, MongoDispatcherRepository(store), routing, Parker(broker, settings.service_name), utcnow)
    )
    return service_app(
        settings=settings,
        broker=broker,
        lifespan=store_lifespan(store, settings, taxonomy),
        title="CityLine dispatcher",
        description="Assigns each appeal to the responsible department with a deadline and publishes its task.",
    )
