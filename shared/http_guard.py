"""What every service's HTTP API shares to stay answering: bounded request bodies, a deadline on each request's store
and broker work, and the limits of the HTTP server itself (connections, slow clients).

A request whose body does not arrive in time gets 408, one over the size 413; one whose store or broker work does not
finish within the deadline gets 503 with Retry-After, so a frozen store costs a client at most the deadline.
"""

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import h11
import pymongo
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError
from uvicorn.protocols.http.h11_impl import H11Protocol

from shared.errors import TransientError
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5
# A request's own work stops at the deadline (PyMongo's client-side timeout); this much more is left for the
# asyncio guard, so the driver's own timeout error, with its clearer cause, comes first.
GUARD_MARGIN_S = 0.25
UNAVAILABLE = "the service's store or broker is not answering right now; try again shortly"

# (path, status, detail, headers) -> the response in the API's own error shape.
ErrorResponder = Callable[[str, int, Any, dict[str, str] | None], Any]


def json_error(path: str, status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class BodyLimits:
    """Refuse request bodies over `max_bytes` with 413 (by Content-Length or as they stream in) and bodies that do not
    arrive within `read_timeout_s` with 408.

    The body is read here, up to the limit, and handed on whole: the APIs' bodies are small, and FastAPI would
    turn an error raised while it reads into a 400."""

    def __init__(self, app: Any, max_bytes: int, read_timeout_s: float, respond: ErrorResponder = json_error) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s
        self.respond = respond

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, send, 413, f"request body larger than {self.max_bytes} bytes")
            return
        try:
            async with asyncio.timeout(self.read_timeout_s):
                body = await self._read(receive)
        except TimeoutError:
            await self._refuse(scope, send, 408, f"the request body did not arrive within {self.read_timeout_s:g} s")
            return
        except _TooLarge:
            await self._refuse(scope, send, 413, f"request body larger than {self.max_bytes} bytes")
            return
        if body is None:  # the client went away
            return
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Any) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                raise _TooLarge
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Any, send: Any, status: int, detail: str) -> None:
        headers = {"Connection": "close"} if status == 408 else None
        response = self.respond(scope.get("path", ""), status, detail, headers)
        await response(scope, _no_body, send)


class _TooLarge(Exception):
    pass


@contextlib.asynccontextmanager
async def deadline(seconds: float) -> AsyncIterator[None]:
    """The store calls inside within `seconds` (PyMongo's client-side timeout), and everything else a little after."""
    with pymongo.timeout(seconds):
        async with asyncio.timeout(seconds + GUARD_MARGIN_S):
            yield


class RequestDeadline:
    """Each request's work within `deadline_s`: PyMongo's client-side timeout bounds every store call in it (server
    selection, connecting, each read), an asyncio timeout the whole; past it, 503 with Retry-After."""

    def __init__(self, app: Any, deadline_s: float, respond: ErrorResponder = json_error) -> None:
        self.app = app
        self.deadline_s = deadline_s
        self.respond = respond

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_start(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with deadline(self.deadline_s):
                await self.app(scope, receive, noting_start)
        except TimeoutError:
            if started:  # too late for another answer; the connection closes
                raise
            logger.error("%s %s: over the %.1f s deadline", scope["method"], scope["path"], self.deadline_s)
            response = self.respond(scope["path"], 503, UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})
            await response(scope, receive, send)


def within_deadline(deadline_s: float, work: Callable[[], Awaitable[Any]]) -> "asyncio.Task[Any]":
    """Run `work` as a task of its own with its own deadline: work shared by several requests (a registration batch)
    must not inherit the deadline of the request that happened to start it."""

    async def bounded() -> Any:
        async with deadline(deadline_s):
            return await work()

    return asyncio.get_running_loop().create_task(bounded(), context=contextvars.Context())


def answer_unavailable(app: FastAPI, respond: ErrorResponder = json_error) -> None:
    """Store and broker failures of a request are 503 with Retry-After, never a 500 or a hang."""

    async def unavailable(request: Request, error: Exception) -> Any:
        logger.error("%s unavailable for %s: %s", "store or broker", request.url.path, type(error).__name__)
        return respond(request.url.path, 503, UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})

    for kind in (PyMongoError, TransientError, KafkaError, TimeoutError):
        app.add_exception_handler(kind, unavailable)


def guard(app: FastAPI, settings: ServiceSettings, respond: ErrorResponder = json_error) -> None:
    """Body limits outside (a slow body is the client's 408), the deadline inside (the service's own work)."""
    app.add_middleware(RequestDeadline, deadline_s=settings.http_deadline_s, respond=respond)
    app.add_middleware(
        BodyLimits, max_bytes=settings.max_body_bytes, read_timeout_s=settings.http_body_timeout_s, respond=respond
    )


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a limit on slow request heads: a request line and headers must arrive within
    `header_timeout_s` of the connection or of their first byte, else 408 and the connection closes. uvicorn has no
    such limit of its own, so a client trickling its headers would hold a connection slot forever. (An idle
    keep-alive connection is closed by uvicorn's own keep-alive timeout.)"""

    header_timeout_s: float = 10.0
    _header_timer: Any = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # a new request head begins
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()  # its head is complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._head_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _head_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        body = f"request headers did not arrive within {self.header_timeout_s:g} s\n".encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.transport.close()


def server_limits(settings: ServiceSettings) -> dict[str, Any]:
    """uvicorn's options for a bounded server: past `limit_concurrency` open connections or requests it answers 503
    at once; an idle keep-alive connection closes after `timeout_keep_alive`; slow heads get 408
    (BoundedH11Protocol), slow bodies 408 (BodyLimits); X-Forwarded-For is believed from the given proxies only."""
    protocol = type("ServiceH11Protocol", (BoundedH11Protocol,), {"header_timeout_s": settings.http_header_timeout_s})
    return {
        "http": protocol,
        "limit_concurrency": settings.http_max_connections,
        "timeout_keep_alive": settings.http_keep_alive_s,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
