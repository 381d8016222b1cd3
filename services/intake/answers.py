"""`GET /v1/answers?q=...&lang=uk`: the knowledge base's best articles for a question, for channels (a resident
reads the answer before filing) and anyone else; intake asks the knowledge service over HTTP with the staff token.

Refused with 422 naming `q` when the question is empty or longer than 1,000 characters; 503 when the knowledge service
does not answer (the channel may file the appeal as usual).

`POST /v1/appeals/{id}/feedback {"helped": false}` with the channel's key: the resident's word on an automatic answer
given through that channel; "did not help" sends the appeal to an operator (triage).
"""

import logging
from collections.abc import Awaitable
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict

from services.intake.settings import IntakeSettings
from shared.channel_keys import KEY_HEADER, ChannelRegistry
from shared.contracts.base import AppealId
from shared.contracts.intake import Language

logger = logging.getLogger(__name__)

MAX_QUESTION_LENGTH = 1000
RETRY_AFTER_S = 5


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helped: bool


def answers_router(settings: IntakeSettings, registry: ChannelRegistry) -> APIRouter:
    router = APIRouter()
    key_header = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="The channel's API key.")
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
        return await _ask(knowledge.get("/v1/answers", params={"q": q, "lang": lang, "limit": limit}))

    @router.post(
        "/v1/appeals/{appeal_id}/feedback",
        tags=["knowledge"],
        summary="The resident's word on an automatic answer: helped or not (not: the appeal goes to an operator)",
    )
    async def feedback(
        appeal_id: Annotated[AppealId, Path()],
        body: Feedback,
        key: Annotated[str | None, Depends(key_header)],
    ) -> Any:
        if not key:
            raise HTTPException(401, "missing API key: send the channel's key", {"WWW-Authenticate": "ApiKey"})
        channel = await registry.by_key(key)
        if channel is None or not channel.active:
            raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "ApiKey"})
        return await _ask(
            knowledge.post(f"/v1/appeals/{appeal_id}/feedback", json={"channel": channel.name, "helped": body.helped})
        )

    return router


async def _ask(request: Awaitable[httpx.Response]) -> JSONResponse:
    """The knowledge service's answer passed on; 503 when it does not answer."""
    try:
        response = await request
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
