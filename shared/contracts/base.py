"""What every event carries, and how derived event ids are made."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# Stable namespace for derived event ids: the same incoming event always yields the same outgoing id.
EVENT_NAMESPACE = uuid.UUID("6f1d3c1e-51c4-4c8f-9d51-15511551c1e1")

AppealId = Annotated[str, StringConstraints(pattern=r"^\d{7,12}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]


def utcnow() -> datetime:
    """Now, to the millisecond: what MongoDB stores, so an event re-read from the store equals the original."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def derived_event_id(stage: str, source_event_id: uuid.UUID | str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{stage}:{source_event_id}")


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    schema_version: int = 1
    # Ties together everything that follows from one request; a channel may set its own.
    correlation_id: str = Field(default="", max_length=128)


class AppealEvent(Event):
    appeal_id: AppealId

    def kafka_key(self) -> bytes:
        return self.appeal_id.encode()
