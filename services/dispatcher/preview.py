"""The dispatcher's live preview over HTTP: the department, district, due date and outcome it would give an appeal,
and street suggestions from its gazetteer for the address field.

The operator console shows both while an operator registers a call. The preview is the handler's own decide step
(`route` with the routing in force) applied to an appeal that does not exist yet; nothing is stored or published.
Grouping into a mass incident needs the store and is not previewed (the console looks up open incidents itself).
"""

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.dispatcher.domain import Routing, route
from services.dispatcher.streets import StreetIndex
from shared.contracts.base import Code
from shared.contracts.classifier import AppealClassified, Classification
from shared.contracts.dispatcher import Assignment
from shared.contracts.intake import Address

# The appeal has no number yet; routing does not depend on it.
UNREGISTERED = "0000000"


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classification: Classification
    address: Address | None = None
    channel: Code = "phone"
    received_at: AwareDatetime
    # The appeal's text, when the caller has it: a district or street named only in the text counts, as in routing.
    text: str = Field(default="", max_length=5000)


class PreviewResponse(BaseModel):
    assignment: Assignment


class StreetItem(BaseModel):
    name: str
    district: str | None
    district_name: str
    matched: str


class StreetPage(BaseModel):
    items: list[StreetItem]


def build_preview_router(routing: Routing, dependencies: Sequence[Any] = ()) -> APIRouter:
    """The preview and street routes; `dependencies` guard every route (the staff token)."""
    router = APIRouter(dependencies=list(dependencies))
    streets = StreetIndex(routing.gazetteer, routing.taxonomy.districts) if routing.gazetteer else None

    @router.post("/v1/preview", response_model=PreviewResponse)
    async def preview(request: PreviewRequest) -> PreviewResponse:
        category = request.classification.category
        if category not in routing.taxonomy.categories:
            raise HTTPException(
                422,
                [
                    {
                        "loc": ["body", "classification", "category"],
                        "msg": f"unknown category {category!r}",
                        "type": "value_error",
                    }
                ],
            )
        appeal = AppealClassified(
            appeal_id=UNREGISTERED,
            channel=request.channel,
            text=request.text,
            address=request.address,
            received_at=request.received_at,
            registered_at=request.received_at,
            classification=request.classification,
        )
        return PreviewResponse(assignment=route(appeal, routing, request.received_at).assigned.assignment)

    @router.get("/v1/streets", response_model=StreetPage)
    async def suggest_streets(
        q: Annotated[str, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> StreetPage:
        found = streets.suggest(q, limit) if streets is not None else []
        return StreetPage(items=[StreetItem(**vars(item)) for item in found])

    return router
