"""Intake's stored document as a typed model: the appeal as registered. The repository dumps it to insert and
validates what it reads back into it; the domain never sees the raw dict."""

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.appeals import registration_fields


class RegisteredHistoryDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    status: str
    at: AwareDatetime
    event_id: str
    by: str = ""


class AppealDoc(BaseModel):
    """An appeal of `appeals` as intake writes it; `intake_key` (unique) makes the registration idempotent.
    Contact and address are kept as the channel gave them (JSON form), as the status API and Open311 show them."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    appeal_id: str = Field(alias="_id")
    intake_key: str
    external_id: str | None = None
    channel: str
    text: str
    contact: dict[str, Any] | None = None
    address: dict[str, Any] | None = None
    received_at: AwareDatetime
    registered_at: AwareDatetime
    attachments: tuple[str, ...] = ()
    requested_category: str | None = None
    correlation_id: str | None = None
    status: str = "registered"
    history: tuple[RegisteredHistoryDoc, ...] = ()
    updated_at: datetime | None = None

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump(by_alias=True, mode="python")
        document["attachments"] = list(self.attachments)
        document["history"] = [entry.model_dump() for entry in self.history]
        return document

    def registration(self) -> dict[str, Any]:
        """The fields of AppealRegistered as the appeal holds them."""
        return registration_fields(self.model_dump(by_alias=True))
