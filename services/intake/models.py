"""The intake API's request and response bodies, and the error answers its routes declare."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from shared.contracts.base import Code
from shared.contracts.intake import Address, AppealText, SubmittedContact

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]


class ContactIn(SubmittedContact):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddressIn(Address):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AppealCreate(BaseModel):
    """A resident's appeal as a channel sends it. Unknown fields are refused, so a typo is not silently lost."""

    model_config = ConfigDict(extra="forbid")

    text: AppealText = Field(description="The resident's words, 1–5,000 characters.")
    external_id: str | None = Field(
        None, min_length=1, max_length=128, description="The channel's own id: the same id gives the same appeal."
    )
    contact: ContactIn | None = Field(None, description="Phone in any usual form (normalized to E.164), e-mail.")
    address: AddressIn | None = Field(None, description="Coordinates must lie in the Kyiv area.")
    attachments: list[HttpUrl] = Field(default_factory=list, max_length=10, description="Links to photos, documents.")
    category: Code | None = Field(None, description="A category code of the taxonomy, if the resident chose one.")
    received_at: AwareDatetime | None = Field(None, description="When the channel received it; default: now.")
    correlation_id: str | None = Field(None, max_length=128)


class AppealAccepted(BaseModel):
    appeal_id: str
    status: str
    status_url: str
    created: bool = Field(description="False when this request repeated one already registered (idempotency).")


class DepartmentOut(BaseModel):
    code: str
    name: str | None = None


class HistoryEntryOut(BaseModel):
    status: str
    at: datetime
    note: str | None = None


class AppealStatusOut(BaseModel):
    """What a resident may see of an appeal: no contact, no text."""

    appeal_id: str
    status: str
    closed: bool
    received_at: datetime | None = None
    category: str | None = None
    urgency: str | None = None
    department: DepartmentOut | None = None
    due_at: datetime | None = None
    history: list[HistoryEntryOut]


class Problem(BaseModel):
    detail: Any


class Open311ErrorOut(BaseModel):
    code: int
    description: str


ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}}
OPEN311_ERRORS = {400: {"model": list[Open311ErrorOut]}, 404: {"model": list[Open311ErrorOut]}}
