"""What every service process shares: the ASGI app with /health, /ready and /metrics, and how it is run."""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.admin import ensure_topics
from shared.consuming import ConsumerWatch
from shared.http_guard import server_limits
from shared.logging import configure_logging
from shared.metrics import consumer_ready, metrics_asgi_app
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


# /ready waits this long for the store and the broker to answer: an orchestrator's probe must not hang.
READY_PROBE_TIMEOUT_S = 1.5


def health_route(service: str, watch: ConsumerWatch):
    """Alive: the process answers. 200 as long as it does; what it is waiting for is /ready's business."""

    @get(include_in_schema=False)
    async def health(scope: Any) -> AsgiResponse:
        body = {"service": service, "status": "alive", "ready": not watch.reasons()}
        return AsgiResponse(json.dumps(body).encode(), status_code=200, headers={"content-type": "application/json"})

    return health


async def _answers(probe: Callable[[], Awaitable[Any]]) -> bool:
    try:
        return await asyncio.wait_for(probe(), READY_PROBE_TIMEOUT_S) is not False
    except Exception:
        return False


def ready_route(service: str, watch: ConsumerWatch, store: Any, broker: KafkaBroker):
    """Ready: every consumer has partitions and moves, the store and the broker answer. 503 with the reasons if not."""

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        store_answers, broker_answers = await asyncio.gather(
            _answers(lambda: store.db.command("ping")), _answers(lambda: broker.ping(timeout=READY_PROBE_TIMEOUT_S))
        )
        reasons = watch.reasons()
        if not store_answers:
            reasons.append(f"the store does not answer within {READY_PROBE_TIMEOUT_S} s")
        if not broker_answers:
            reasons.append(f"the broker does not answer within {READY_PROBE_TIMEOUT_S} s")
        consumer_ready.labels(service).set(0 if reasons else 1)
        body = {"service": service, "ready": not reasons, "reasons": reasons}
        headers = {"content-type": "application/json"}
        if reasons:
            headers["retry-after"] = "5"
        return AsgiResponse(json.dumps(body).encode(), status_code=503 if reasons else 200, headers=headers)

    return ready


class ServiceApp(AsgiFastStream):
    """FastStream's ASGI app (lifespan, /health, /metrics, /asyncapi) that hands every other HTTP path to the
    service's own HTTP API, if it has one (a FastAPI app: intake's API, the dispatcher's triage desk)."""

    def __init__(self, *args: Any, http_app: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http_app = http_app

    async def not_found(self, scope: Any, receive: Any, send: Any) -> None:
        if self.http_app is not None and scope["type"] in ("http", "websocket"):
            await self.http_app(scope, receive, send)
            return
        await super().not_found(scope, receive, send)


def service_app(
    *,
    settings: ServiceSettings,
    broker: KafkaBroker,
    store: Any,
    watch: ConsumerWatch,
    lifespan: Any,
    title: str,
    description: str,
    extra_routes: list[tuple[str, Any]] | None = None,
    http_app: Any = None,
) -> AsgiFastStream:
    return ServiceApp(
        broker,
        logger=logging.getLogger(f"cityline.{settings.service_name}"),
        lifespan=lifespan,
        asgi_routes=[
            ("/health", health_route(settings.service_name, watch)),
            ("/ready", ready_route(settings.service_name, watch, store, broker)),
            ("/metrics", metrics_asgi_app()),
            *(extra_routes or []),
        ],
        specification=AsyncAPI(title=title, version="1.0.0", description=description),
        asyncapi_path="/asyncapi",
        http_app=http_app,
    )


def run_service(app: AsgiFastStream, settings: ServiceSettings) -> None:
    configure_logging(settings.log_level, settings.service_name)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        lifespan="on",
        access_log=False,
        **server_limits(settings),
    )


@dataclass
class Periodic:
    """A background job of a service, run every `interval_s` while the service runs; a failure waits for the next."""

    name: str
    run: Callable[[], Awaitable[Any]]
    interval_s: float
    # The first run comes soon after start-up, once the broker has had time to connect.
    first_delay_s: float = 5.0

    async def loop(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                await self.run()
            except Exception:
                logger.exception("%s failed; next try in %.0f s", self.name, self.interval_s)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # The run was cancelled and a library swallowed the CancelledError (PyMongo's async network layer
                # can): the loop ends here rather than sleeping a whole interval on a stop that waits for it.
                raise asyncio.CancelledError
            await asyncio.sleep(self.interval_s)


def store_lifespan(
    store: Any,
    settings: ServiceSettings,
    taxonomy: Any,
    background: Sequence[Periodic] = (),
    indexes: Callable[[Any], Awaitable[None]] | None = None,
) -> Any:
    """Before the broker connects: topics exist and the service's indexes are built. While it runs: the background
    jobs. After it stops: the jobs end and the client closes."""

    @asynccontextmanager
    async def lifespan():
        await ensure_topics(settings.kafka_bootstrap_servers, taxonomy)
        if indexes is not None:
            await indexes(store)
        tasks = [asyncio.create_task(job.loop(), name=job.name) for job in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await store.close()

    return lifespan


@dataclass(frozen=True)
class Wiring:
    """What a service adds to the common frame: its handlers, background jobs and HTTP API if it has any.

    `http_app` (an ASGI app such as FastAPI) answers every path the frame does not (/health, /metrics, /asyncapi);
    its own lifespan is not run: what it needs is started by the frame's lifespan. `indexes(store)` builds the indexes
    of the service's own collections and queries (its repository's `ensure_indexes`) before the broker connects."""

    router: Any
    background: Sequence[Periodic] = ()
    http_app: Any = None
    indexes: Callable[[Any], Awaitable[None]] | None = None


def assemble(
    settings: ServiceSettings,
    wire: Callable[[Any, Any, Any], Wiring],
    *,
    title: str,
    description: str,
) -> AsgiFastStream:
    """The frame every service shares: broker, store, taxonomy, dead-letter parking, lifespan, /health, /metrics.

    `wire(store, park_record, taxonomy)` builds the service's own part.
    """
    from shared.broker import build_broker
    from shared.consuming import Parker
    from shared.store import Store
    from shared.taxonomy import cached_taxonomy

    taxonomy = cached_taxonomy(settings.taxonomy_path)
    broker = build_broker(settings)
    store = Store.from_settings(settings, app_name=f"cityline-{settings.service_name}")
    wiring = wire(store, Parker(broker, settings.service_name), taxonomy)
    broker.include_router(wiring.router)
    watch = ConsumerWatch(
        broker, settings.service_name, settings.kafka_bootstrap_servers, stall_after_s=settings.consumer_stall_after_s
    )
    watching = Periodic("consumer watch", watch.check, settings.consumer_watch_interval_s, first_delay_s=1.0)
    return service_app(
        settings=settings,
        broker=broker,
        store=store,
        watch=watch,
        lifespan=store_lifespan(
            store, settings, taxonomy, background=[*wiring.background, watching], indexes=wiring.indexes
        ),
        title=title,
        description=description,
        http_app=wiring.http_app,
    )
