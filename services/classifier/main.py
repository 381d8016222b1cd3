"""Wiring of the classifier: its rules (reloaded when the file changes) and handlers in the common service frame."""

from faststream.asgi import AsgiFastStream

from services.classifier.handlers import build_router
from services.classifier.repository import MongoClassifierRepository
from services.classifier.rulebook import RuleBook
from services.classifier.settings import ClassifierSettings
from shared.contracts.base import utcnow
from shared.service import Periodic, Wiring, assemble


def create_app(settings: ClassifierSettings | None = None) -> AsgiFastStream:
    settings = settings or ClassifierSettings()

    def wire(store, park_record, taxonomy) -> Wiring:
        rules = RuleBook(settings.rules_path, taxonomy)
        reload = Periodic(
            "rules reload", rules.reload_if_changed, settings.rules_reload_s, first_delay_s=settings.rules_reload_s
        )
        router = build_router(settings, MongoClassifierRepository(store), rules, park_record, utcnow)
        return Wiring(router, background=(reload,))

    return assemble(
        settings,
        wire,
        title="CityLine classifier",
        description="Decides each appeal's category and urgency by rules, and says which rules fired.",
    )
