"""The `consultations` collection: one document per consultation, keyed by its event id (a repeated request adds
nothing)."""

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING

from shared.contracts.knowledge import ConsentedContact, ConsultationGiven
from shared.store import CONSULTATIONS, Store


async def ensure_indexes(store: Store) -> None:
    """Consultations are counted and reported by the time they were given."""
    await store.db[CONSULTATIONS].create_index([("given_at", ASCENDING)], name="given_at")


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
    # The resident's word on an automatic answer: False sent the appeal to the operators.
    helped: bool | None = None

    @classmethod
    def of(cls, event: ConsultationGiven) -> "ConsultationDoc":
        return cls.model_validate({**event.model_dump(exclude={"event_id"}), "_id": str(event.event_id)})


class Consultations(Protocol):
    async def record(self, documents: list[ConsultationDoc]) -> set[str]:
        """Stores the new ones; returns the ids of those stored before."""
        ...

    async def count(self) -> int: ...

    async def automatic_answer(self, appeal_id: str) -> ConsultationDoc | None: ...

    async def record_feedback(self, consultation_id: str, helped: bool) -> bool:
        """True when this is the resident's first word on it."""
        ...


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

    async def automatic_answer(self, appeal_id: str) -> ConsultationDoc | None:
        found = await self.store.db[CONSULTATIONS].find_one({"appeal_id": appeal_id, "given_by": "automatic"})
        return ConsultationDoc.model_validate(found) if found else None

    async def record_feedback(self, consultation_id: str, helped: bool) -> bool:
        result = await self.store.db[CONSULTATIONS].update_one(
            {"_id": consultation_id, "helped": {"$exists": False}}, {"$set": {"helped": helped}}
        )
        return result.modified_count == 1
