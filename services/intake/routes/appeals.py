"""The native /v1 API: register an appeal, read its status."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from services.intake.dependencies import IntakeDep, NativeReaderDep, WritingChannelDep
from services.intake.domain import resident_view
from services.intake.models import ERRORS, AppealAccepted, AppealCreate, AppealStatusOut, IdempotencyKey, Problem
from shared.contracts.base import AppealId
from shared.contracts.intake import Address, AppealSubmitted, SubmittedContact

# A channel's clock may run a little ahead of ours; more than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)

router = APIRouter(prefix="/v1")


@router.post("/appeals", status_code=201, response_model=AppealAccepted, responses=ERRORS, tags=["appeals"])
async def create_appeal(
    body: AppealCreate,
    request: Request,
    response: Response,
    intake: IntakeDep,
    channel: WritingChannelDep,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> AppealAccepted:
    """Register a resident's appeal; the answer carries its number and where to follow it."""
    if body.category is not None and body.category not in intake.taxonomy.categories:
        raise RequestValidationError(
            [{"loc": ("body", "category"), "msg": f"unknown category {body.category!r}", "type": "value_error"}]
        )
    if body.received_at is not None and body.received_at > intake.clock() + CLOCK_SKEW:
        raise RequestValidationError(
            [{"loc": ("body", "received_at"), "msg": "is in the future", "type": "value_error"}]
        )
    event_id = await intake.claim_key(channel, idempotency_key, body.model_dump(mode="json"))
    submission = AppealSubmitted(
        event_id=event_id,
        correlation_id=body.correlation_id or str(event_id),
        channel=channel.name,
        external_id=body.external_id,
        text=body.text,
        contact=SubmittedContact.model_validate(body.contact.model_dump()) if body.contact else None,
        address=Address.model_validate(body.address.model_dump()) if body.address else None,
        received_at=body.received_at or intake.clock(),
        attachments=body.attachments,
        requested_category=body.category,
    )
    registered = await intake.register(submission)
    status_url = str(request.url_for("appeal_status", appeal_id=registered.appeal_id))
    response.headers["Location"] = status_url
    if not registered.new:
        response.status_code = 200
    return AppealAccepted(
        appeal_id=registered.appeal_id, status="registered", status_url=status_url, created=registered.new
    )


@router.get("/appeals/{appeal_id}", response_model=AppealStatusOut, responses={404: {"model": Problem}})
async def appeal_status(
    appeal_id: Annotated[AppealId, Path(description="The appeal's number")],
    intake: IntakeDep,
    reader: NativeReaderDep,
) -> Any:
    """An appeal's status, history, department and due date: what a resident may see (notes without private
    details, unless the caller is its channel or staff)."""
    view = await intake.store.appeal_view(appeal_id)
    if view is None:
        raise HTTPException(404, f"no appeal {appeal_id}")
    return resident_view(view, whole=reader.sees_whole(view))
