"""Events of the intake stage: what channels publish, and what intake announces."""

from typing import Annotated, Literal

import phonenumbers
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.contracts.base import AppealEvent, Code, Event

Language = Literal["uk", "ru", "en"]
AppealText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]

# Kyiv and its immediate surroundings: a coordinate outside is a channel's mistake, not an appeal.
KYIV_LAT = (50.2, 50.65)
KYIV_LON = (30.2, 30.95)


E164Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]


class ResidentContact(BaseModel):
    """The resident's contact as events carry it: intake has already checked and normalized the phone."""

    # Nested in every downstream event: unknown fields are ignored so that adding one breaks no consumer.
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str | None = Field(default=None, max_length=200)
    phone: E164Phone | None = None
    email: EmailStr | None = None
    language: Language = "uk"
    # A resident who asked not to be contacted is never notified; the decision is recorded.
    notifications: bool = True
    # How the resident wants to hear back; unset: the channel's app (webhook) if it has one, else SMS, else e-mail.
    preferred_transport: Literal["sms", "email", "webhook"] | None = None


class SubmittedContact(ResidentContact):
    """The contact as a channel submits it: a phone in any usual form, checked and normalized to E.164 once,
    here, rather than parsed again by every stage (phonenumbers is the dearest step of a classification)."""

    phone: str | None = None  # type: ignore[assignment]

    @field_validator("phone")
    @classmethod
    def _normalize_phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = phonenumbers.parse(value, "UA")
        except phonenumbers.NumberParseException as error:
            raise ValueError(f"not a phone number: {error}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError("not a valid phone number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class Address(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    text: str | None = Field(default=None, max_length=500)
    district: Code | None = None
    lat: float | None = None
    lon: float | None = None

    @model_validator(mode="after")
    def _inside_kyiv(self) -> "Address":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        if self.lat is not None and self.lon is not None:
            if not (KYIV_LAT[0] <= self.lat <= KYIV_LAT[1] and KYIV_LON[0] <= self.lon <= KYIV_LON[1]):
                raise ValueError("coordinates are outside the Kyiv area")
        return self


class AppealSubmitted(Event):
    """Published by a channel to `appeals.intake`: a resident's request as the channel received it."""

    channel: Code
    # The channel's own id for the request: the same (channel, external_id) is the same appeal.
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    text: AppealText
    contact: SubmittedContact | None = None
    address: Address | None = None
    received_at: AwareDatetime
    # Links to photos or documents the resident attached (the files stay where the channel keeps them).
    attachments: list[HttpUrl] = Field(default_factory=list, max_length=10)
    # The category the resident chose, if the channel asks (Open311's service_code); the classifier decides.
    requested_category: Code | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> "AppealSubmitted":
        # Without either, a redelivered message would get a fresh random id and become a second appeal.
        if self.external_id is None and "event_id" not in self.model_fields_set:
            raise ValueError("event_id or external_id is required, so that a redelivery is the same appeal")
        return self

    def intake_key(self) -> str:
        if self.external_id:
            return f"{self.channel}:{self.external_id}"
        return f"event:{self.event_id}"


class AppealRegistered(AppealEvent):
    """Intake stored the appeal under its number; it is the record from now on."""

    channel: Code
    text: str
    contact: ResidentContact | None = None
    address: Address | None = None
    received_at: AwareDatetime
    registered_at: AwareDatetime
    # The category chosen when the appeal was filed (Open311's service_code, the API's category), if any: the
    # resident's hint to the classifier, or the operator's decision when the channel is an operator's desk.
    requested_category: Code | None = None
