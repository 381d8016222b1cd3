"""The store is the record: an appeal whose event was lost with the broker still goes all the way."""

from datetime import timedelta

import pytest

from shared.contracts.base import utcnow
from tests.integration.helpers import store_client, wait_until

pytestmark = pytest.mark.integration


async def test_registered_appeal_whose_event_was_lost_is_announced_again(pipeline):
    client = store_client(pipeline.store_uri)
    db = client[pipeline.database]
    registered_at = utcnow() - timedelta(seconds=30)
    # What intake stores before it publishes; the publish never happened (the broker went away).
    await db.appeals.insert_one(
        {
            "_id": "9000001",
            "intake_key": "phone:lost-with-the-broker",
            "external_id": "lost-with-the-broker",
            "channel": "phone",
            "text": "Не працює ліфт, третій день стоїть",
            "contact": None,
            "address": None,
            "received_at": registered_at,
            "registered_at": registered_at,
            "correlation_id": "lost",
            "status": "registered",
            "history": [{"status": "registered", "at": registered_at, "event_id": "e0", "by": "intake"}],
            "updated_at": registered_at,
        }
    )
    try:
        appeal = await wait_until(
            lambda: db.appeals.find_one({"_id": "9000001", "status": {"$in": ["assigned", "triage"]}}), timeout=60
        )
        assert appeal["assignment"]["department"] == "lift_service"
        assert [entry["status"] for entry in appeal["history"]] == ["registered", "classified", "assigned"]
        await wait_until(lambda: db.notifications.count_documents({"appeal_id": "9000001"}), timeout=15)
    finally:
        await client.close()
