"""The notifier's write: one record per appeal and kind of notice, inserted once."""

from collections.abc import Sequence
from typing import Protocol

from services.notifier.domain import Notice
from shared.store import NOTIFICATIONS, Store, insert_new


class NotifierRepository(Protocol):
    async def record(self, notices: Sequence[Notice]) -> int: ...


class MongoNotifierRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, notices: Sequence[Notice]) -> int:
        """Insert the notices; returns how many were recorded before (a redelivery changes nothing)."""
        return len(await insert_new(self.store.db[NOTIFICATIONS], [n.document() for n in notices]))
