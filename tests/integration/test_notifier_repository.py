"""The notifier's repository on the real store: the batch's notices decided (pure) and recorded once each under their
idempotency key; a redelivered batch records nothing new and says which were recorded before."""

from collections.abc import AsyncIterator

import pytest

from services.notifier.domain import NoticeContext, Progress, decide_notices, load_templates
from services.notifier.repository import MongoNotifierRepository, ensure_indexes
from services.notifier.settings import DEFAULT_TEMPLATES
from shared.contracts.intake import ResidentContact
from shared.settings import DEFAULT_TAXONOMY
from shared.store import NOTIFICATIONS, Store
from shared.taxonomy import load_taxonomy
from tests.integration.helpers import scratch_store
from tests.unit.fakes import NOW, PHONE, assigned_event, registered_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(servers) -> AsyncIterator[Store]:
    async with scratch_store(servers.mongodb_uri, "notifier", ensure_indexes) as store:
        yield store


async def test_a_redelivered_batch_records_each_notice_once(store):
    repo = MongoNotifierRepository(store)
    context = NoticeContext(load_templates(DEFAULT_TEMPLATES), load_taxonomy(DEFAULT_TAXONOMY), "1551", {}, NOW)
    contact = ResidentContact(phone=PHONE, language="en")
    progress = Progress(registered=[registered_event(contact=contact)], assigned=[assigned_event(contact=contact)])

    first = await repo.record([notice.document() for notice in decide_notices(progress, context)])
    # The same events again, with one new appeal among them.
    again = Progress(
        registered=[registered_event(contact=contact), registered_event(appeal_id="1000002", contact=contact)],
        assigned=progress.assigned,
    )
    notices = decide_notices(again, context)
    before = await repo.record([notice.document() for notice in notices])

    assert first == []
    assert sorted(notices[index].key for index in before) == ["1000001:assigned", "1000001:registered"]
    stored = await store.db[NOTIFICATIONS].find({}, {"_id": 1, "state": 1}).to_list()
    assert sorted((d["_id"], d["state"]) for d in stored) == [
        ("1000001:assigned", "pending"),
        ("1000001:registered", "pending"),
        ("1000002:registered", "pending"),
    ]
