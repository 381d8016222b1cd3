"""The dispatcher's stored documents as typed models: the appeal as the dispatcher reads it and the mass incident.

The repository validates what it reads into these and dumps them to write; the domain works on them (and on the
domain objects they map to), never on raw dicts.
"""

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.classifier import Classification
from shared.contracts.dispatcher import AppealAssigned, Assignment
from shared.contracts.intake import Address, ResidentContact


class HistoryEntryDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    status: str
    at: AwareDatetime
    event_id: str
    by: str = ""
    note: str = ""
    due_at: AwareDatetime | None = None


class AwaitingReplyDoc(BaseModel):
    """The question put to the resident: whether the resolved appeal is really fixed (`verdict`), or the department's
    question while it waits (`answer`). Only the hash of the single-use token is kept; intake sets `used_at` when it
    takes the reply."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    purpose: Literal["verdict", "answer"]
    token_hash: str
    asked_at: AwareDatetime
    expires_at: AwareDatetime
    # With `answer`: the status the appeal returns to when the resident answers.
    resume_status: str = ""
    used_at: AwareDatetime | None = None


class AppealDoc(BaseModel):
    """An appeal of `appeals` with the fields the dispatcher reads (intake's registration, the classification and
    assignment the dispatcher wrote, the history of every stage). A projection leaves fields at their defaults."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    appeal_id: str = Field(alias="_id")
    status: str = ""
    correlation_id: str | None = None
    channel: str = ""
    text: str = ""
    contact: ResidentContact | None = None
    address: Address | None = None
    received_at: AwareDatetime | None = None
    registered_at: AwareDatetime | None = None
    classification: Classification | None = None
    assignment: Assignment | None = None
    history: tuple[HistoryEntryDoc, ...] = ()
    escalated_due_at: AwareDatetime | None = None
    awaiting_reply: AwaitingReplyDoc | None = None

    @property
    def rounds(self) -> int:
        """How many times the resident reopened the appeal."""
        return sum(1 for entry in self.history if entry.status == "reopened")

    @property
    def applied(self) -> frozenset[str]:
        """The ids of every event written onto the appeal: a stage's write is applied at most once per id."""
        return frozenset(entry.event_id for entry in self.history)

    @property
    def last_event_id(self) -> str:
        return self.history[-1].event_id if self.history else ""

    def registration(self) -> dict[str, Any]:
        """The fields of AppealRegistered (and of every event built on it) as the appeal holds them."""
        return {
            "correlation_id": self.correlation_id or "",
            "appeal_id": self.appeal_id,
            "channel": self.channel,
            "text": self.text,
            "contact": self.contact,
            "address": self.address,
            "received_at": self.received_at,
            "registered_at": self.registered_at,
        }

    def as_assigned(self) -> AppealAssigned | None:
        """The appeal as last assigned (None: never assigned), under the id of the event that assigned it."""
        if self.assignment is None or self.classification is None:
            return None
        last = next(entry for entry in reversed(self.history) if entry.status in ("assigned", "triage"))
        return AppealAssigned(
            event_id=last.event_id,
            occurred_at=last.at,
            **self.registration(),
            classification=self.classification,
            assignment=self.assignment,
        )


class IncidentDoc(BaseModel):
    """A mass incident of `incidents`, `_id` its incident id."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    incident_id: str = Field(alias="_id")
    key: str
    department: str
    category: str
    location: str
    district: str | None = None
    address: Address | None = None
    urgency: str
    appeal_ids: tuple[str, ...]
    texts: tuple[str, ...] = ()
    first_at: AwareDatetime
    last_at: AwareDatetime
    due_at: AwareDatetime
    status: str = "open"
    closed_at: AwareDatetime | None = None
