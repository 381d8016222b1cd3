"""Classifier: subscribe to appeals.registered -> decide (classify) -> persist -> publish appeals.classified."""

import logging
import time
from collections.abc import Callable
from datetime import datetime

from faststream.kafka import KafkaRouter

from services.classifier.domain import DEFAULT_POLICY, Policy, RuleSet, classify
from services.classifier.metrics import classification_seconds, count_classified
from services.classifier.opinion import LearnedModel
from services.classifier.repository import ClassifierRepository
from shared.broker import batch_subscriber, publish_keyed
from shared.consuming import ParkRecord, Records, accept
from shared.contracts import topics
from shared.contracts.classifier import AppealClassified, Classification
from shared.contracts.intake import AppealRegistered
from shared.metrics import stage_appeals
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


def build_router(
    settings: ServiceSettings,
    repo: ClassifierRepository,
    rules: Callable[[], RuleSet],
    park_record: ParkRecord,
    clock: Callable[[], datetime],
    model: LearnedModel | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> KafkaRouter:
    """`model`: the learned second opinion, if one was loaded; its opinions are computed once per batch."""
    router = KafkaRouter()
    appeal_classified = router.publisher(
        topics.APPEALS_CLASSIFIED,
        batch=True,
        title="appeals.classified",
        description="The appeal with its category, urgency, confidence and the rules that fired.",
        schema=AppealClassified,
    )

    @batch_subscriber(router, topics.APPEALS_REGISTERED, settings=settings, title="appeals.registered:classifier")
    async def on_appeal_registered(records: Records[AppealRegistered]) -> None:
        accepted = await accept(records, AppealRegistered, park_record)
        if not accepted:
            return
        now, ruleset = clock(), rules()
        started = time.perf_counter()
        events = [item.event for item in accepted]
        opinions = model.opinions([event.text for event in events]) if model else [None] * len(events)
        decisions = [
            classify(event, ruleset, now, opinion, policy) for event, opinion in zip(events, opinions, strict=True)
        ]
        classification_seconds.observe((time.perf_counter() - started) / len(decisions))

        # A redelivered decision is published as it was first made and stored.
        stored = await repo.save_classifications(decisions)
        decisions = [
            d.model_copy(update={"classification": Classification(**stored[d.appeal_id]["classification"])})
            if d.appeal_id in stored
            else d
            for d in decisions
        ]
        count_classified(decisions)
        stage_appeals.labels("classifier", "new").inc(len(decisions))
        await publish_keyed(appeal_classified, decisions)

    return router
