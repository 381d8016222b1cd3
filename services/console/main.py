"""Wiring of the console: settings, store, the other services' clients, sessions, CSRF, the screens' routers,
/health and /metrics. No business logic here."""

import logging
import secrets
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.console.auth import PasswordChangeRequired, SignInLimits, SignInRequired, check_csrf
from services.console.clients import ServiceClients
from services.console.metrics import RequestMetrics
from services.console.pages import render
from services.console.queue_feed import QueueFeed
from services.console.queues import QueueBook
from services.console.repository import AppealReads, UserRepository
from services.console.routes import appeal, department, desk, health, search, sign_in, supervisor, triage
from services.console.settings import ConsoleSettings
from shared.contracts.base import utcnow
from shared.errors import TransientError
from shared.metrics import registry
from shared.store import Store
from shared.taxonomy import cached_taxonomy

logger = logging.getLogger(__name__)

# The screens, in the order of the navigation. A new screen: its module here, with `router` and `SCREENS`.
ROUTES = (sign_in, desk, search, appeal, triage, department, supervisor, health)
SESSION_COOKIE = "cityline_console"


def create_app(settings: ConsoleSettings | None = None, clients: ServiceClients | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    store = Store.from_settings(settings, app_name="cityline-console")
    clients = clients or ServiceClients(
        intake_url=settings.intake_url,
        classifier_url=settings.classifier_url,
        dispatcher_url=settings.dispatcher_url,
        knowledge_url=settings.knowledge_url,
        intake_key=settings.intake_key,
        staff_token=settings.staff_token,
        timeout_s=settings.service_timeout_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            await app.state.users.ensure_indexes()
        except Exception:
            # The store may come later; the pages say so meanwhile.
            logger.exception("could not build the console's indexes at start-up")
        await app.state.queue_feed.start()
        try:
            yield
        finally:
            await app.state.queue_feed.stop()
            await clients.close()
            await store.close()

    app = FastAPI(
        title="CityLine console",
        lifespan=lifespan,
        dependencies=[Depends(check_csrf)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.users = UserRepository(store)
    app.state.appeals = AppealReads(store)
    app.state.queues = QueueBook()
    app.state.queue_feed = QueueFeed(store, app.state.queues, settings, settings.queue_reconcile_s, utcnow)
    app.state.clients = clients
    app.state.taxonomy = cached_taxonomy(settings.taxonomy_path)
    app.state.sign_in_limits = SignInLimits(
        settings.sign_in_attempts_per_user, settings.sign_in_attempts_per_ip, settings.sign_in_window_s
    )
    app.state.screens = [screen for module in ROUTES for screen in getattr(module, "SCREENS", ())]
    for module in ROUTES:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(desk.STATIC)), name="static")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    secret = settings.session_secret.get_secret_value() if settings.session_secret else secrets.token_urlsafe(32)
    app.add_middleware(RequestMetrics)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_s,
        same_site="strict",
        https_only=settings.secure_cookies,
    )
    _error_pages(app)
    return app


def _wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") or request.headers.get("HX-Request") == "true"


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _error: SignInRequired) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path != "/":
            target += f"?next={request.url.path}"
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def password_first(request: Request, _error: PasswordChangeRequired) -> Response:
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": "/password"})
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(TransientError)
    async def store_down(request: Request, error: TransientError) -> Any:
        logger.warning("store unavailable for %s: %s", request.url.path, error)
        return render(request, "error.html", status_code=503, message_key="error.store_down")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Any:
        if not _wants_page(request):
            return JSONResponse({"detail": error.detail}, status_code=error.status_code)
        return render(request, "error.html", status_code=error.status_code, message=str(error.detail))
