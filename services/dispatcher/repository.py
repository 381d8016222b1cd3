"""The dispatcher's write: classification and assignment onto the appeal together, in one update, once."""

from collections.abc import Sequence
from typing import Protocol

from shared.appeals import HistoryEntry, StageUpdate, apply_stage_updates
from shared.contracts.dispatcher import AppealAssigned
from shared.store import Store


class DispatcherRepository(Protocol):
    async def save_assignments(self, events: Sequence[AppealAssigned]) -> dict[str, dict] | None: ...


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
