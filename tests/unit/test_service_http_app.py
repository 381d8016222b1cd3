"""The service frame hands paths it does not serve itself to the service's own HTTP API."""

import asyncio

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from shared.consuming import ConsumerWatch
from shared.service import service_app
from shared.settings import ServiceSettings


class _FrozenDatabase:
    """A store that never answers, as one stopped with SIGSTOP."""

    async def command(self, name: str) -> dict:
        await asyncio.sleep(3600)
        return {"ok": 1}


class _FrozenStore:
    db = _FrozenDatabase()


def _app(http_app=None):
    own = FastAPI()

    @own.get("/v1/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    broker = KafkaBroker("127.0.0.1:1")
    return service_app(
        settings=ServiceSettings(service_name="test"),
        broker=broker,
        store=_FrozenStore(),
        watch=ConsumerWatch(broker, "test", "127.0.0.1:1"),
        lifespan=None,
        title="t",
        description="d",
        http_app=own if http_app is None else http_app,
    )


async def test_unknown_frame_path_reaches_the_service_api():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        response = await client.get("/v1/ping")
        assert response.status_code == 200
        assert response.json() == {"pong": "yes"}
        assert (await client.get("/v1/nothing")).status_code == 404


async def test_frame_paths_stay_with_the_frame():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert b"# HELP" in response.content


async def test_health_says_alive_while_ready_says_why_not():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        health = await client.get("/health")
        ready = await client.get("/ready")
    assert health.status_code == 200
    assert health.json()["status"] == "alive"
    assert ready.status_code == 503
    assert ready.headers["retry-after"]
    reasons = ready.json()["reasons"]
    assert "the broker connection is not started" in reasons
    assert any(reason.startswith("the store does not answer") for reason in reasons)
    assert any(reason.startswith("the broker does not answer") for reason in reasons)
