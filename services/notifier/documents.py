"""The notifier's stored documents as typed models: a notice of `notifications` and a delivery batch of
`notification_deliveries`. The repository dumps them to write and validates what it reads into them; the domain and
the deliverer work on them, never on raw dicts.

A field left out of the stored document is None here (`to_document` leaves None out): a notice without
`next_attempt_at` is never due (the sparse index `due` holds only those that are), one without `delivery` was not
handed to a sender's batch.
"""

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class NoticeDoc(BaseModel):
    """A notice, recorded once under its idempotency key (`_id`) before anything is sent."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    key: str = Field(alias="_id")
    appeal_id: str
    kind: str
    transport: str
    state: str
    reason: str = ""
    detail: str | None = None
    recipient: str = ""
    subject: str = ""
    text: str = ""
    email_body: str | None = None
    language: str = "uk"
    event_id: str = ""
    correlation_id: str = ""
    channel: str | None = None
    sms_encoding: str | None = None
    sms_segments: int | None = None
    attempts: int = 0
    created_at: AwareDatetime
    next_attempt_at: AwareDatetime | None = None
    attempted_at: AwareDatetime | None = None
    sent_at: AwareDatetime | None = None
    failed_at: AwareDatetime | None = None
    # The sender's delivery batch it was handed to, and the claim token of the sender that took it for an attempt.
    delivery: str | None = None
    claim: str | None = None

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class DeliveryDoc(BaseModel):
    """A batch of notices handed to one sender (`owner`): until `lease_until` no other sender touches them; `sent`
    names those that went at their first attempt (settled at `settled_at`)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    delivery_id: str = Field(alias="_id")
    keys: tuple[str, ...] = ()
    created_at: AwareDatetime | None = None
    lease_until: AwareDatetime | None = None
    owner: str = ""
    sent: tuple[str, ...] = ()
    settled_at: AwareDatetime | None = None

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump(by_alias=True, exclude_none=True)
        document["keys"], document["sent"] = list(self.keys), list(self.sent)
        if not self.sent and self.settled_at is None:
            del document["sent"]
        return document
