"""The knowledge service's HTTP API (staff token): answers to a question, and consultations recorded.

- `GET /v1/answers?q=...&lang=uk&limit=3` -> `{"answers": [{article, title, categories, score, url, current}]}`;
  intake's public `/v1/answers` and the console's call desk ask this.
- `POST /v1/consultations` -> the consultation stored in `consultations` and `ConsultationGiven` published on
  `consultations.given` (after the write; the handlers' `record`). The same `request_id` from the same channel is the
  same consultation.
- `POST /v1/appeals/{id}/feedback` -> the resident's word on an automatic answer (through the channel the appeal came
  from; intake checks the channel's key); `helped: false` sends the appeal to the operators.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from services.knowledge.domain import AnswerView, answer_views, not_helped_report
from services.knowledge.library import ArticleShelf
from services.knowledge.metrics import answer_requests, not_helped
from services.knowledge.repository import Consultations
from shared.contracts.base import AppealId, Code, derived_event_id
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.intake import Language
from shared.contracts.knowledge import ConsentedContact, ConsultationGiven, ConsultationSummary
from shared.http_guard import answer_unavailable, guard
from shared.settings import ServiceSettings
from shared.staff_auth import StaffAuth, StaffCaller

MAX_QUESTION_LENGTH = 1000


class AnswersPage(BaseModel):
    answers: list[AnswerView]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Code = Field(description="the channel the resident answers through: the one the appeal came from")
    helped: bool


class FeedbackResult(BaseModel):
    appeal_id: str
    helped: bool
    # True: the appeal went to the operators (triage).
    sent_to_operators: bool


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
    feedback: Consultations,
    report: Callable[[DepartmentUpdate], Awaitable[None]],
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

    @app.post("/v1/appeals/{appeal_id}/feedback", response_model=FeedbackResult)
    async def record_feedback(appeal_id: Annotated[AppealId, Path()], request: FeedbackRequest) -> FeedbackResult:
        """The resident's word on an automatic answer; `helped: false` sends the appeal to the operators."""
        answered = await feedback.automatic_answer(appeal_id)
        # Another channel's appeal is none of the caller's business: answered like an unknown one.
        if answered is None or answered.channel != request.channel:
            raise HTTPException(404, f"appeal {appeal_id}: no automatic answer given through {request.channel}")
        first_word = await feedback.record_feedback(answered.id, request.helped)
        if request.helped is False:
            if first_word:
                not_helped.labels(answered.category).inc()
            # Sent again for a repeated word: the first send may have failed after the write.
            await report(not_helped_report(appeal_id))
        return FeedbackResult(appeal_id=appeal_id, helped=request.helped, sent_to_operators=not request.helped)

    answer_unavailable(app)
    guard(app, settings)
    return app
