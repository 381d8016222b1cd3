"""Open311 GeoReport v2's routes: the taxonomy as services, appeals as service requests (the shapes are
services.intake.open311's)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query

from services.intake.dependencies import IntakeDep, Open311ReaderDep
from services.intake.errors import OPEN311
from services.intake.models import ERRORS, OPEN311_ERRORS, IdempotencyKey
from services.intake.open311 import (
    MAX_REQUESTS,
    Open311Error,
    ServiceRequestForm,
    requests_query,
    service_definition,
    service_request,
    services,
    submission_from_form,
    token_answer,
)

router = APIRouter(prefix=OPEN311, tags=["open311"])


@router.get("/services.json")
async def open311_services(intake: IntakeDep, jurisdiction_id: str | None = None) -> list[dict[str, Any]]:
    return services(intake.taxonomy)


@router.get("/services/{service_code}.json", responses=OPEN311_ERRORS)
async def open311_service_definition(
    service_code: str, intake: IntakeDep, jurisdiction_id: str | None = None
) -> dict[str, Any]:
    return service_definition(intake.taxonomy, service_code)


@router.post("/requests.json", status_code=201, responses={**ERRORS, **OPEN311_ERRORS})
async def open311_create_request(
    intake: IntakeDep,
    api_key: Annotated[str | None, Form()] = None,
    service_code: Annotated[str | None, Form()] = None,
    jurisdiction_id: Annotated[str | None, Form()] = None,
    lat: Annotated[float | None, Form(allow_inf_nan=False)] = None,
    long: Annotated[float | None, Form(allow_inf_nan=False)] = None,
    address_string: Annotated[str | None, Form(max_length=500)] = None,
    address_id: Annotated[str | None, Form(max_length=500)] = None,
    email: Annotated[str | None, Form(max_length=320)] = None,
    device_id: Annotated[str | None, Form(max_length=200)] = None,
    account_id: Annotated[str | None, Form(max_length=200)] = None,
    first_name: Annotated[str | None, Form(max_length=100)] = None,
    last_name: Annotated[str | None, Form(max_length=100)] = None,
    phone: Annotated[str | None, Form(max_length=40)] = None,
    description: Annotated[str | None, Form()] = None,
    media_url: Annotated[str | None, Form(max_length=2000)] = None,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> list[dict[str, Any]]:
    """Create a service request (form-encoded, as the spec says); answers its service_request_id."""
    channel = await intake.authorize(api_key, "as the api_key field")
    if not service_code:
        raise Open311Error(400, "service_code: required")
    form = ServiceRequestForm(
        service_code=service_code,
        description=description,
        lat=lat,
        long=long,
        address_string=address_string,
        address_id=address_id,
        email=email,
        device_id=device_id,
        account_id=account_id,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        media_url=media_url,
    )
    event_id = await intake.claim_key(channel, idempotency_key, form.__dict__)
    submission = submission_from_form(
        form, intake.taxonomy, channel=channel.name, event_id=event_id, received_at=intake.clock()
    )
    registered = await intake.register(submission)
    answer = {"service_request_id": registered.appeal_id, "service_notice": None, "account_id": account_id}
    return [{**answer, "token": registered.appeal_id}]


@router.get("/tokens/{token}.json", responses=OPEN311_ERRORS)
async def open311_token(token: str, intake: IntakeDep, jurisdiction_id: str | None = None) -> list[dict[str, Any]]:
    if not await intake.reads.by_ids([token]):
        raise Open311Error(404, f"token {token!r} not found")
    return token_answer(token)


@router.get("/requests/{service_request_id}.json", responses=OPEN311_ERRORS)
async def open311_request(
    service_request_id: str, intake: IntakeDep, reader: Open311ReaderDep, jurisdiction_id: str | None = None
) -> list[dict[str, Any]]:
    documents = await intake.reads.by_ids([service_request_id])
    if not documents:
        raise Open311Error(404, f"service_request_id {service_request_id!r} not found")
    return [service_request(d, intake.taxonomy, whole=reader.sees_whole(d)) for d in documents]


@router.get("/requests.json", responses=OPEN311_ERRORS)
async def open311_requests(
    intake: IntakeDep,
    reader: Open311ReaderDep,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
    jurisdiction_id: str | None = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_REQUESTS, description="Requests a page.")] = MAX_REQUESTS,
    page: Annotated[int, Query(ge=1, le=1000, description="Page number, from 1, newest first.")] = 1,
) -> list[dict[str, Any]]:
    ids, query = requests_query(
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
        now=intake.clock,
    )
    if ids:
        documents = (await intake.reads.by_ids(ids))[(page - 1) * page_size : page * page_size]
    else:
        documents = await intake.reads.search(query, page_size, skip=(page - 1) * page_size)
    return [service_request(d, intake.taxonomy, whole=reader.sees_whole(d)) for d in documents]
