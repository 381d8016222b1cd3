"""Nothing lost when the store goes away for a while: batches are retried in place and finish when it is back.

This test has a stack of its own, because it stops and restarts the store under the services.
"""

import asyncio
import uuid

import httpx
import pytest

from cityline.stack import EmbeddedStack
from tests.conftest import _stack_settings
from tests.integration.helpers import store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory, stack):
    if stack.mongodb_uri:
        pytest.skip("the store is given from outside (testcontainers or MONGODB_URI): it is not ours to stop")
    own = EmbeddedStack(
        _stack_settings(tmp_path_factory.mktemp("outage")),
        database=f"cityline_outage_{uuid.uuid4().hex[:8]}",
        service_env={"CITYLINE_TRANSIENT_RETRY_ATTEMPTS": "8", "CITYLINE_TRANSIENT_RETRY_MAX_WAIT_S": "2"},
    )
    own.start()
    yield own
    own.stop()


def _transient_retries(own: EmbeddedStack) -> float:
    total = 0.0
    for service in ("intake", "classifier", "dispatcher", "notifier"):
        metrics = httpx.get(f"http://127.0.0.1:{own.service_port(service)}/metrics", timeout=5).text
        total += sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("cityline_transient_retries_total")
        )
    return total


async def test_appeals_sent_while_the_store_is_down_all_arrive_when_it_is_back(own_stack):
    bodies = [submission("Не працює ліфт, третій день стоїть") for _ in range(20)]
    store = next(process for process in own_stack.processes if process.name == "secantusdb")
    store.stop()
    try:
        await submit_appeals(own_stack.bootstrap, bodies)
        # Longer than the driver waits for a server (5 s): the services meet errors and retry in place.
        await asyncio.sleep(8)
    finally:
        store.start()
    client = store_client(own_stack.store_uri)
    db = client[own_stack.database]
    keys = [f"web:{body['external_id']}" for body in bodies]
    try:
        await wait_until(
            lambda: db.appeals.count_documents({"intake_key": {"$in": keys}, "status": "assigned"}), timeout=60
        )

        async def all_assigned():
            return await db.appeals.count_documents({"intake_key": {"$in": keys}, "status": "assigned"}) == 20

        await wait_until(all_assigned, timeout=60)
        assert await db.appeals.count_documents({"intake_key": {"$in": keys}}) == 20
        assert _transient_retries(own_stack) > 0, "the outage should have been met with retries"
    finally:
        await client.close()
