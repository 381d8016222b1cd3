"""Wiring of the notifier: its templates and handlers in the common service frame."""

from faststream.asgi import AsgiFastStream

from services.notifier.domain import load_templates
from services.notifier.handlers import build_router
from services.notifier.repository import MongoNotifierRepository
from services.notifier.settings import NotifierSettings
from shared.contracts.base import utcnow
from shared.service import Wiring, assemble


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings()

    def wire(store, park_record, taxonomy) -> Wiring:
        templates = load_templates(settings.templates_path)
        repo = MongoNotifierRepository(store)
        return Wiring(build_router(settings, repo, templates, taxonomy, settings.status_hint, park_record, utcnow))

    return assemble(
        settings,
        wire,
        title="CityLine notifier",
        description="Tells residents what happened to their appeals, and records every notice.",
    )
