"""The console's store access: its own people (`users`), and typed reads of the appeals other services own.

The console writes only `users`. Appeals, incidents and notices are read here and changed only through the owning
service's API. The reads rely on these indexes of `appeals`: `_id` (the number), `received_at` (newest first, built by
intake), `status` + `assignment.due_at` (built by the dispatcher), and the console's own (boards.py's
`ensure_board_indexes`): `contact.phone` (the caller's appeals) and `assignment.department` + `received_at`.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.contracts.base import Code
from shared.errors import TransientError
from shared.store import APPEALS, INCIDENTS, Store

USERS = "users"
Role = Literal["operator", "supervisor", "department", "admin"]
ROLES: tuple[Role, ...] = ("operator", "supervisor", "department", "admin")
CLOSED_STATUSES = ("resolved", "rejected")


class UserExists(ValueError):
    pass


class UserDoc(BaseModel):
    """A person who signs in to the console. The password is kept only as its argon2 hash."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    name: str = Field(alias="_id", pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    role: Role
    # Department staff see and change only their department's appeals.
    department: Code | None = None
    password_hash: str
    # A one-time password from `cityline users add` must be replaced at the first sign-in.
    must_change_password: bool = True
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


class UserRepository:
    """The `users` collection."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def collection(self):
        return self.store.db[USERS]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("role", ASCENDING)], name="role")

    async def add(self, user: UserDoc) -> None:
        try:
            await self.collection.insert_one(user.model_dump(by_alias=True))
        except DuplicateKeyError:
            raise UserExists(f"user {user.name!r} exists already") from None

    async def get(self, name: str) -> UserDoc | None:
        document = await _read(self.collection.find_one({"_id": name}))
        return UserDoc.model_validate(document) if document else None

    async def list(self) -> list[UserDoc]:
        documents = await _read(self.collection.find({}).sort("_id", ASCENDING).to_list())
        return [UserDoc.model_validate(document) for document in documents]

    async def count(self) -> int:
        return await _read(self.collection.count_documents({}))

    async def disable(self, name: str, now: datetime) -> UserDoc | None:
        await self.collection.update_one({"_id": name, "disabled_at": None}, {"$set": {"disabled_at": now}})
        return await self.get(name)

    async def set_password(self, name: str, password_hash: str, now: datetime, *, one_time: bool) -> None:
        await self.collection.update_one(
            {"_id": name},
            {"$set": {"password_hash": password_hash, "must_change_password": one_time, "password_changed_at": now}},
        )


def one_time_password() -> str:
    """Twelve characters an operator can type from a printout: no look-alikes (0/O, 1/l)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


async def _read(awaitable: Any) -> Any:
    """A store read; an unreachable store is a TransientError the pages turn into a clear message."""
    try:
        return await awaitable
    except PyMongoError as error:
        raise TransientError(f"the store is not answering: {error.__class__.__name__}") from error


# ---- appeals as the console shows them ------------------------------------------------------------------------------


class AppealSummary(BaseModel):
    """One line of a list of appeals."""

    model_config = ConfigDict(frozen=True)

    appeal_id: str
    status: str
    channel: str
    received_at: datetime
    text: str
    phone: str | None = None
    address: str | None = None
    district: str | None = None
    category: str | None = None
    urgency: str | None = None
    department: str | None = None
    department_name: str | None = None
    due_at: datetime | None = None
    incident_id: str | None = None

    @property
    def open(self) -> bool:
        return self.status not in CLOSED_STATUSES


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    status: str
    at: datetime
    by: str = ""
    note: str = ""


class FiredRuleView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    rule: str
    words: tuple[str, ...] = ()
    score: float = 0.0
    discounted: str = ""


class SecondOpinionView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    model: str = ""
    category: str
    urgency: str = ""
    margin: float = 0.0
    agrees: bool = True


class ClassificationView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    category: str
    urgency: str
    confidence: float = 0.0
    matched_terms: tuple[str, ...] = ()
    ruleset: str = ""
    decided_by: str = "rules"
    fired: tuple[FiredRuleView, ...] = ()
    scores: dict[str, float] = Field(default_factory=dict)
    # The learned second opinion beside the rules, and the category chosen at filing (a resident's hint or the
    # operator's decision at the desk).
    second_opinion: SecondOpinionView | None = None
    flagged: bool = False
    rules_category: str | None = None
    requested_by: str | None = None


class NoticeView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str = ""
    transport: str = ""
    state: str = ""
    attempts: int = 0
    created_at: datetime | None = None
    sent_at: datetime | None = None
    error: str = ""


class AppealDetail(AppealSummary):
    """Everything the appeal page shows."""

    name: str | None = None
    email: str | None = None
    language: str = "uk"
    notifications: bool = True
    preferred_transport: str | None = None
    requested_category: str | None = None
    reason: str = ""
    classification: ClassificationView | None = None
    history: tuple[HistoryEntry, ...] = ()
    notices: tuple[NoticeView, ...] = ()


class IncidentSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    incident_id: str
    category: str
    location: str
    department: str
    count: int
    lead_appeal_id: str
    last_at: datetime

    @classmethod
    def from_document(cls, document: dict[str, Any], **extra: Any) -> "IncidentSummary":
        return cls(
            incident_id=document["_id"],
            category=document["category"],
            location=document["location"],
            department=document["department"],
            count=len(document.get("appeal_ids", ())),
            lead_appeal_id=document["appeal_ids"][0],
            last_at=document["last_at"],
            **extra,
        )


def _summary_fields(document: dict[str, Any]) -> dict[str, Any]:
    contact = document.get("contact") or {}
    address = document.get("address") or {}
    classification = document.get("classification") or {}
    assignment = document.get("assignment") or {}
    return {
        "appeal_id": document["_id"],
        "status": document.get("status", "registered"),
        "channel": document.get("channel", ""),
        "received_at": document["received_at"],
        "text": document.get("text", ""),
        "phone": contact.get("phone"),
        "address": address.get("text"),
        "district": assignment.get("district") or address.get("district"),
        "category": classification.get("category"),
        "urgency": classification.get("urgency"),
        "department": assignment.get("department"),
        "department_name": assignment.get("department_name"),
        "due_at": assignment.get("due_at"),
        "incident_id": assignment.get("incident_id"),
    }


def summary(document: dict[str, Any]) -> AppealSummary:
    return AppealSummary(**_summary_fields(document))


def detail(document: dict[str, Any], view: dict[str, Any]) -> AppealDetail:
    """The appeal page's model from the appeal's document and the store's appeal view (history, notices)."""
    contact = document.get("contact") or {}
    classification = view.get("classification")
    return AppealDetail(
        **{**_summary_fields(document), "status": view["status"]},
        name=contact.get("name"),
        email=contact.get("email"),
        language=contact.get("language", "uk"),
        notifications=contact.get("notifications", True),
        preferred_transport=contact.get("preferred_transport"),
        requested_category=document.get("requested_category"),
        reason=(document.get("assignment") or {}).get("reason", ""),
        classification=ClassificationView.model_validate(classification) if classification else None,
        history=tuple(HistoryEntry.model_validate(entry) for entry in view.get("history", [])),
        notices=tuple(NoticeView.model_validate(notice) for notice in view.get("notifications", [])),
    )


@dataclass(frozen=True)
class AppealQuery:
    """What the search screen asks for; every field narrows the result."""

    appeal_id: str | None = None
    phone: str | None = None
    words: tuple[str, ...] = ()
    status: str | None = None
    category: str | None = None
    department: str | None = None
    district: str | None = None
    channel: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None

    def selector(self) -> dict[str, Any]:
        selector: dict[str, Any] = {}
        if self.appeal_id:
            selector["_id"] = self.appeal_id
        if self.phone:
            selector["contact.phone"] = self.phone
        if self.words:
            selector["$and"] = [{"text": {"$regex": re.escape(word), "$options": "i"}} for word in self.words]
        if self.status:
            selector["status"] = self.status
        if self.category:
            selector["classification.category"] = self.category
        if self.department:
            selector["assignment.department"] = self.department
        if self.district:
            selector["$or"] = [{"assignment.district": self.district}, {"address.district": self.district}]
        if self.channel:
            selector["channel"] = self.channel
        received: dict[str, datetime] = {}
        if self.received_from:
            received["$gte"] = self.received_from
        if self.received_to:
            received["$lt"] = self.received_to
        if received:
            selector["received_at"] = received
        return selector


# What a list of appeals reads of each document: never the whole history.
SUMMARY_FIELDS = {
    "status": 1,
    "channel": 1,
    "received_at": 1,
    "text": 1,
    "contact.phone": 1,
    "address": 1,
    "classification.category": 1,
    "classification.urgency": 1,
    "assignment": 1,
}


class AppealReads:
    """Reads of appeals and incidents for the console's screens."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def search(self, query: AppealQuery, *, page: int, page_size: int) -> tuple[list[AppealSummary], bool]:
        """One page of matching appeals, newest first, and whether there is a next page."""
        cursor = (
            self.store.db[APPEALS]
            .find(query.selector(), SUMMARY_FIELDS)
            .sort("received_at", DESCENDING)
            .skip((page - 1) * page_size)
            .limit(page_size + 1)
        )
        documents = await _read(cursor.to_list())
        return [summary(document) for document in documents[:page_size]], len(documents) > page_size

    async def callers_appeals(self, phone: str, limit: int = 20) -> list[AppealSummary]:
        """The caller's appeals: open ones first, then the newest."""
        cursor = (
            self.store.db[APPEALS]
            .find({"contact.phone": phone}, SUMMARY_FIELDS)
            .sort("received_at", DESCENDING)
            .limit(limit)
        )
        appeals = [summary(document) for document in await _read(cursor.to_list())]
        return sorted(appeals, key=lambda appeal: not appeal.open)

    async def open_incidents_at(self, place: str, limit: int = 5) -> list[IncidentSummary]:
        """Open mass incidents whose place contains what the operator typed of the address."""
        cursor = (
            self.store.db[INCIDENTS]
            .find({"status": "open", "location": {"$regex": re.escape(place), "$options": "i"}})
            .sort("last_at", DESCENDING)
            .limit(limit)
        )
        return [IncidentSummary.from_document(document) for document in await _read(cursor.to_list())]

    async def appeal(self, appeal_id: str) -> AppealDetail | None:
        document = await _read(self.store.db[APPEALS].find_one({"_id": appeal_id}))
        if document is None:
            return None
        view = await _read(self.store.appeal_view(appeal_id))
        return detail(document, view or {"status": document.get("status", "registered")})

    async def department_of(self, appeal_id: str) -> str | None:
        document = await _read(self.store.db[APPEALS].find_one({"_id": appeal_id}, {"assignment.department": 1}))
        return ((document or {}).get("assignment") or {}).get("department")
