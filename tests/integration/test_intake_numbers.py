"""Intake's repository on the real store: concurrent first reservations (HTTP requests on a fresh store) never
collide; the registration's load/apply is idempotent on the unique intake key."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.intake.domain import register_batch
from services.intake.repository import MongoIntakeRepository, ensure_indexes
from shared.contracts.base import utcnow
from shared.contracts.intake import AppealSubmitted
from shared.store import APPEALS, Store
from tests.integration.helpers import scratch_store
from tests.unit.fakes import submission_payload

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(servers) -> AsyncIterator[Store]:
    async with scratch_store(servers.mongodb_uri, "intake", ensure_indexes) as store:
        yield store


async def test_concurrent_reservations_on_a_fresh_counter_are_disjoint(store):
    repo = MongoIntakeRepository(store)
    firsts = await asyncio.gather(*(repo.reserve_numbers(2) for _ in range(16)))
    numbers = sorted(n for first in firsts for n in (first, first + 1))
    assert len(set(numbers)) == 32
    assert numbers[0] >= 1


def submissions(*external_ids: str) -> list[AppealSubmitted]:
    return [
        AppealSubmitted.model_validate(submission_payload(external_id=external_id, event_id=str(uuid.uuid4())))
        for external_id in external_ids
    ]


async def test_a_redelivered_batch_keeps_its_appeals_and_their_numbers(store):
    repo = MongoIntakeRepository(store)
    first = submissions("a-1", "a-2")
    decision = register_batch(first, await repo.load(first), utcnow())
    assert await repo.apply(decision.writes) == []

    # The same requests again with one new one: new numbers are reserved, the store's unique key keeps the old.
    again = submissions("a-1", "a-2", "a-3")
    redelivered = register_batch(again, await repo.load(again), utcnow())
    already = await repo.apply(redelivered.writes)
    events, registered = redelivered.announced(already)

    assert sorted(doc.appeal_id for doc in already) == sorted(doc.appeal_id for doc in decision.writes)
    assert {key: new for key, (_, new) in registered.items()} == {"web:a-1": False, "web:a-2": False, "web:a-3": True}
    assert registered["web:a-1"][0] == decision.writes[0].appeal_id
    # The repeated appeals are announced as first registered: the same event ids downstream dedupes on.
    assert {e.event_id for e in events} >= {r.event.event_id for r in decision.registrations}
    assert await store.db[APPEALS].count_documents({}) == 3


async def test_stalled_appeals_come_back_typed(store):
    repo = MongoIntakeRepository(store)
    batch = submissions("s-1")
    decision = register_batch(batch, await repo.load(batch), utcnow() - timedelta(minutes=5))
    await repo.apply(decision.writes)

    stalled = await repo.stalled(before=utcnow())

    # MongoDB keeps milliseconds: compare what the store keeps exactly.
    assert [(doc.appeal_id, doc.intake_key, doc.history[0].event_id) for doc in stalled] == [
        (doc.appeal_id, doc.intake_key, doc.history[0].event_id) for doc in decision.writes
    ]
