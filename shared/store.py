"""MongoDB access in one place: the client, collection names, and the appeal read model.

Services keep their own writes, and create the indexes those and their reads use, in their repository.py
(`ensure_indexes`); the read model here serves the command line, the status API and tests. PyMongo's async API
(AsyncMongoClient) is used: Motor reached end of life.
"""

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.settings import ConnectionSettings

APPEALS = "appeals"
NOTIFICATIONS = "notifications"
# Notifier: one document per batch of notices handed to a sender: its lease while it sends, then which of them went.
# A notice sent at its first attempt is never updated itself (see `notice_as_it_stands`): the store's updates are
# the system's bottleneck, and one write per batch replaces one update per notice.
NOTIFICATION_DELIVERIES = "notification_deliveries"
# Every classification decision, kept as made (rules version, terms that fired): cheap inserts, and an audit trail.
CLASSIFICATIONS = "classifications"
COUNTERS = "counters"
# Intake's HTTP API: channels with their hashed API keys, and the Idempotency-Key header's record per channel.
CHANNELS = "channels"
IDEMPOTENCY_KEYS = "idempotency_keys"
# An Idempotency-Key is honoured this long (a day, as payment APIs do); (channel, external_id) stays forever.
IDEMPOTENCY_KEY_TTL_S = 24 * 3600
# Dispatcher: mass incidents, appeals of one category about one place grouped for their department.
INCIDENTS = "incidents"
# Knowledge service: every consultation given from the knowledge base, keyed by its event id.
CONSULTATIONS = "consultations"
# Intake: every SMS the gateway passed on as a resident's reply, with what became of it (taken, or why ignored).
INBOUND_SMS = "inbound_sms"


def connect(settings: ConnectionSettings, *, app_name: str = "cityline") -> AsyncMongoClient:
    # The client connects lazily, on its first operation, inside the running event loop.
    return AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(),
        tz_aware=True,
        appname=app_name,
        serverSelectionTimeoutMS=settings.mongodb_server_selection_timeout_ms,
        connectTimeoutMS=settings.mongodb_connect_timeout_ms,
        socketTimeoutMS=settings.mongodb_socket_timeout_ms,
        heartbeatFrequencyMS=settings.mongodb_heartbeat_frequency_ms,
        # SecantusDB closes a connection idle for 300 s; a pooled one the driver still believes open then fails the
        # next write (retryable writes are off on it). A burst leaves many idle: let the driver drop them first.
        maxIdleTimeMS=60_000,
    )


@dataclass
class Store:
    client: AsyncMongoClient
    database_name: str

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, *, app_name: str = "cityline") -> "Store":
        return cls(connect(settings, app_name=app_name), settings.mongodb_database)

    @property
    def db(self) -> AsyncDatabase:
        return self.client[self.database_name]

    async def close(self) -> None:
        await self.client.close()

    def reachable(self) -> bool:
        """Whether the client's monitor last heard from a server: false within about a heartbeat and a connect
        timeout of the store going away or freezing, true again at its first answer after."""
        return self.client.topology_description.has_readable_server()

    async def appeal_view(self, appeal_id: str) -> dict[str, Any] | None:
        """Everything known about one appeal, with its notifications, for people and scripts."""
        appeal = await self.db[APPEALS].find_one({"_id": appeal_id})
        if appeal is None:
            return None
        notifications = await notices_as_they_stand(self.db, {"appeal_id": appeal_id})
        status, history, classification = appeal["status"], appeal.get("history", []), appeal.get("classification")
        if classification is None:
            # Classified, but the dispatcher has not written it onto the appeal yet.
            decision = await self.db[CLASSIFICATIONS].find_one({"appeal_id": appeal_id}, sort=[("at", -1)])
            if decision is not None:
                classification = decision["classification"]
                history = [
                    *history,
                    {"status": "classified", "at": decision["at"], "event_id": decision["_id"], "by": "classifier"},
                ]
                status = "classified" if status == "registered" else status
        return {
            "appeal_id": appeal["_id"],
            "status": status,
            "channel": appeal.get("channel"),
            # For masking the resident's name in public notes; never part of a public answer.
            "contact": appeal.get("contact"),
            "received_at": appeal.get("received_at"),
            "history": history,
            "classification": classification,
            "assignment": appeal.get("assignment"),
            "notifications": [
                {key: value for key, value in notification.items() if key not in _NOT_SHOWN}
                for notification in notifications
            ],
        }

    async def appeal_id_for(self, intake_key: str) -> str | None:
        found = await self.db[APPEALS].find_one({"intake_key": intake_key}, {"_id": 1})
        return found["_id"] if found else None


# Fields of a notice the status view leaves out: the resident's phone, address or callback, the long e-mail body,
# and the delivery job's claim token and batch.
_NOT_SHOWN = {"_id", "appeal_id", "recipient", "email_body", "claim", "delivery"}


def notice_as_it_stands(notice: dict[str, Any], delivery: dict[str, Any] | None) -> dict[str, Any]:
    """A notice's state: its own document once the notifier wrote to it (a retry, a failure, a takeover, a resend);
    until then, the outcome its delivery batch recorded (sent at the first attempt), else still pending."""
    untouched = notice["state"] == "pending" and notice["attempts"] == 0
    if not untouched or delivery is None or notice["_id"] not in delivery.get("sent", ()):
        return notice
    return {**notice, "state": "sent", "attempts": 1, "sent_at": delivery["settled_at"]}


async def notices_as_they_stand(
    db: AsyncDatabase, selector: dict[str, Any], projection: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The notices that match `selector` (oldest first), each joined with its delivery batch's outcome."""
    if projection is not None:
        projection = {**projection, "state": 1, "attempts": 1, "delivery": 1}
    notices = await db[NOTIFICATIONS].find(selector, projection).sort("created_at", 1).to_list()
    batches = sorted({n["delivery"] for n in notices if "delivery" in n and n["state"] == "pending"})
    deliveries: dict[str, dict[str, Any]] = {}
    # In slices: an $in of thousands of ids costs this store seconds.
    for start in range(0, len(batches), 200):
        found = db[NOTIFICATION_DELIVERIES].find({"_id": {"$in": batches[start : start + 200]}}, {"keys": 0})
        deliveries.update({delivery["_id"]: delivery async for delivery in found})
    return [notice_as_it_stands(notice, deliveries.get(notice.get("delivery"))) for notice in notices]


DUPLICATE_KEY = 11000


async def insert_new(collection: Any, documents: list[dict[str, Any]]) -> list[int]:
    """Insert documents whose unique keys are idempotency keys; returns the indexes that existed already.

    A duplicate key (code 11000 per failed item of the bulk write) is a redelivery, not a failure; any other write
    error is.
    """
    if not documents:
        return []
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(item.get("code") != DUPLICATE_KEY for item in errors):
            raise
        return [item["index"] for item in errors]
    return []
