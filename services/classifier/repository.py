"""The classifier's write: the classification onto the appeal, once."""

from collections.abc import Sequence
from typing import Protocol

from shared.appeals import StageUpdate, apply_stage_updates
from shared.contracts.classifier import AppealClassified
from shared.store import Store


class ClassifierRepository(Protocol):
    async def save_classifications(self, events: Sequence[AppealClassified]) -> dict[str, dict]: ...


def classification_update(event: AppealClassified) -> StageUpdate:
    return StageUpdate(
        appeal_id=event.appeal_id,
        event_id=str(event.event_id),
        status="classified",
        fields={"classification": event.classification.model_dump(mode="python")},
        at=event.occurred_at,
        by="classifier",
    )


class MongoClassifierRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def save_classifications(self, events: Sequence[AppealClassified]) -> dict[str, dict]:
        """Returns the stored classification of appeals that were classified before (a redelivery)."""
        return await apply_stage_updates(
            self.store, [classification_update(e) for e in events], projection=["classification"]
        )
