"""Wiring of the knowledge service: its articles (re-indexed when the folder changes), its API and its events in the
common service frame."""

from faststream.asgi import AsgiFastStream

from services.knowledge.api import build_knowledge_api
from services.knowledge.handlers import KnowledgeHandlers
from services.knowledge.library import ArticleShelf
from services.knowledge.repository import MongoConsultations, ensure_indexes
from services.knowledge.settings import KnowledgeSettings
from shared.contracts.base import utcnow
from shared.service import Periodic, Wiring, assemble
from shared.staff_auth import StaffAuth


def create_app(settings: KnowledgeSettings | None = None) -> AsgiFastStream:
    settings = settings or KnowledgeSettings()
    # Before anything connects: without its staff token outside development the service refuses to start.
    staff = StaffAuth.from_settings(settings)

    def wire(store, park_record, taxonomy) -> Wiring:
        shelf = ArticleShelf(settings.articles_path, taxonomy)
        reload = Periodic(
            "articles reload",
            shelf.reload_if_changed,
            settings.articles_reload_s,
            first_delay_s=settings.articles_reload_s,
        )
        handlers = KnowledgeHandlers(
            settings,
            MongoConsultations(store),
            shelf,
            settings.answer_threshold(),
            frozenset(settings.answer_channels),
            settings.article_base_url,
            park_record,
            utcnow,
        )
        api = build_knowledge_api(
            shelf,
            handlers.record,
            handlers.repo,
            handlers.report,
            utcnow,
            staff,
            settings,
            settings.article_base_url,
        )
        return Wiring(handlers.router, background=(reload,), http_app=api, indexes=ensure_indexes)

    return assemble(
        settings,
        wire,
        title="CityLine knowledge base",
        description="Answers residents' questions from the knowledge base's articles and records the consultations.",
    )
