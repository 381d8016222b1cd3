"""Wiring of the classifier: its rules and handlers in the common service frame."""

from faststream.asgi import AsgiFastStream

from services.classifier.domain import load_rules
from services.classifier.handlers import build_router
from services.classifier.repository import MongoClassifierRepository
from services.classifier.settings import ClassifierSettings
from shared.contracts.base import utcnow
from shared.service import Wiring, assemble


def create_app(settings: ClassifierSettings | None = None) -> AsgiFastStream:
    settings = settings or ClassifierSettings()

    def wire(store, park_record, taxonomy) -> Wiring:
        rules = load_rules(settings.rules_path, taxonomy)
        return Wiring(build_router(settings, MongoClassifierRepository(store), lambda: rules, park_record, utcnow))

    return assemble(
        settings,
        wire,
        title="CityLine classifier",
        description="Decides each appeal's category and urgency by rules, and says which rules fired.",
    )
