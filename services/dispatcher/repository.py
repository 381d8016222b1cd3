"""The dispatcher's write: the assignment onto the appeal, once."""

from collections.abc import Sequence
from typing import Protocol

from shared.appeals import StageUpdate, apply_stage_updates
from shared.contracts.dispatcher import AppealAssigned
from shared.store import Store


class DispatcherRepository(Protocol):
    async def save_assignments(self, events: Sequence[AppealAssigned]) -> dict[str, dict]: ...


def assignment_update(event: AppealAssigned) -> StageUpdate:
    assignment = event.assignment
    return StageUpdate(
        appeal_id=event.appeal_id,
        event_id=str(event.event_id),
        status="assigned" if assignment.outcome == "assigned" else "triage",
        fields={"assignment": assignment.model_dump(mode="python")},
        at=event.occurred_at,
        by="dispatcher",
        note=assignment.reason,
    )


class MongoDispatcherRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def save_assignments(self, events: Sequence[AppealAssigned]) -> dict[str, dict]:
        """Returns the stored assignment of appeals that were assigned before (a redelivery)."""
        return await apply_stage_updates(self.store, [assignment_update(e) for e in events], projection=["assignment"])
