"""Appeal numbers on the real store: concurrent first reservations (HTTP requests on a fresh store) never collide."""

import asyncio
import uuid

import pytest

from services.intake.repository import MongoIntakeRepository
from shared.store import Store
from tests.integration.helpers import store_client

pytestmark = pytest.mark.integration


async def test_concurrent_reservations_on_a_fresh_counter_are_disjoint(servers):
    store = Store(store_client(servers.mongodb_uri), f"cityline_numbers_{uuid.uuid4().hex[:8]}")
    repo = MongoIntakeRepository(store)
    try:
        firsts = await asyncio.gather(*(repo.reserve_numbers(2) for _ in range(16)))
        numbers = sorted(n for first in firsts for n in (first, first + 1))
        assert len(set(numbers)) == 32
        assert numbers[0] >= 1
    finally:
        await store.client.drop_database(store.database_name)
        await store.close()
