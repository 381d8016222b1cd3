"""Intake's HTTP API: the native /v1 API and Open311 GeoReport v2, served inside the intake service.

Every write names its channel by an API key and registers through the same path as Kafka submissions
(`register_submissions`: reserve the number, insert, publish appeals.registered on the service's broker),
so the answer carries the appeal's number. Reads show the public what a resident may see, without private details
(services.intake.privacy), paged and limited per client address; the submitting channel (its key) and staff (the
staff token, shared.staff_auth) see an appeal whole.
"""

import asyncio
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Form, Header, HTTPException, Path, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints
from pymongo.errors import PyMongoError
from pyrate_limiter import Duration, Rate, RateItem, StateBucket, TokenBucket
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake.answers import answers_router
from services.intake.domain import idempotent_event_id, request_fingerprint, resident_view
from services.intake.handlers import Registered
from services.intake.metrics import http_request_seconds, http_requests
from services.intake.open311 import (
    MAX_REQUESTS,
    Open311Error,
    ServiceRequestForm,
    requests_query,
    service_definition,
    service_request,
    services,
    submission_from_form,
)
from services.intake.repository import AppealReads, IdempotencyKeys
from services.intake.settings import IntakeSettings
from shared.channel_keys import KEY_HEADER, ChannelRecord, ChannelRegistry
from shared.contracts.base import AppealId, Code
from shared.contracts.intake import Address, AppealSubmitted, AppealText, SubmittedContact
from shared.errors import TransientError
from shared.http_guard import RETRY_AFTER_S, UNAVAILABLE, guard, within_deadline
from shared.staff_auth import StaffAuth, StaffCaller
from shared.store import Store
from shared.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

OPEN311 = "/open311/v2"
# A channel's clock may run a little ahead of ours; more than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]
Register = Callable[[list[AppealSubmitted]], Awaitable[dict[str, Registered]]]


# ---- request and response bodies -------------------------------------------------------------------


class ContactIn(SubmittedContact):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddressIn(Address):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AppealCreate(BaseModel):
    """A resident's appeal as a channel sends it. Unknown fields are refused, so a typo is not silently lost."""

    model_config = ConfigDict(extra="forbid")

    text: AppealText = Field(description="The resident's words, 1–5,000 characters.")
    external_id: str | None = Field(
        None, min_length=1, max_length=128, description="The channel's own id: the same id gives the same appeal."
    )
    contact: ContactIn | None = Field(None, description="Phone in any usual form (normalized to E.164), e-mail.")
    address: AddressIn | None = Field(None, description="Coordinates must lie in the Kyiv area.")
    attachments: list[HttpUrl] = Field(default_factory=list, max_length=10, description="Links to photos, documents.")
    category: Code | None = Field(None, description="A category code of the taxonomy, if the resident chose one.")
    received_at: AwareDatetime | None = Field(None, description="When the channel received it; default: now.")
    correlation_id: str | None = Field(None, max_length=128)


class AppealAccepted(BaseModel):
    appeal_id: str
    status: str
    status_url: str
    created: bool = Field(description="False when this request repeated one already registered (idempotency).")


class DepartmentOut(BaseModel):
    code: str
    name: str | None = None


class HistoryEntryOut(BaseModel):
    status: str
    at: datetime
    note: str | None = None


class AppealStatusOut(BaseModel):
    """What a resident may see of an appeal: no contact, no text."""

    appeal_id: str
    status: str
    closed: bool
    received_at: datetime | None = None
    category: str | None = None
    urgency: str | None = None
    department: DepartmentOut | None = None
    due_at: datetime | None = None
    history: list[HistoryEntryOut]


class Problem(BaseModel):
    detail: Any


class Open311ErrorOut(BaseModel):
    code: int
    description: str


ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}}
OPEN311_ERRORS = {400: {"model": list[Open311ErrorOut]}, 404: {"model": list[Open311ErrorOut]}}


# ---- limits ------------------------------------------------------------------------------------------


class RateLimits:
    """Token buckets kept in this process (the rate a minute is also the burst): one per channel, and one per client
    address for anonymous reads. At most `max_buckets` are kept, the least recently used dropped first, so a flood of
    addresses cannot fill the memory."""

    def __init__(self, max_buckets: int = 10_000) -> None:
        self.max_buckets = max_buckets
        self.buckets: OrderedDict[tuple[str, int], StateBucket] = OrderedDict()

    def retry_after_s(self, key: str, per_minute: int) -> int | None:
        """None if the request may go on; otherwise the seconds until it may."""
        bucket = self.buckets.pop((key, per_minute), None)
        if bucket is None:
            bucket = StateBucket([Rate(per_minute, Duration.MINUTE)], algorithm=TokenBucket())
        self.buckets[(key, per_minute)] = bucket
        while len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)
        item = RateItem(key, bucket.now())
        if bucket.put(item):
            return None
        return max(1, math.ceil(bucket.waiting(item) / 1000))


@dataclass(frozen=True)
class Reader:
    """Who reads: staff and an appeal's own channel see it whole; anyone else sees its public view."""

    staff: bool = False
    channel: str | None = None

    def sees_whole(self, document: dict[str, Any]) -> bool:
        return self.staff or (self.channel is not None and document.get("channel") == self.channel)


class RegistrationBatcher:
    """Registers concurrent requests together: one number reservation, one insert and one publish per batch.

    While a batch is being registered, newly arrived submissions wait and go in the next one, so a lone request
    waits for nothing and a busy API makes few round trips (the store's round trips are the bottleneck).
    """

    def __init__(self, register_submissions: Register, deadline_s: float, max_batch: int = 200) -> None:
        self.register_submissions = register_submissions
        self.deadline_s = deadline_s
        self.max_batch = max_batch
        self.pending: list[tuple[AppealSubmitted, asyncio.Future]] = []
        self.draining: asyncio.Task | None = None

    async def register(self, submission: AppealSubmitted) -> Registered:
        answer = asyncio.get_running_loop().create_future()
        self.pending.append((submission, answer))
        if self.draining is None:
            self.draining = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
                await self._register(batch)
        finally:
            self.draining = None

    async def _register(self, batch: list[tuple[AppealSubmitted, asyncio.Future]]) -> None:
        try:
            # The batch's own deadline: it serves several requests, each waiting within its own.
            submissions = [submission for submission, _ in batch]
            registered = await within_deadline(self.deadline_s, lambda: self.register_submissions(submissions))
        except Exception as error:
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(error)
            return
        answered: set[str] = set()
        for submission, answer in batch:
            key = submission.intake_key()
            appeal_id, new = registered[key]
            # Two requests for one appeal in the same batch: only the first made it.
            if not answer.done():
                answer.set_result(Registered(appeal_id, new and key not in answered))
            answered.add(key)


class RequestMetrics:
    """Count and time every request by its route template (bounded), method and status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            http_requests.labels(route, scope["method"], str(status)).inc()
            http_request_seconds.labels(route, scope["method"]).observe(time.perf_counter() - started)


def _error_response(path: str, status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    if path.startswith(OPEN311):
        description = detail if isinstance(detail, str) else "; ".join(_describe(item) for item in detail)
        return JSONResponse([{"code": status, "description": description}], status_code=status, headers=headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _describe(issue: Any) -> str:
    if not isinstance(issue, dict):
        return str(issue)
    location = [str(part) for part in issue.get("loc", ()) if part not in ("body", "query", "path", "header")]
    return f"{'.'.join(location) or 'request'}: {issue.get('msg', '')}"


# ---- the app -----------------------------------------------------------------------------------------


def create_api(
    *,
    register_submissions: Register,
    registry: ChannelRegistry,
    idempotency_keys: IdempotencyKeys,
    reads: AppealReads,
    store: Store,
    taxonomy: Taxonomy,
    clock: Callable[[], datetime],
    settings: IntakeSettings,
    staff: StaffAuth,
) -> Any:
    api = FastAPI(
        title="CityLine intake API",
        version="1.0.0",
        description=(
            "Residents' appeals for Kyiv's city contact center. Channels write with their API key "
            f"(`{KEY_HEADER}` header; Open311: the `api_key` field); anyone may read an appeal's status by its number, "
            "without private details; the submitting channel (its key) and staff (Bearer staff token) see it whole."
        ),
    )
    limits = RateLimits()
    key_header = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="The channel's API key.")

    async def authorize(key: str | None, how: str) -> ChannelRecord:
        if not key:
            raise HTTPException(401, f"missing API key: send the channel's key {how}", {"WWW-Authenticate": "ApiKey"})
        channel = await registry.by_key(key)
        if channel is None:
            raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "ApiKey"})
        if not channel.active:
            raise HTTPException(403, f"the API key of channel {channel.name!r} was revoked")
        retry_after = limits.retry_after_s(f"channel:{channel.name}", channel.rate_per_minute)
        if retry_after is not None:
            raise HTTPException(
                429,
                f"channel {channel.name!r} is over its limit of {channel.rate_per_minute} requests a minute",
                {"Retry-After": str(retry_after)},
            )
        return channel

    async def writing_channel(key: Annotated[str | None, Security(key_header)] = None) -> ChannelRecord:
        return await authorize(key, f"in the {KEY_HEADER} header")

    async def reader_of(request: Request, caller: StaffCaller | None, key: str | None, how: str) -> Reader:
        """Staff, a channel (its own limit) or the public, limited per client address."""
        if caller is not None:
            return Reader(staff=True)
        if key:
            return Reader(channel=(await authorize(key, how)).name)
        address = request.client.host if request.client else "unknown"
        per_minute = settings.public_reads_per_minute
        retry_after = limits.retry_after_s(f"address:{address}", per_minute)
        if retry_after is not None:
            raise HTTPException(
                429,
                f"over the limit of {per_minute} public reads a minute from one address",
                {"Retry-After": str(retry_after)},
            )
        return Reader()

    async def native_reader(
        request: Request,
        caller: Annotated[StaffCaller | None, Depends(staff.optional)],
        key: Annotated[str | None, Security(key_header)] = None,
    ) -> Reader:
        return await reader_of(request, caller, key, f"in the {KEY_HEADER} header")

    async def open311_reader(
        request: Request,
        caller: Annotated[StaffCaller | None, Depends(staff.optional)],
        api_key: Annotated[str | None, Query(description="The submitting channel's key: its requests whole.")] = None,
    ) -> Reader:
        return await reader_of(request, caller, api_key, "as the api_key parameter")

    async def claim_key(channel: ChannelRecord, idempotency_key: str | None, payload: Any) -> uuid.UUID:
        """The submission's event id; with an Idempotency-Key, the same for every retry of the same request."""
        if idempotency_key is None:
            return uuid.uuid4()
        fingerprint = request_fingerprint(payload)
        held_by = await idempotency_keys.claim(channel.name, idempotency_key, fingerprint, clock())
        if held_by != fingerprint:
            raise HTTPException(
                422, "Idempotency-Key was already used for a different request; use a new key for a new appeal"
            )
        return idempotent_event_id(channel.name, idempotency_key)

    batcher = RegistrationBatcher(register_submissions, settings.http_deadline_s)
    register_one = batcher.register

    # ---- native API ----

    @api.post("/v1/appeals", status_code=201, response_model=AppealAccepted, responses=ERRORS, tags=["appeals"])
    async def create_appeal(
        body: AppealCreate,
        request: Request,
        response: Response,
        channel: Annotated[ChannelRecord, Depends(writing_channel)],
        idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
    ) -> AppealAccepted:
        """Register a resident's appeal; the answer carries its number and where to follow it."""
        if body.category is not None and body.category not in taxonomy.categories:
            raise RequestValidationError(
                [{"loc": ("body", "category"), "msg": f"unknown category {body.category!r}", "type": "value_error"}]
            )
        if body.received_at is not None and body.received_at > clock() + CLOCK_SKEW:
            raise RequestValidationError(
                [{"loc": ("body", "received_at"), "msg": "is in the future", "type": "value_error"}]
            )
        event_id = await claim_key(channel, idempotency_key, body.model_dump(mode="json"))
        submission = AppealSubmitted(
            event_id=event_id,
            correlation_id=body.correlation_id or str(event_id),
            channel=channel.name,
            external_id=body.external_id,
            text=body.text,
            contact=SubmittedContact.model_validate(body.contact.model_dump()) if body.contact else None,
            address=Address.model_validate(body.address.model_dump()) if body.address else None,
            received_at=body.received_at or clock(),
            attachments=body.attachments,
            requested_category=body.category,
        )
        registered = await register_one(submission)
        status_url = str(request.url_for("appeal_status", appeal_id=registered.appeal_id))
        response.headers["Location"] = status_url
        if not registered.new:
            response.status_code = 200
        return AppealAccepted(
            appeal_id=registered.appeal_id, status="registered", status_url=status_url, created=registered.new
        )

    @api.get("/v1/appeals/{appeal_id}", response_model=AppealStatusOut, responses={404: {"model": Problem}})
    async def appeal_status(
        appeal_id: Annotated[AppealId, Path(description="The appeal's number")],
        reader: Annotated[Reader, Depends(native_reader)],
    ) -> Any:
        """An appeal's status, history, department and due date: what a resident may see (notes without private
        details, unless the caller is its channel or staff)."""
        view = await store.appeal_view(appeal_id)
        if view is None:
            raise HTTPException(404, f"no appeal {appeal_id}")
        return resident_view(view, whole=reader.sees_whole(view))

    # ---- Open311 GeoReport v2 ----

    @api.get(f"{OPEN311}/services.json", tags=["open311"])
    async def open311_services(jurisdiction_id: str | None = None) -> list[dict[str, Any]]:
        return services(taxonomy)

    @api.get(f"{OPEN311}/services/{{service_code}}.json", tags=["open311"], responses=OPEN311_ERRORS)
    async def open311_service_definition(service_code: str, jurisdiction_id: str | None = None) -> dict[str, Any]:
        return service_definition(taxonomy, service_code)

    @api.post(f"{OPEN311}/requests.json", status_code=201, tags=["open311"], responses={**ERRORS, **OPEN311_ERRORS})
    async def open311_create_request(
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
        channel = await authorize(api_key, "as the api_key field")
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
        event_id = await claim_key(channel, idempotency_key, form.__dict__)
        submission = submission_from_form(form, taxonomy, channel=channel.name, event_id=event_id, received_at=clock())
        registered = await register_one(submission)
        return [{"service_request_id": registered.appeal_id, "service_notice": None, "account_id": account_id}]

    @api.get(f"{OPEN311}/requests/{{service_request_id}}.json", tags=["open311"], responses=OPEN311_ERRORS)
    async def open311_request(
        service_request_id: str,
        reader: Annotated[Reader, Depends(open311_reader)],
        jurisdiction_id: str | None = None,
    ) -> list[dict[str, Any]]:
        documents = await reads.by_ids([service_request_id])
        if not documents:
            raise Open311Error(404, f"service_request_id {service_request_id!r} not found")
        return [service_request(d, taxonomy, whole=reader.sees_whole(d)) for d in documents]

    @api.get(f"{OPEN311}/requests.json", tags=["open311"], responses=OPEN311_ERRORS)
    async def open311_requests(
        reader: Annotated[Reader, Depends(open311_reader)],
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
            now=clock,
        )
        if ids:
            documents = (await reads.by_ids(ids))[(page - 1) * page_size : page * page_size]
        else:
            documents = await reads.search(query, page_size, skip=(page - 1) * page_size)
        return [service_request(d, taxonomy, whole=reader.sees_whole(d)) for d in documents]

    # ---- errors: the native API's {"detail"}, Open311's [{code, description}] ----

    @api.exception_handler(Open311Error)
    async def on_open311_error(request: Request, error: Open311Error) -> JSONResponse:
        return _error_response(OPEN311, error.code, error.description)

    @api.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error_response(request.url.path, error.status_code, error.detail, getattr(error, "headers", None))

    @api.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        issues = [
            {key: value for key, value in issue.items() if key in ("loc", "msg", "type")} for issue in error.errors()
        ]
        status = 400 if request.url.path.startswith(OPEN311) else 422
        return _error_response(request.url.path, status, issues)

    @api.exception_handler(TimeoutError)
    async def on_deadline(request: Request, error: TimeoutError) -> JSONResponse:
        logger.error("over the deadline for %s", request.url.path)
        return _error_response(request.url.path, 503, UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})

    @api.exception_handler(PyMongoError)
    @api.exception_handler(TransientError)
    async def on_store_error(request: Request, error: Exception) -> JSONResponse:
        logger.error("store unavailable for %s: %s", request.url.path, type(error).__name__)
        detail = "the appeal store is not available right now; try again shortly"
        return _error_response(request.url.path, 503, detail, {"Retry-After": str(RETRY_AFTER_S)})

    @api.exception_handler(KafkaError)
    async def on_broker_error(request: Request, error: KafkaError) -> JSONResponse:
        # The appeal is stored; the redrive job announces it later. The client's retry gets the same appeal.
        logger.error("broker unavailable for %s: %s", request.url.path, type(error).__name__)
        detail = "the appeal is stored but could not be passed on yet; retry with the same key to get its number"
        return _error_response(request.url.path, 503, detail, {"Retry-After": str(RETRY_AFTER_S)})

    api.include_router(answers_router(settings, registry))
    guard(api, settings, _error_response)
    api.add_middleware(RequestMetrics)
    return api
