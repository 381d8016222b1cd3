"""The console's metrics, on the shared registry. Labels: the route template (never an id), method, status, outcome."""

import time
from typing import Any

from prometheus_client import Counter, Histogram

from shared.metrics import registry

page_requests = Counter(
    "cityline_console_http_requests",
    "Requests to the console, by route template, method and status code",
    ["route", "method", "status"],
    registry=registry,
)
page_seconds = Histogram(
    "cityline_console_http_request_seconds",
    "Server time to answer a request to the console, by route template and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5),
    registry=registry,
)
sign_ins = Counter(
    "cityline_console_sign_ins",
    "Sign-in attempts by outcome (ok, wrong, limited, disabled)",
    ["outcome"],
    registry=registry,
)
desk_registrations = Counter(
    "cityline_console_desk_registrations",
    "Appeals the call desk sent to intake, by outcome (registered, repeated, refused, unavailable)",
    ["outcome"],
    registry=registry,
)


queue_moves = Counter(
    "cityline_console_queue_moves",
    "Changes of place in the console's in-memory queues, by what caused them (assigned, status, store)",
    ["source"],
    registry=registry,
)
queue_scan_seconds = Histogram(
    "cityline_console_queue_scan_seconds",
    "Time of one scan of the store's open appeals that builds or reconciles the console's queues",
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
    registry=registry,
)


class RequestMetrics:
    """Times every request by the route that answered it (unmatched paths share one label)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/static", "/metrics")):
            await self.app(scope, receive, send)
            return
        answered = {"status": 500}
        started = time.perf_counter()

        async def note_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, note_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            page_requests.labels(route, scope["method"], str(answered["status"])).inc()
            page_seconds.labels(route, scope["method"]).observe(time.perf_counter() - started)
