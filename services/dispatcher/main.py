"""Wiring of the dispatcher: its routing data and handlers in the common service frame."""

from faststream.asgi import AsgiFastStream

from services.dispatcher.domain import load_routing
from services.dispatcher.handlers import build_router
from services.dispatcher.repository import MongoDispatcherRepository
from services.dispatcher.settings import DispatcherSettings
from shared.contracts.base import utcnow
from shared.service import Wiring, assemble


def create_app(settings: DispatcherSettings | None = None) -> AsgiFastStream:
    settings = settings or DispatcherSettings()

    def wire(store, park_record, taxonomy) -> Wiring:
        routing = load_routing(settings.routing_path, taxonomy, settings.deadlines())
        return Wiring(build_router(settings, MongoDispatcherRepository(store), routing, park_record, utcnow))

    return assemble(
        settings,
        wire,
        title="CityLine dispatcher",
        description="Assigns each appeal to the responsible department with a deadline and publishes its task.",
    )
