"""Intake's writes: appeal numbers and new appeal documents."""

from datetime import datetime
from typing import Any, Protocol

from pymongo import ReturnDocument

from shared.store import APPEALS, COUNTERS, Store, insert_new


class IntakeRepository(Protocol):
    async def reserve_numbers(self, count: int) -> int: ...
    async def insert_new(self, documents: list[dict[str, Any]]) -> set[str]: ...
    async def find_by_intake_keys(self, keys: list[str]) -> list[dict[str, Any]]: ...
    async def stalled(self, before: datetime, limit: int = 1000) -> list[dict[str, Any]]: ...


class MongoIntakeRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def reserve_numbers(self, count: int) -> int:
        """Reserve `count` consecutive numbers with one update; returns the first."""
        counter = await self.store.db[COUNTERS].find_one_and_update(
            {"_id": "appeal_number"},
            {"$inc": {"value": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return counter["value"] - count + 1

    async def insert_new(self, documents: list[dict[str, Any]]) -> set[str]:
        """Insert the documents; returns the intake keys that already had an appeal."""
        existing = await insert_new(self.store.db[APPEALS], documents)
        return {documents[index]["intake_key"] for index in existing}

    async def find_by_intake_keys(self, keys: list[str]) -> list[dict[str, Any]]:
        cursor = self.store.db[APPEALS].find({"intake_key": {"$in": keys}})
        return await cursor.to_list()

    async def stalled(self, before: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Appeals still `registered` since before `before` (served by the partial index `stalled`)."""
        cursor = self.store.db[APPEALS].find({"status": "registered", "registered_at": {"$lt": before}}).limit(limit)
        return await cursor.to_list()
