"""shared/http_guard.py in memory: a request's deadline and the request body's limits, answered not hung."""

import asyncio

import httpx
from fastapi import FastAPI, Request

from shared.http_guard import RETRY_AFTER_S, BodyLimits, RequestDeadline, within_deadline


def slow_app(seconds: float) -> FastAPI:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict:
        await asyncio.sleep(seconds)
        return {"done": True}

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"size": len(await request.body())}

    return app


async def test_work_past_the_deadline_is_503_with_retry_after():
    app = RequestDeadline(slow_app(5), deadline_s=0.2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/slow")
    assert answer.status_code == 503 and answer.headers["retry-after"] == str(RETRY_AFTER_S)
    assert "try again" in answer.json()["detail"]


async def test_work_within_the_deadline_is_answered():
    app = RequestDeadline(slow_app(0.01), deadline_s=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/slow")).json() == {"done": True}


async def _call(app, receive) -> list[dict]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/echo", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent


async def test_a_body_that_does_not_arrive_in_time_is_408():
    async def trickle():
        await asyncio.sleep(5)
        return {"type": "http.request", "body": b"x", "more_body": True}

    sent = await _call(BodyLimits(slow_app(0), max_bytes=1024, read_timeout_s=0.2), trickle)
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert b"did not arrive within 0.2 s" in sent[1]["body"]


async def test_a_body_over_the_size_is_413_and_a_good_one_is_handed_on_whole():
    chunks = [b"a" * 600, b"b" * 600]

    async def big():
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    refused = await _call(BodyLimits(slow_app(0), max_bytes=1000, read_timeout_s=5), big)
    assert refused[0]["status"] == 413
    chunks[:] = [b"a" * 600, b"b" * 300]
    passed = await _call(BodyLimits(slow_app(0), max_bytes=1000, read_timeout_s=5), big)
    assert passed[0]["status"] == 200 and passed[1]["body"] == b'{"size":900}'


async def test_shared_work_has_its_own_deadline_not_the_starting_requests():
    import pymongo
    from pymongo import _csot  # read only: the driver keeps the current deadline in a context variable

    async def remaining() -> float:
        return _csot.remaining()

    with pymongo.timeout(0.05):
        task = within_deadline(1.0, remaining)
    assert await task > 0.5  # not the 0.05 s of the request that started it
    slow = within_deadline(0.1, lambda: asyncio.sleep(5))
    try:
        await slow
    except TimeoutError:
        pass
    else:
        raise AssertionError("work past its deadline should time out")
