"""The dispatcher's write: classification and assignment onto the appeal together, in one update, once."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from services.dispatcher.domain import StatusChange
from shared.appeals import HistoryEntry, StageUpdate, apply_stage_updates
from shared.contracts.dispatcher import AppealAssigned
from shared.store import APPEALS, Store


class DispatcherRepository(Protocol):
    async def save_assignments(self, events: Sequence[AppealAssigned]) -> dict[str, dict] | None: ...
    async def load_appeals(self, appeal_ids: Sequence[str]) -> dict[str, dict]: ...
    async def save_status_changes(self, changes: Sequence[StatusChange]) -> None: ...


def status_update(changes: Sequence[StatusChange]) -> StageUpdate:
    """One appeal's changes of one batch in one update: its history gains an entry per report."""
    reroutes = [change.reroute for change in changes if change.reroute is not None]
    fields = {"assignment": reroutes[-1].assignment.model_dump(mode="python")} if reroutes else {}
    entries = tuple(HistoryEntry(c.status, c.at, c.event_id, c.by, c.note) for c in changes)
    return StageUpdate(appeal_id=changes[0].appeal_id, fields=fields, entries=entries)


def assignment_update(event: AppealAssigned) -> StageUpdate:
    assignment, classification = event.assignment, event.classification
    return StageUpdate(
        appeal_id=event.appeal_id,
        fields={
            "classification": classification.model_dump(mode="python"),
            "assignment": assignment.model_dump(mode="python"),
        },
        entries=(
            HistoryEntry(
                "classified", classification.decided_at or event.occurred_at, classification.decision_id, "classifier"
            ),
            HistoryEntry(
                "assigned" if assignment.outcome == "assigned" else "triage",
                event.occurred_at,
                str(event.event_id),
                "dispatcher",
                assignment.reason,
            ),
        ),
    )


class MongoDispatcherRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def save_assignments(self, events: Sequence[AppealAssigned]) -> dict[str, dict] | None:
        """None when all were assigned now; else the stored assignment of every known appeal of the batch."""
        return await apply_stage_updates(self.store, [assignment_update(e) for e in events], projection=["assignment"])

    async def load_appeals(self, appeal_ids: Sequence[str]) -> dict[str, dict]:
        cursor = self.store.db[APPEALS].find({"_id": {"$in": list(appeal_ids)}})
        return {document["_id"]: document async for document in cursor}

    async def save_status_changes(self, changes: Sequence[StatusChange]) -> None:
        by_appeal: dict[str, list[StatusChange]] = defaultdict(list)
        for change in changes:
            by_appeal[change.appeal_id].append(change)
        await apply_stage_updates(self.store, [status_update(group) for group in by_appeal.values()], projection=[])
