"""`GET /v1/answers?q=...&lang=uk`: the knowledge base's best articles for a question, for channels (a resident
reads the answer before filing) and anyone else; intake asks the knowledge service over HTTP with the staff token.

Refused with 422 naming `q` when the question is empty or longer than 1,000 characters; 503 when the knowledge service
does not answer (the channel may file the appeal as usual).
"""

import logging
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from services.intake.settings import IntakeSettings
from shared.contracts.intake import Language

logger = logging.getLogger(__name__)

MAX_QUESTION_LENGTH = 1000
RETRY_AFTER_S = 5


def answers_router(settings: IntakeSettings) -> APIRouter:
    router = APIRouter()
    token = settings.staff_token.get_secret_value() if settings.staff_token else ""
    knowledge = httpx.AsyncClient(
        base_url=settings.knowledge_url,
        timeout=settings.knowledge_timeout_s,
        headers={"Authorization": f"Bearer {token}"},
    )

    @router.get("/v1/answers", tags=["knowledge"], summary="The best articles for a resident's question")
    async def answers(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_LENGTH, description="the question")],
        lang: Language = "uk",
        limit: Annotated[int, Query(ge=1, le=10)] = 3,
    ) -> Any:
        if not q.strip():
            raise HTTPException(422, [{"loc": ["query", "q"], "msg": "the question is empty", "type": "value_error"}])
        try:
            response = await knowledge.get("/v1/answers", params={"q": q, "lang": lang, "limit": limit})
        except httpx.HTTPError as error:
            logger.error("the knowledge service did not answer: %s", type(error).__name__)
            response = None
        if response is None or response.status_code >= 500 or response.status_code in (401, 403):
            return JSONResponse(
                {"detail": "the knowledge base is not available right now; try again shortly"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return JSONResponse(response.json(), status_code=response.status_code)

    return router
