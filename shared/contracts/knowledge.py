"""Events of the knowledge service."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import AppealId, Code, Event
from shared.contracts.intake import ResidentContact

ArticleId = str


class ConsentedContact(ResidentContact):
    """A resident's contact kept with a consultation: only when the resident agreed to it."""

    consent: Literal[True] = Field(description="the resident agreed that the contact is kept with the consultation")


class ConsultationGiven(Event):
    """Published to `consultations.given` when a resident's question was answered from the knowledge base: by an
    operator at the call desk, by a channel that showed an article, or by the automatic answer that closed an
    information request (then `appeal_id` names it). Carries no contact unless the resident agreed."""

    schema_version: int = 1
    channel: Code
    category: Code
    article: ArticleId = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")
    given_by: Literal["operator", "channel", "automatic"]
    # The operator's name at the call desk; None for a channel or the automatic answer.
    operator: str | None = Field(None, max_length=100)
    appeal_id: AppealId | None = None
    given_at: AwareDatetime
    contact: ConsentedContact | None = None

    model_config = ConfigDict(frozen=True, extra="ignore")

    def kafka_key(self) -> bytes:
        return str(self.event_id).encode()


class ConsultationSummary(BaseModel):
    """What a consultation record says, for the API's answer."""

    consultation_id: str
    created: bool
