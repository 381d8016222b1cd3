"""The console's queues in memory, on the real broker, store and dispatcher: an appeal the dispatcher sends to triage
appears in the console's triage queue from its appeals.assigned event, leaves it at once when an operator decides,
and lands at its department when the dispatcher's new assignment arrives; a console started afterwards builds the
same queues from the store alone."""

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from services.console.main import create_app
from services.console.queues import TRIAGE
from services.console.settings import ConsoleSettings
from tests.integration.helpers import wait_until
from tests.integration.test_console_boards import _csrf, _signed_in
from tests.integration.test_dispatcher_routing import appeal, send, stored

pytestmark = pytest.mark.integration


def _console(pipeline):
    settings = ConsoleSettings(
        mongodb_uri=pipeline.store_uri,
        mongodb_database=pipeline.database,
        kafka_bootstrap_servers=pipeline.bootstrap,
        dispatcher_url=f"http://127.0.0.1:{pipeline.service_port('dispatcher')}",
        staff_token=SecretStr(pipeline.staff_token()),
        service_timeout_s=10,
    )
    return create_app(settings)


def _queue_of(app, appeal_id: str) -> str | None:
    placement = app.state.queues.placement(appeal_id)
    return placement.queue if placement else None


async def _lands(app, appeal_id: str, queue: str) -> None:
    async def there() -> bool:
        return _queue_of(app, appeal_id) == queue

    await wait_until(there, timeout=30)


async def test_an_appeal_enters_triage_leaves_it_on_a_decision_and_a_later_console_reads_the_same_queues(pipeline):
    first = _console(pipeline)
    async with first.router.lifespan_context(first):
        await asyncio.wait_for(first.state.queue_feed.built.wait(), 60)
        (event,) = await send(pipeline, [appeal("unclassified", text="Незрозуміле звернення про щось у дворі")])
        await stored(pipeline, event.appeal_id, status="triage")
        # Only the event can have brought it: the console read the store before the appeal existed.
        await _lands(first, event.appeal_id, TRIAGE)

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first), base_url="http://console", timeout=60
        ) as client:
            await _signed_in(pipeline, client, "operator")
            queue = await client.get("/triage")
            assert queue.status_code == 200 and event.appeal_id in queue.text
            decided = await client.post(
                f"/triage/{event.appeal_id}", data={"csrf_token": _csrf(queue.text), "category": "water_supply"}
            )
            assert decided.status_code == 303, decided.text
            assert event.appeal_id not in first.state.queues.page(TRIAGE, first.state.queues.count(TRIAGE))
            # The dispatcher's new assignment, on appeals.assigned, puts it on its department's board.
            await _lands(first, event.appeal_id, "kyivvodokanal")
            assert event.appeal_id not in (await client.get("/triage")).text

        later = _console(pipeline)
        async with later.router.lifespan_context(later):
            await asyncio.wait_for(later.state.queue_feed.built.wait(), 60)
            assert _queue_of(later, event.appeal_id) == "kyivvodokanal"
            for name in (TRIAGE, "kyivvodokanal"):
                everything = first.state.queues.count(name)
                assert later.state.queues.page(name, everything + 1) == first.state.queues.page(name, everything + 1)
