"""Wiring of the classifier: its rules (reloaded when the file changes) and handlers in the common service frame."""

from datetime import datetime

from faststream.asgi import AsgiFastStream

from services.classifier.domain import classified_from_records
from services.classifier.handlers import build_router
from services.classifier.repository import MongoClassifierRepository
from services.classifier.rulebook import RuleBook
from services.classifier.settings import ClassifierSettings
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.contracts.classifier import AppealClassified
from shared.reconcile import reconciliation
from shared.service import Periodic, Wiring, assemble


def create_app(settings: ClassifierSettings | None = None) -> AsgiFastStream:
    settings = settings or ClassifierSettings()

    def wire(store, park_record, taxonomy) -> Wiring:
        rules = RuleBook(settings.rules_path, taxonomy)
        reload = Periodic(
            "rules reload", rules.reload_if_changed, settings.rules_reload_s, first_delay_s=settings.rules_reload_s
        )
        repo = MongoClassifierRepository(store)
        router = build_router(settings, repo, rules, park_record, utcnow)

        async def undispatched(before: datetime) -> list[AppealClassified]:
            return [classified_from_records(appeal, decision) for appeal, decision in await repo.undispatched(before)]

        # Decided, yet not written by the dispatcher although it has taken everything published before.
        redrive = reconciliation(
            settings,
            router,
            topic=topics.APPEALS_CLASSIFIED,
            next_stage="dispatcher",
            step="assignment",
            missing=undispatched,
            clock=utcnow,
        )
        return Wiring(router, background=(reload, redrive))

    return assemble(
        settings,
        wire,
        title="CityLine classifier",
        description="Decides each appeal's category and urgency by rules, and says which rules fired.",
    )
