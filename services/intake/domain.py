"""The decide step of intake: turn a channel's submission into the stored appeal and its event. Pure."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.appeals import registration_fields
from shared.channels import ChannelList
from shared.contracts.base import derived_event_id
from shared.contracts.intake import AppealRegistered, AppealSubmitted, ResidentContact
from shared.errors import PermanentError

# Appeal numbers are plain digits a resident can read out on the phone; they start above a million
# so that every number has the same length for a long time.
FIRST_APPEAL_NUMBER = 1_000_000


@dataclass(frozen=True)
class Registration:
    document: dict[str, Any]
    event: AppealRegistered


def check_channel(submission: AppealSubmitted, channels: ChannelList) -> None:
    if submission.channel not in channels.channels:
        raise PermanentError("unknown-channel", f"channel {submission.channel!r} is not registered")


def appeal_number(sequence: int) -> str:
    return str(FIRST_APPEAL_NUMBER + sequence)


def deduplicate(submissions: list[AppealSubmitted]) -> list[AppealSubmitted]:
    """One submission per intake key: a channel that sends the same request twice gets one appeal."""
    seen: dict[str, AppealSubmitted] = {}
    for submission in submissions:
        seen.setdefault(submission.intake_key(), submission)
    return list(seen.values())


def registered_event_id(intake_key: str):
    # Keyed on the intake key, not on the event: a resubmission re-announces the same appeal.
    return derived_event_id("registered", intake_key)


def register(submission: AppealSubmitted, appeal_id: str, now: datetime) -> Registration:
    event = AppealRegistered(
        event_id=registered_event_id(submission.intake_key()),
        occurred_at=now,
        correlation_id=submission.correlation_id or str(submission.event_id),
        appeal_id=appeal_id,
        channel=submission.channel,
        text=submission.text,
        contact=ResidentContact.model_validate(submission.contact.model_dump()) if submission.contact else None,
        address=submission.address,
        received_at=submission.received_at,
        registered_at=now,
    )
    document = {
        "_id": appeal_id,
        "intake_key": submission.intake_key(),
        "external_id": submission.external_id,
        "channel": submission.channel,
        "text": submission.text,
        "contact": submission.contact.model_dump(mode="json") if submission.contact else None,
        "address": submission.address.model_dump(mode="json") if submission.address else None,
        "received_at": submission.received_at,
        "registered_at": now,
        "correlation_id": event.correlation_id,
        "status": "registered",
        "history": [{"status": "registered", "at": now, "event_id": str(event.event_id), "by": "intake"}],
        "updated_at": now,
    }
    return Registration(document=document, event=event)


def registration_from_document(document: dict[str, Any]) -> AppealRegistered:
    """The event of an appeal registered earlier, rebuilt from the record: a redelivery or a redrive repeats it."""
    return AppealRegistered(
        event_id=registered_event_id(document["intake_key"]),
        occurred_at=document["registered_at"],
        **registration_fields(document),
    )
