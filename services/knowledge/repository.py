"""The `consultations` collection: one document per consultation, keyed by its event id (a repeated request adds
nothing)."""

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.knowledge import ConsentedContact, ConsultationGiven
from shared.store import CONSULTATIONS, Store


class ConsultationDoc(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    id: str = Field(alias="_id")
    channel: str
    category: str
    article: str
    given_by: str
    operator: str | None = None
    appeal_id: str | None = None
    given_at: datetime
    contact: ConsentedContact | None = None

    @classmethod
    def of(cls, event: ConsultationGiven) -> "ConsultationDoc":
        return cls.model_validate({**event.model_dump(exclude={"event_id"}), "_id": str(event.event_id)})


class Consultations(Protocol):
    async def record(self, documents: list[ConsultationDoc]) -> set[str]:
        """Stores the new ones; returns the ids of those stored before."""
        ...

    async def count(self) -> int: ...


class MongoConsultations:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, documents: list[ConsultationDoc]) -> set[str]:
        from shared.store import insert_new

        existing = await insert_new(
            self.store.db[CONSULTATIONS],
            [document.model_dump(by_alias=True, mode="python", exclude_none=True) for document in documents],
        )
        return {documents[index].id for index in existing}

    async def count(self) -> int:
        return await self.store.db[CONSULTATIONS].count_documents({})
