"""The knowledge service's HTTP API (staff token): answers to a question, and consultations recorded.

- `GET /v1/answers?q=...&lang=uk&limit=3` -> `{"answers": [{article, title, categories, score, url, current}]}`;
  intake's public `/v1/answers` and the console's call desk ask this.
- `POST /v1/consultations` -> the consultation stored in `consultations` and `ConsultationGiven` published on
  `consultations.given` (after the write; the handlers' `record`). The same `request_id` from the same channel is the
  same consultation.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from services.knowledge.domain import AnswerView, answer_views
from services.knowledge.library import ArticleShelf
from services.knowledge.metrics import answer_requests
from shared.contracts.base import Code, derived_event_id
from shared.contracts.intake import Language
from shared.contracts.knowledge import ConsentedContact, ConsultationGiven, ConsultationSummary
from shared.http_guard import answer_unavailable, guard
from shared.settings import ServiceSettings
from shared.staff_auth import StaffAuth, StaffCaller

MAX_QUESTION_LENGTH = 1000


class AnswersPage(BaseModel):
    answers: list[AnswerView]


class ConsultationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: uuid.UUID = Field(description="chosen by the caller; the same id records one consultation")
    channel: Code = Field(description="where the resident asked: phone (the call desk), web, mobile, ...")
    article: str = Field(min_length=1, max_length=80)
    # Default: the article's first category.
    category: Code | None = None
    contact: ConsentedContact | None = None


def question_text(q: str) -> str:
    """The question, stripped; 422 naming `q` when nothing is left."""
    text = q.strip()
    if not text:
        raise HTTPException(422, [{"loc": ["query", "q"], "msg": "the question is empty", "type": "value_error"}])
    return text


QuestionQuery = Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_LENGTH, description="the question")]


def build_knowledge_api(
    shelf: ArticleShelf,
    record: Callable[[list[ConsultationGiven]], Awaitable[set[str]]],
    clock: Callable[[], datetime],
    staff: StaffAuth,
    settings: ServiceSettings,
    article_base_url: str,
) -> FastAPI:
    app = FastAPI(
        title="CityLine knowledge base",
        description="Answers from the knowledge base's articles, and the consultations given with them. Staff only.",
        dependencies=[Depends(staff.required)],
    )

    @app.get("/v1/answers", response_model=AnswersPage)
    async def answers(
        q: QuestionQuery,
        lang: Language = "uk",
        limit: Annotated[int, Query(ge=1, le=10)] = 3,
    ) -> AnswersPage:
        found = shelf().search(question_text(q), clock().date(), limit=limit)
        answer_requests.labels("answered" if found else "empty").inc()
        return AnswersPage(answers=answer_views(found, lang, article_base_url))

    @app.post("/v1/consultations", response_model=ConsultationSummary, status_code=201)
    async def record_consultation(
        request: ConsultationRequest, caller: Annotated[StaffCaller, Depends(staff.required)]
    ) -> ConsultationSummary:
        article = shelf().library.by_id().get(request.article)
        if article is None:
            raise HTTPException(
                422, [{"loc": ["body", "article"], "msg": f"no article {request.article!r}", "type": "value_error"}]
            )
        category = request.category or article.categories[0]
        event = ConsultationGiven(
            event_id=derived_event_id("consultation", f"{request.channel}:{request.request_id}"),
            channel=request.channel,
            category=category,
            article=article.id,
            given_by="operator" if caller.actor else "channel",
            operator=caller.actor,
            given_at=clock(),
            contact=request.contact,
        )
        stored_before = await record([event])
        return ConsultationSummary(
            consultation_id=str(event.event_id), created=str(event.event_id) not in stored_before
        )

    answer_unavailable(app)
    guard(app, settings)
    return app
