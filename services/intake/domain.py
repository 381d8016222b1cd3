"""The decide step of intake: turn a channel's submission into the stored appeal and its event. Pure."""

import hashlib
import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.documents import AppealDoc, RegisteredHistoryDoc
from services.intake.privacy import mask_private
from shared.channel_keys import CHANNEL_HEADER
from shared.channels import ChannelList
from shared.contracts.base import derived_event_id
from shared.contracts.intake import AppealRegistered, AppealSubmitted, ResidentContact
from shared.errors import PermanentError

# Appeal numbers are plain digits a resident can read out on the phone; they start above a million
# so that every number has the same length for a long time.
FIRST_APPEAL_NUMBER = 1_000_000


@dataclass(frozen=True)
class Registration:
    document: AppealDoc
    event: AppealRegistered


@dataclass(frozen=True)
class NumberBlock:
    """The load phase's snapshot: consecutive appeal numbers reserved for a batch, from `first` on."""

    first: int


@dataclass(frozen=True)
class RegistrationBatch:
    """The decision for a batch: the appeals to insert (the write phase) and their events. Which of them were
    registered before is known only after the insert, which the unique intake key decides (`announced`)."""

    registrations: tuple[Registration, ...]

    @property
    def writes(self) -> list[AppealDoc]:
        return [r.document for r in self.registrations]

    def announced(self, already: list[AppealDoc]) -> tuple[list[AppealRegistered], dict[str, tuple[str, bool]]]:
        """The events to publish and {intake key: (appeal id, new?)}, given the appeals stored earlier under some of
        the batch's intake keys: those keep their number and are announced again as first registered."""
        known = {document.intake_key: document for document in already}
        events = [r.event for r in self.registrations if r.document.intake_key not in known]
        registered = {
            r.document.intake_key: (r.document.appeal_id, True)
            for r in self.registrations
            if r.document.intake_key not in known
        }
        for key, document in known.items():
            events.append(registration_from_document(document))
            registered[key] = (document.appeal_id, False)
        return events, registered


def register_batch(submissions: list[AppealSubmitted], numbers: NumberBlock, now: datetime) -> RegistrationBatch:
    """One registration per distinct intake key, numbered from the block's first number on."""
    return RegistrationBatch(
        tuple(register(s, appeal_number(numbers.first + i), now) for i, s in enumerate(deduplicate(submissions)))
    )


def check_channel(submission: AppealSubmitted, channels: ChannelList, api_channels: Collection[str] = ()) -> None:
    """A Kafka submission's channel must be a channel kind of channels.yaml or a channel with an active key."""
    if submission.channel not in channels.channels and submission.channel not in api_channels:
        raise PermanentError("unknown-channel", f"channel {submission.channel!r} is not registered")


def check_channel_header(header: bytes | None, channels: ChannelList, api_channels: Collection[str]) -> str:
    """The channel a Kafka producer names in its header, checked against the same list. The header is required: the
    body's word alone is not enough (on real Kafka, ACLs decide who may write the topic; see docs)."""
    if header is None:
        raise PermanentError("missing-channel", f"the {CHANNEL_HEADER} header is required: it names the channel")
    name = header.decode("utf-8", "replace")
    if name not in channels.channels and name not in api_channels:
        raise PermanentError("unknown-channel", f"{CHANNEL_HEADER} names channel {name!r}, which is not registered")
    return name


def check_channel_matches(submission: AppealSubmitted, header_channel: str | None) -> None:
    if header_channel is not None and submission.channel != header_channel:
        raise PermanentError(
            "channel-mismatch",
            f"the body's channel {submission.channel!r} is not the {CHANNEL_HEADER} header's {header_channel!r}",
        )


def idempotent_event_id(channel: str, idempotency_key: str) -> uuid.UUID:
    """The submission's event id for an Idempotency-Key: the same key of one channel is always the same appeal."""
    return derived_event_id("idempotency-key", f"{channel}:{idempotency_key}")


def request_fingerprint(payload: Any) -> str:
    """What a request asked for, to tell a retry (same key, same request) from a key reused for another one."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


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
        requested_category=submission.requested_category,
    )
    document = AppealDoc(
        appeal_id=appeal_id,
        intake_key=submission.intake_key(),
        external_id=submission.external_id,
        channel=submission.channel,
        text=submission.text,
        contact=submission.contact.model_dump(mode="json") if submission.contact else None,
        address=submission.address.model_dump(mode="json") if submission.address else None,
        received_at=submission.received_at,
        registered_at=now,
        attachments=tuple(str(url) for url in submission.attachments),
        requested_category=submission.requested_category,
        correlation_id=event.correlation_id,
        status="registered",
        history=(RegisteredHistoryDoc(status="registered", at=now, event_id=str(event.event_id), by="intake"),),
        updated_at=now,
    )
    return Registration(document=document, event=event)


def registration_from_document(document: AppealDoc) -> AppealRegistered:
    """The event of an appeal registered earlier, rebuilt from the record: a redelivery or a redrive repeats it."""
    return AppealRegistered(
        event_id=registered_event_id(document.intake_key),
        occurred_at=document.registered_at,
        **document.registration(),
    )


# What a resident may see of an appeal: its progress, never the contact or another resident's words.
CLOSED_STATUSES = frozenset({"resolved", "rejected"})


def resident_names(contact: dict[str, Any] | None) -> list[str]:
    """The resident's own name, to be masked wherever a note repeats it."""
    name = (contact or {}).get("name")
    return [name] if name else []


def resident_view(view: dict[str, Any], *, whole: bool = False) -> dict[str, Any]:
    """The status of an appeal, from the store's appeal view; notes masked unless `whole` (its channel, staff)."""
    names = resident_names(view.get("contact"))

    def shown(note: str) -> str:
        return note if whole else mask_private(note, names)

    classification = view.get("classification") or {}
    assignment = view.get("assignment") or {}
    department = None
    if assignment.get("department"):
        department = {"code": assignment["department"], "name": assignment.get("department_name")}
    return {
        "appeal_id": view["appeal_id"],
        "status": view["status"],
        "closed": view["status"] in CLOSED_STATUSES,
        "received_at": view.get("received_at"),
        "category": classification.get("category"),
        "urgency": classification.get("urgency"),
        "department": department,
        "due_at": assignment.get("due_at"),
        "history": [
            {
                "status": entry["status"],
                "at": entry["at"],
                **({"note": shown(entry["note"])} if entry.get("note") else {}),
            }
            for entry in view.get("history", [])
        ],
    }
