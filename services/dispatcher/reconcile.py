"""The dispatcher's part of the store-is-the-record reconciliation: appeals it assigned or closed whose resident
notice the notifier never recorded, although the notifier has taken everything published before.

Their events are rebuilt from the stored appeal, with the ids they were first published with (the notifier's
notice keys then refuse a repeat). Only appeals whose last step lies within `lookback` before the horizon are
looked at: older ones were looked at by earlier runs.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.dispatcher.domain import StatusChange, assigned_from_document, status_event
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged
from shared.store import APPEALS, NOTIFICATIONS, Store

ASSIGNED = ("assigned", "triage")
CLOSED = ("resolved", "rejected")
# The notifier's notice key for each step: `<appeal id>:<kind>`; an information request is answered, not resolved.
NOTICE_KINDS = {"assigned": ("assigned",), "triage": ("triage",), "resolved": ("resolved", "answer")}


def notice_keys(appeal_id: str, step: str) -> list[str]:
    return [f"{appeal_id}:{kind}" for kind in NOTICE_KINDS.get(step, (step,))]


def step_of(document: dict[str, Any]) -> str:
    if document["status"] in ASSIGNED:
        return document["assignment"]["outcome"]
    return document["status"]


def closed_event(document: dict[str, Any]) -> AppealStatusChanged:
    """The status event of the appeal's closing report, as first published."""
    last = document["history"][-1]
    change = StatusChange(
        appeal_id=document["_id"],
        status=last["status"],
        at=last["at"],
        event_id=last["event_id"],
        by=last["by"],
        note=last.get("note", ""),
    )
    return status_event(change, assigned_from_document(document))


@dataclass(frozen=True)
class UnnoticedAppeals:
    store: Store
    lookback: timedelta = timedelta(hours=1)
    limit: int = 1000

    async def find(self, statuses: Sequence[str], before: datetime) -> list[dict[str, Any]]:
        """Appeals in `statuses` last changed in [before - lookback, before) whose notice for that step is missing."""
        query = {"status": {"$in": list(statuses)}, "updated_at": {"$lt": before, "$gte": before - self.lookback}}
        documents = await self.store.db[APPEALS].find(query).limit(self.limit).to_list()
        wanted = {document["_id"]: notice_keys(document["_id"], step_of(document)) for document in documents}
        keys = [key for keys in wanted.values() for key in keys]
        recorded = {notice["_id"] async for notice in self.store.db[NOTIFICATIONS].find({"_id": {"$in": keys}}, {})}
        return [document for document in documents if not recorded.intersection(wanted[document["_id"]])]

    async def assigned(self, before: datetime) -> list[AppealAssigned]:
        return [assigned_from_document(document) for document in await self.find(ASSIGNED, before)]

    async def closed(self, before: datetime) -> list[AppealStatusChanged]:
        return [closed_event(document) for document in await self.find(CLOSED, before)]
