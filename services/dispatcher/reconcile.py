"""The dispatcher's part of the store-is-the-record reconciliation: appeals it assigned or closed whose resident
notice the notifier never recorded, although the notifier has taken everything published before.

Their events are rebuilt from the stored appeal, with the ids they were first published with (the notifier's
notice keys then refuse a repeat). Only appeals whose last step lies within `lookback` before the horizon are
looked at: older ones were looked at by earlier runs.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain import StatusChange, status_event
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged
from shared.store import APPEALS, NOTIFICATIONS, Store

ASSIGNED = ("assigned", "triage")
CLOSED = ("resolved", "rejected")
# The notifier's notice key for each step: `<appeal id>:<kind>`; an information request is answered, not resolved.
NOTICE_KINDS = {"assigned": ("assigned",), "triage": ("triage",), "resolved": ("resolved", "answer")}


def notice_keys(appeal_id: str, step: str) -> list[str]:
    return [f"{appeal_id}:{kind}" for kind in NOTICE_KINDS.get(step, (step,))]


def step_of(appeal: AppealDoc) -> str:
    if appeal.status in ASSIGNED and appeal.assignment is not None:
        return appeal.assignment.outcome
    return appeal.status


def closed_event(appeal: AppealDoc, assigned: AppealAssigned) -> AppealStatusChanged:
    """The status event of the appeal's closing report, as first published."""
    last = appeal.history[-1]
    change = StatusChange(
        appeal_id=appeal.appeal_id,
        status=last.status,
        at=last.at,
        event_id=last.event_id,
        by=last.by,
        note=last.note,
    )
    return status_event(change, assigned)


@dataclass(frozen=True)
class UnnoticedAppeals:
    store: Store
    lookback: timedelta = timedelta(hours=1)
    limit: int = 1000

    async def find(self, statuses: Sequence[str], before: datetime) -> list[tuple[AppealDoc, AppealAssigned]]:
        """Appeals in `statuses` last changed in [before - lookback, before) whose notice for that step is missing,
        each with its assignment as first published."""
        query = {"status": {"$in": list(statuses)}, "updated_at": {"$lt": before, "$gte": before - self.lookback}}
        found = [
            AppealDoc.model_validate(d) for d in await self.store.db[APPEALS].find(query).limit(self.limit).to_list()
        ]
        appeals = [(appeal, assigned) for appeal in found if (assigned := appeal.as_assigned()) is not None]
        wanted = {appeal.appeal_id: notice_keys(appeal.appeal_id, step_of(appeal)) for appeal, _ in appeals}
        keys = [key for keys in wanted.values() for key in keys]
        recorded = {notice["_id"] async for notice in self.store.db[NOTIFICATIONS].find({"_id": {"$in": keys}}, {})}
        return [
            (appeal, assigned) for appeal, assigned in appeals if not recorded.intersection(wanted[appeal.appeal_id])
        ]

    async def assigned(self, before: datetime) -> list[AppealAssigned]:
        return [assigned for _, assigned in await self.find(ASSIGNED, before)]

    async def closed(self, before: datetime) -> list[AppealStatusChanged]:
        return [closed_event(appeal, assigned) for appeal, assigned in await self.find(CLOSED, before)]
