"""The intake API's ASGI middlewares: every request counted and timed (body limits and the deadline are
shared.http_guard's)."""

import time
from typing import Any

from services.intake.metrics import http_request_seconds, http_requests


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
