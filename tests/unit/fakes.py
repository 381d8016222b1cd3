"""In-memory stand-ins for the repositories and the park callback, and builders of events.

Each fake implements its repository's Protocol with the semantics of the Mongo adapter it replaces
(as cosmicpython's FakeRepository): intake's unique intake key, the stage update that applies once per
event id and reads back what is stored, the notifier's insert-once by `_id`.
"""

import copy
import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import ConsumerRecord

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain import OPEN_STATUSES, Incident, Routing, StatusChange
from services.dispatcher.domain.assignments import AssignmentSnapshot, AssignmentWrites, RoutedBatch
from services.dispatcher.domain.reports import ReportSnapshot, ReportWrites
from services.dispatcher.handlers import Dependencies
from services.dispatcher.repository import assignment_update, status_updates
from services.intake.documents import AppealDoc as IntakeAppealDoc
from services.intake.domain import NumberBlock
from services.notifier.documents import DeliveryDoc, NoticeDoc
from services.notifier.repository import unsent_selector
from shared.appeals import StageUpdate
from shared.contracts.classifier import AppealClassified, Classification
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import AppealAssigned, AppealEscalated, Assignment
from shared.contracts.intake import Address, AppealRegistered, AppealSubmitted, ResidentContact
from shared.contracts.residents import ResidentReplied
from shared.store import notice_as_it_stands

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
RECEIVED = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
PHONE = "+380671234567"


# --- the park callback -------------------------------------------------------------------------


@dataclass
class ParkedRecords:
    """A ParkRecord that keeps what it was given instead of publishing to a dead-letter topic."""

    items: list[tuple[ConsumerRecord, Exception]] = field(default_factory=list)

    async def __call__(self, record: ConsumerRecord, error: Exception) -> None:
        self.items.append((record, error))

    @property
    def values(self) -> list[bytes | None]:
        return [record.value for record, _ in self.items]

    @property
    def errors(self) -> list[Exception]:
        return [error for _, error in self.items]


def consumer_record(value: bytes | None, topic: str = "appeals.intake", offset: int = 0) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value or b""),
        headers=(),
    )


# --- repositories ------------------------------------------------------------------------------


class FakeIntakeRepository:
    """IntakeRepository: a counter and appeals unique on their intake key.

    `stalled` answers like the Mongo query on the partial index: appeals still `registered`, registered
    strictly before the given time, oldest first, at most `limit`; each call is kept in `stalled_calls`.
    """

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.counter = 0
        self.appeals: dict[str, dict[str, Any]] = {}
        self.reserved: list[int] = []
        self.stalled_calls: list[tuple[datetime, int]] = []
        self.fail_with = fail_with

    async def reserve_numbers(self, count: int) -> int:
        self.reserved.append(count)
        self.counter += count
        return self.counter - count + 1

    async def insert_new(self, documents: list[dict[str, Any]]) -> set[str]:
        if self.fail_with is not None:
            raise self.fail_with
        known_keys = {document["intake_key"] for document in self.appeals.values()}
        existing: set[str] = set()
        for document in documents:
            if document["intake_key"] in known_keys:
                existing.add(document["intake_key"])
                continue
            self.appeals[document["_id"]] = dict(document)
            known_keys.add(document["intake_key"])
        return existing

    async def load(self, submissions: Sequence[AppealSubmitted]) -> NumberBlock:
        return NumberBlock(await self.reserve_numbers(len(submissions)))

    async def apply(self, appeals: Sequence[IntakeAppealDoc]) -> list[IntakeAppealDoc]:
        known = await self.insert_new([appeal.to_document() for appeal in appeals])
        return [IntakeAppealDoc.model_validate(d) for d in self.appeals.values() if d["intake_key"] in known]

    async def stalled(self, before: datetime, limit: int = 1000) -> list[IntakeAppealDoc]:
        self.stalled_calls.append((before, limit))
        waiting = [
            dict(document)
            for document in self.appeals.values()
            if document["status"] == "registered" and document["registered_at"] < before
        ]
        oldest = sorted(waiting, key=lambda document: document["registered_at"])[:limit]
        return [IntakeAppealDoc.model_validate(document) for document in oldest]


class FakeClassifierRepository:
    """ClassifierRepository: every decision inserted once into `classifications`, keyed by its event id.

    Like MongoClassifierRepository: returns {appeal_id: stored decision} for events decided before.
    """

    def __init__(self) -> None:
        self.classifications: dict[str, dict[str, Any]] = {}
        self.saved: list[AppealClassified] = []

    def seed(self, appeal_id: str, classification: Classification, event_id: uuid.UUID) -> None:
        """A decision made earlier for this outgoing event id."""
        self.classifications[str(event_id)] = {
            "_id": str(event_id),
            "appeal_id": appeal_id,
            "classification": classification.model_dump(mode="python"),
        }

    async def save_classifications(self, events: Sequence[AppealClassified]) -> dict[str, dict]:
        existing: dict[str, dict] = {}
        for event in events:
            key = str(event.event_id)
            if key in self.classifications:
                existing[event.appeal_id] = self.classifications[key]
                continue
            self.classifications[key] = {
                "_id": key,
                "appeal_id": event.appeal_id,
                "classification": event.classification.model_dump(mode="python"),
            }
            self.saved.append(event)
        return existing


def apply_stage_update(documents: dict[str, dict[str, Any]], update: StageUpdate) -> bool:
    """`shared.appeals.as_operation` on a dict: skipped when the appeal is unknown or its history already holds the
    update's (last) event id; otherwise set the fields, the status and updated_at, and push the entries."""
    document = documents.get(update.appeal_id)
    if document is None or update.event_id in {entry["event_id"] for entry in document.get("history", [])}:
        return False
    last = update.entries[-1]
    document["status"] = last.status
    document["updated_at"] = last.at
    for name, value in copy.deepcopy(update.fields).items():
        # A dotted name sets a field of a sub-document, as MongoDB's $set does.
        *path, leaf = name.split(".")
        target = document
        for part in path:
            target = target.setdefault(part, {})
        target[leaf] = value
    document.setdefault("history", []).extend(entry.document() for entry in update.entries)
    return True


def registered_document(event: AppealRegistered) -> dict[str, Any]:
    """The appeal document as intake stores it (services/intake/domain.py `register`) for this event."""
    return {
        "_id": event.appeal_id,
        "intake_key": f"{event.channel}:{event.appeal_id}",
        "external_id": event.appeal_id,
        "channel": event.channel,
        "text": event.text,
        "contact": event.contact.model_dump(mode="json") if event.contact else None,
        "address": event.address.model_dump(mode="json") if event.address else None,
        "received_at": event.received_at,
        "registered_at": event.registered_at,
        "attachments": [],
        "requested_category": None,
        "correlation_id": event.correlation_id,
        "status": "registered",
        "history": [
            {"status": "registered", "at": event.registered_at, "event_id": str(event.event_id), "by": "intake"}
        ],
        "updated_at": event.registered_at,
    }


class FakeDispatcherRepository:
    """The dispatcher's repositories on dicts, as the store holds its documents: `assignments`, `reports` and
    `overdue` (each `load` and `apply`) and the triage desk's reads, all over the same appeals and incidents.

    Like the Mongo adapters: every read maps documents to AppealDoc; an appeal's write is the stage update of
    shared.appeals, applied once per (last) event id (`apply_stage_update`); a batch's reports are merged per appeal
    with `status_update`; incidents are saved additively. `appeals=None` means every appeal exists.
    """

    def __init__(self, appeals: Iterable[str] | None = None) -> None:
        self.every_appeal_exists = appeals is None
        self.documents: dict[str, dict[str, Any]] = {
            appeal_id: {"_id": appeal_id, "history": []} for appeal_id in appeals or ()
        }
        self.saved: list[AppealAssigned] = []
        self.status_calls: list[list[StatusChange]] = []
        self.incidents: dict[str, Incident] = {}
        self.assignments = _FakeAssignments(self)
        self.reports = _FakeReports(self)
        self.replies = _FakeReplies(self)
        self.overdue = _FakeOverdue(self)

    def seed(self, appeal_id: str, assignment: Assignment, event_id: uuid.UUID) -> None:
        """An appeal that already holds an assignment, written for `event_id`."""
        self.documents[appeal_id] = {
            "_id": appeal_id,
            "assignment": assignment.model_dump(mode="python"),
            "status": "assigned",
            "history": [{"status": "assigned", "at": NOW, "event_id": str(event_id), "by": "dispatcher"}],
        }

    def seed_assigned(self, assigned: AppealAssigned) -> AppealDoc:
        """A whole appeal as the store holds it once intake registered it and the dispatcher assigned it."""
        registered = AppealRegistered.model_validate(
            {
                **assigned.model_dump(exclude={"event_id"}),
                "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"registered/{assigned.appeal_id}"),
            }
        )
        self.documents[assigned.appeal_id] = registered_document(registered)
        apply_stage_update(self.documents, assignment_update(assigned))
        return AppealDoc.model_validate(self.documents[assigned.appeal_id])

    def find(self, appeal_ids: Iterable[str]) -> dict[str, AppealDoc]:
        known = [appeal_id for appeal_id in appeal_ids if appeal_id in self.documents]
        return {appeal_id: AppealDoc.model_validate(copy.deepcopy(self.documents[appeal_id])) for appeal_id in known}

    def dependencies(self, routing: Routing, park: Any, clock: Any = lambda: NOW) -> Dependencies:
        """What the dispatcher's handlers use, over this fake."""
        return Dependencies(self.assignments, self.reports, self.replies, self.overdue, routing, park, clock)

    # the triage desk's reads
    async def load_appeals(self, appeal_ids: Sequence[str]) -> dict[str, AppealDoc]:
        return self.find(appeal_ids)

    async def triage_page(self, limit: int, after: str | None) -> list[dict[str, Any]]:
        waiting = sorted(i for i, d in self.documents.items() if d.get("status") == "triage" and i > (after or ""))
        return [copy.deepcopy(self.documents[i]) for i in waiting[:limit]]


@dataclass
class _FakeAssignments:
    """AssignmentRepository: the batch's appeals and the open incidents of its places; incidents, then appeals."""

    repo: FakeDispatcherRepository

    async def load(self, batch: RoutedBatch) -> AssignmentSnapshot:
        if self.repo.every_appeal_exists:
            for appeal_id in batch.appeal_ids:
                self.repo.documents.setdefault(appeal_id, {"_id": appeal_id, "history": []})
        places = set(batch.places)
        incidents = {i.key: i for i in self.repo.incidents.values() if i.key in places and i.status == "open"}
        return AssignmentSnapshot(self.repo.find(batch.appeal_ids), incidents)

    async def apply(self, writes: AssignmentWrites) -> None:
        stored = self.repo.incidents
        for incident in writes.incidents:
            before = stored.get(incident.incident_id)
            if before is not None:
                ids = (*before.appeal_ids, *(a for a in incident.appeal_ids if a not in before.appeal_ids))
                incident = dataclasses.replace(incident, appeal_ids=ids, status=before.status)
            stored[incident.incident_id] = incident
        for event in writes.assignments:
            if apply_stage_update(self.repo.documents, assignment_update(event)):
                self.repo.saved.append(event)


@dataclass
class _FakeReports:
    """ReportRepository: the reported appeals, their incidents and the incidents' other appeals; the changes merged
    per appeal, the closed incidents' status set."""

    repo: FakeDispatcherRepository

    async def load(self, updates: Sequence[DepartmentUpdate]) -> ReportSnapshot:
        appeals = self.repo.find({update.appeal_id for update in updates})
        wanted = {a.assignment.incident_id for a in appeals.values() if a.assignment and a.assignment.incident_id}
        incidents = {i: self.repo.incidents[i] for i in wanted if i in self.repo.incidents}
        others = {appeal_id for incident in incidents.values() for appeal_id in incident.appeal_ids} - set(appeals)
        return ReportSnapshot({**appeals, **self.repo.find(others)}, incidents)

    async def apply(self, writes: ReportWrites) -> None:
        self.repo.status_calls.append(list(writes.changes))
        for update in status_updates(writes.changes, writes.due_before):
            apply_stage_update(self.repo.documents, update)
        for status, incident_ids in writes.closed_incidents.items():
            for incident_id in incident_ids:
                self.repo.incidents[incident_id] = dataclasses.replace(self.repo.incidents[incident_id], status=status)


@dataclass
class _FakeReplies:
    """ReplyRepository: the replied appeals; the changes merged per appeal."""

    repo: FakeDispatcherRepository

    async def load(self, replies: Sequence[ResidentReplied]) -> dict[str, AppealDoc]:
        return self.repo.find({reply.appeal_id for reply in replies})

    async def apply(self, writes: ReportWrites) -> None:
        for update in status_updates(writes.changes, writes.due_before):
            apply_stage_update(self.repo.documents, update)


@dataclass
class _FakeOverdue:
    """OverdueRepository: open appeals past their due time, at most `limit`; escalations marked on the appeal."""

    repo: FakeDispatcherRepository

    async def load(self, now: datetime, limit: int) -> list[AppealDoc]:
        due = [
            i
            for i, d in self.repo.documents.items()
            if d.get("status") in OPEN_STATUSES and d.get("assignment") and d["assignment"]["due_at"] < now
        ]
        return list(self.repo.find(due[:limit]).values())

    async def apply(self, escalated: Sequence[AppealEscalated]) -> None:
        for event in escalated:
            self.repo.documents[event.appeal_id]["escalated_due_at"] = event.due_at

    async def load_unanswered(self, now: datetime, limit: int) -> list[AppealDoc]:
        due = [
            appeal_id
            for appeal_id, document in self.repo.documents.items()
            if document.get("status") == "resolved"
            and (awaiting := document.get("awaiting_reply"))
            and awaiting["expires_at"] < now
        ]
        return list(self.repo.find(due[:limit]).values())

    async def close(self, closures: Sequence[StatusChange]) -> None:
        for update in status_updates(closures):
            apply_stage_update(self.repo.documents, update)


class FakeNotifierRepository:
    """NotifierRepository: notices inserted once by their `_id`; delivery batches opened, settled and taken over, and
    notices due, claimed and settled as the Mongo adapter does (a claim or a settlement holds only if state and attempt
    count are as expected; a claim's lease pushes the next attempt back). `view` reads a notice as the status does."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.deliveries: dict[str, dict[str, Any]] = {}

    async def record(self, notices: Sequence[NoticeDoc]) -> list[int]:
        already = []
        for index, notice in enumerate(notices):
            if notice.key in self.documents:
                already.append(index)
                continue
            self.documents[notice.key] = notice.to_document()
        return already

    def view(self, key: str) -> dict[str, Any]:
        notice = self.documents[key]
        return notice_as_it_stands(notice, self.deliveries.get(notice.get("delivery", "")))

    async def open_deliveries(self, deliveries: Sequence[DeliveryDoc]) -> None:
        for delivery in deliveries:
            self.deliveries[delivery.delivery_id] = delivery.to_document()

    async def settle_delivery(self, delivery_id: str, sent: Sequence[str] | None, now: datetime, *, final: bool):
        delivery = self.deliveries[delivery_id]
        if sent is not None:
            delivery.update(sent=list(sent), settled_at=now)
        if final:
            delivery.pop("lease_until", None)

    async def expired_deliveries(self, now: datetime, limit: int) -> list[DeliveryDoc]:
        expired = [d for d in self.deliveries.values() if "lease_until" in d and d["lease_until"] <= now]
        return [DeliveryDoc.model_validate(d) for d in sorted(expired, key=lambda d: d["lease_until"])[:limit]]

    async def claim_unsent(self, delivery: DeliveryDoc, now: datetime, lease_s: float) -> list[NoticeDoc]:
        selector = unsent_selector(delivery)
        taken = [
            self.documents[key]
            for key in selector["_id"]["$in"]
            if key in self.documents
            and all(self.documents[key].get(field) == selector[field] for field in ("delivery", "state", "attempts"))
        ]
        return self._claim(taken, now, lease_s)

    def _claim(self, documents: list[dict[str, Any]], now: datetime, lease_s: float) -> list[NoticeDoc]:
        token = uuid.uuid4().hex
        for document in documents:
            document.update(
                state="sending",
                next_attempt_at=now + timedelta(seconds=lease_s),
                attempted_at=now,
                attempts=document["attempts"] + 1,
                claim=token,
            )
        return [NoticeDoc.model_validate(document) for document in documents]

    async def hold(self, held: Any, until: datetime, now: datetime) -> None:
        for delivery_id in held.deliveries:
            delivery = self.deliveries[delivery_id]
            if "lease_until" in delivery and delivery["lease_until"] > now:
                delivery["lease_until"] = until
        for token, keys in held.claims.items():
            for key in keys:
                if self.documents[key].get("claim") == token and self.documents[key]["state"] == "sending":
                    self.documents[key]["next_attempt_at"] = until

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[NoticeDoc]:
        due = sorted(
            (
                document
                for document in self.documents.values()
                if document["state"] in ("pending", "sending")
                and "next_attempt_at" in document
                and document["next_attempt_at"] <= now
            ),
            key=lambda document: document["next_attempt_at"],
        )[:limit]
        return self._claim(due, now, lease_s)

    async def settle(self, settlements: Sequence[Any], now: datetime) -> None:
        for item in settlements:
            stored = self.documents[item.key]
            if (stored["state"], stored["attempts"]) != (item.expected_state, item.expected_attempts):
                continue
            outcome = item.outcome
            stored.update(state=outcome.state, attempts=item.attempts, reason=outcome.reason, detail=outcome.detail)
            if outcome.state == "pending":
                stored["next_attempt_at"] = outcome.next_attempt_at
            else:
                stored.pop("next_attempt_at", None)
                stored["sent_at" if outcome.state == "sent" else "failed_at"] = now


# --- events ------------------------------------------------------------------------------------


def submission_payload(**overrides: Any) -> dict[str, Any]:
    """What a channel publishes to appeals.intake, as JSON-ready data."""
    payload: dict[str, Any] = {
        "channel": "web",
        "external_id": "web-1",
        "text": "Немає опалення в квартирі, батареї холодні",
        "contact": {"name": "Олена", "phone": "067 123 45 67", "language": "uk"},
        "address": {"text": "вул. Героїв Дніпра, 5", "district": "obolonskyi"},
        "received_at": RECEIVED.isoformat(),
    }
    payload.update(overrides)
    return payload


def registered_event(
    text: str = "Немає опалення в квартирі, батареї холодні",
    *,
    appeal_id: str = "1000001",
    contact: ResidentContact | None = None,
    address: Address | None = None,
    event_id: uuid.UUID | None = None,
) -> AppealRegistered:
    return AppealRegistered(
        event_id=event_id or uuid.uuid5(uuid.NAMESPACE_URL, f"registered/{appeal_id}"),
        occurred_at=NOW,
        correlation_id=f"corr-{appeal_id}",
        appeal_id=appeal_id,
        channel="web",
        text=text,
        contact=contact,
        address=address,
        received_at=RECEIVED,
        registered_at=NOW,
    )


def classified_event(
    category: str,
    urgency: str = "normal",
    *,
    text: str = "Текст звернення",
    appeal_id: str = "1000001",
    district: str | None = None,
    address_text: str | None = None,
    contact: ResidentContact | None = None,
) -> AppealClassified:
    address = Address(text=address_text, district=district) if (district or address_text) else None
    registered = registered_event(text, appeal_id=appeal_id, contact=contact, address=address)
    return AppealClassified(
        **registered.model_dump(exclude={"event_id"}),
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"classified/{appeal_id}"),
        classification=Classification(category=category, urgency=urgency, confidence=1.0, ruleset="test"),
    )


def assigned_event(
    *,
    outcome: str = "assigned",
    department: str = "kyivteploenergo",
    department_name: str = "КП «Київтеплоенерго»",
    category: str = "heating",
    appeal_id: str = "1000001",
    contact: ResidentContact | None = None,
    due_at: datetime = datetime(2026, 1, 18, 9, 30, tzinfo=UTC),
) -> AppealAssigned:
    classified = classified_event(category, "high", appeal_id=appeal_id, contact=contact)
    return AppealAssigned(
        **classified.model_dump(exclude={"event_id"}),
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"assigned/{appeal_id}"),
        assignment=Assignment(
            department=department,
            department_name=department_name,
            due_at=due_at,
            outcome=outcome,
            reason="test",
        ),
    )


def published(publisher: Any) -> list[dict[str, Any]]:
    """Every message a batch publisher sent under TestKafkaBroker, in order, as decoded JSON."""
    return [message for call in publisher.mock.call_args_list for message in call.args[0]]


def department_update(
    status: str,
    *,
    appeal_id: str = "1000001",
    department: str = "kyivteploenergo",
    comment: str = "",
    suggested: str | None = None,
    number: int = 1,
) -> DepartmentUpdate:
    """A department's report; the event id follows the appeal, the status and `number`, so a copy is a redelivery."""
    return DepartmentUpdate(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"update/{appeal_id}/{department}/{status}/{number}"),
        occurred_at=NOW,
        correlation_id=f"corr-{appeal_id}",
        appeal_id=appeal_id,
        department=department,
        status=status,
        comment=comment,
        suggested_department=suggested,
    )
