"""Intake's HTTP API: the native /v1 API and Open311 GeoReport v2, served inside the intake service.

Every write names its channel by an API key and registers through the same path as Kafka submissions
(`register_submissions`: reserve the number, insert, publish appeals.registered on the service's broker),
so the answer carries the appeal's number. Reads show the public what a resident may see, without private details
(services.intake.privacy), paged and limited per client address; the submitting channel (its key) and staff (the
staff token, shared.staff_auth) see an appeal whole.

The parts: bodies in models.py, dependencies (channel, reader, the API's parts) in dependencies.py, one router per
module in routes/, error answers in errors.py, request metrics in middlewares.py. A new route module is one
`include_router` line below.
"""

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from services.intake.answers import answers_router
from services.intake.batching import Register, RegistrationBatcher
from services.intake.dependencies import IntakeApi
from services.intake.errors import OPEN311, add_error_handlers, error_response
from services.intake.middlewares import RequestMetrics
from services.intake.open311_formats import Open311Formats
from services.intake.repository import AppealReads, IdempotencyKeys
from services.intake.routes import appeals, open311
from services.intake.settings import IntakeSettings
from shared.channel_keys import KEY_HEADER, ChannelRegistry
from shared.http_guard import guard
from shared.staff_auth import StaffAuth
from shared.store import Store
from shared.taxonomy import Taxonomy


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
) -> FastAPI:
    api = FastAPI(
        title="CityLine intake API",
        version="1.0.0",
        description=(
            "Residents' appeals for Kyiv's city contact center. Channels write with their API key "
            f"(`{KEY_HEADER}` header; Open311: the `api_key` field); anyone may read an appeal's status by its number, "
            "without private details; the submitting channel (its key) and staff (Bearer staff token) see it whole."
        ),
    )
    batcher = RegistrationBatcher(register_submissions, settings.http_deadline_s)
    api.state.intake = IntakeApi(
        register=batcher.register,
        registry=registry,
        idempotency_keys=idempotency_keys,
        reads=reads,
        store=store,
        taxonomy=taxonomy,
        clock=clock,
        settings=settings,
        staff=staff,
    )
    # The routers, one module each.
    api.include_router(appeals.router)
    api.include_router(open311.router)
    api.include_router(answers_router(settings, registry))

    add_error_handlers(api)
    guard(api, settings, error_response)
    api.add_middleware(RequestMetrics)
    api.add_middleware(Open311Formats, root=OPEN311)
    return api
