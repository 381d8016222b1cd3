"""Fail fast: with the store frozen (SIGSTOP: connections open, nothing answers) every HTTP request of the running
services answers 503 with Retry-After within the client's 2 s timeout, /ready says the store is out of reach, and
all is well again after SIGCONT.

A stack of its own (intake and the dispatcher, the HTTP services): it freezes the store under them, and keeps the
default request deadline, which the session's stack raises for a shared, loaded machine."""

import asyncio
import os
import signal
import uuid

import httpx
import pytest

from cityline.stack import EmbeddedStack
from tests.conftest import _stack_settings
from tests.integration.helpers import wait_until
from tests.integration.test_intake_http_api import add_channel

pytestmark = pytest.mark.integration

# The functional bound: a request not answered within this fails the test with httpx's timeout error.
CLIENT_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory, stack):
    if stack.mongodb_uri:
        pytest.skip("the store is given from outside (testcontainers or MONGODB_URI): it is not ours to freeze")
    own = EmbeddedStack(
        _stack_settings(tmp_path_factory.mktemp("frozen")), database=f"cityline_frozen_{uuid.uuid4().hex[:8]}"
    )
    own.start(with_services=False)
    try:
        own.start_services(("intake", "dispatcher"))
        yield own
    finally:
        own.stop()


def _store_process(stack):
    return next(process for process in stack.processes if process.name == "secantusdb").process


async def _requests(running, key: str, timeout: float = CLIENT_TIMEOUT_S) -> dict[str, httpx.Response]:
    intake = f"http://127.0.0.1:{running.service_port('intake')}"
    dispatcher = f"http://127.0.0.1:{running.service_port('dispatcher')}"
    staff = {"Authorization": f"Bearer {running.staff_token()}"}
    async with httpx.AsyncClient(timeout=timeout) as http:
        calls = {
            "status": http.get(f"{intake}/v1/appeals/1000001"),
            "open311 list": http.get(f"{intake}/open311/v2/requests.json"),
            "open311 one": http.get(f"{intake}/open311/v2/requests/1000001.json"),
            "submit": http.post(
                f"{intake}/v1/appeals", json={"text": "Немає світла в під'їзді"}, headers={"X-API-Key": key}
            ),
            "triage": http.get(f"{dispatcher}/v1/triage", headers=staff),
        }
        answers = await asyncio.gather(*calls.values())
    return dict(zip(calls, answers, strict=True))


async def test_a_frozen_store_gets_503_with_retry_after_in_time_then_recovers(own_stack):
    running = own_stack
    store = _store_process(running)
    _, key = add_channel(running)
    health = f"http://127.0.0.1:{running.service_port('intake')}/ready"
    os.kill(store.pid, signal.SIGSTOP)
    try:
        frozen = await _requests(running, key)

        async def unhealthy():
            async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S) as http:
                answer = await http.get(health)
            return answer if answer.status_code == 503 else None

        sick = await wait_until(unhealthy, timeout=15, interval=0.5)
    finally:
        os.kill(store.pid, signal.SIGCONT)

    for name, answer in frozen.items():
        assert answer.status_code == 503, (name, answer.status_code, answer.text)
        assert int(answer.headers["retry-after"]) > 0, name
    assert sick.json()["ready"] is False
    assert any("store" in reason for reason in sick.json()["reasons"]), sick.json()

    async def recovered():
        # Back to normal service: the bound here is the machine's, not the deadline's.
        answers = await _requests(running, key, timeout=30)
        return answers if all(answer.status_code < 500 for answer in answers.values()) else None

    answers = await wait_until(recovered, timeout=30, interval=0.5)
    assert answers["submit"].status_code == 201 and answers["triage"].status_code == 200

    async def ready_again():
        async with httpx.AsyncClient(timeout=30) as http:
            return (await http.get(health)).json()["ready"]

    assert await wait_until(ready_again, timeout=30, interval=0.5)
