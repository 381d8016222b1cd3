"""Wiring of the classifier: its rules (reloaded when the file changes), handlers and live preview in the common
service frame."""

import logging
from datetime import datetime

from fastapi import Depends
from faststream.asgi import AsgiFastStream

from services.classifier.domain import classified_from_records
from services.classifier.handlers import build_router
from services.classifier.opinion import LearnedModel, load_model
from services.classifier.preview import build_preview_app
from services.classifier.repository import MongoClassifierRepository, ensure_indexes
from services.classifier.rulebook import RuleBook
from services.classifier.settings import ClassifierSettings
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.contracts.classifier import AppealClassified
from shared.reconcile import reconciliation
from shared.service import Periodic, Wiring, assemble
from shared.staff_auth import StaffAuth

logger = logging.getLogger(__name__)


def second_opinion_model(settings: ClassifierSettings) -> LearnedModel | None:
    """The learned model if its file is there; a file that is there but unusable stops the start (ModelError names
    the file), since running without the flag someone configured would hide a broken deployment."""
    if not settings.model_path.exists():
        logger.info("no second-opinion model at %s: the rules decide alone", settings.model_path)
        return None
    model = load_model(settings.model_path)
    logger.info("second-opinion model %s loaded from %s", model.version, settings.model_path)
    return model


def create_app(settings: ClassifierSettings | None = None) -> AsgiFastStream:
    settings = settings or ClassifierSettings()
    # Before anything connects: without its staff token outside development the service refuses to start.
    staff = StaffAuth.from_settings(settings)
    model = second_opinion_model(settings)

    def wire(store, park_record, taxonomy) -> Wiring:
        rules = RuleBook(settings.rules_path, taxonomy)
        reload = Periodic(
            "rules reload", rules.reload_if_changed, settings.rules_reload_s, first_delay_s=settings.rules_reload_s
        )
        repo = MongoClassifierRepository(store)
        router = build_router(settings, repo, rules, park_record, utcnow, model, settings.policy())

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
        preview = build_preview_app(rules, model, settings.policy(), dependencies=[Depends(staff.required)])
        return Wiring(router, background=(reload, redrive), http_app=preview, indexes=ensure_indexes)

    return assemble(
        settings,
        wire,
        title="CityLine classifier",
        description="Decides each appeal's category and urgency by rules, and says which rules fired.",
    )
