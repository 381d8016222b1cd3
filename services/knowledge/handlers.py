"""Knowledge service: subscribe to appeals.assigned -> decide (answer the information requests whose best article is
clearly good enough) -> persist the consultations -> publish the contact center's reports to dept.updates and
ConsultationGiven to consultations.given.

There is no load phase: the decision needs only the events and the index in memory. A redelivered batch decides the
same events (their ids derive from the assignments'); the store keeps each consultation once, and the dispatcher
applies each report once.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaRouter

from services.knowledge.domain import AnswerThreshold, answer_information_requests
from services.knowledge.library import ArticleShelf
from services.knowledge.metrics import automatic_answers, consultations
from services.knowledge.repository import ConsultationDoc, Consultations
from shared.broker import batch_subscriber, publish_keyed
from shared.consuming import ParkRecord, accept
from shared.contracts import topics
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import AppealAssigned
from shared.contracts.knowledge import ConsultationGiven
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


class KnowledgeHandlers:
    def __init__(
        self,
        settings: ServiceSettings,
        repo: Consultations,
        shelf: ArticleShelf,
        threshold: AnswerThreshold,
        channels: frozenset[str],
        base_url: str,
        park_record: ParkRecord,
        clock: Callable[[], datetime],
    ) -> None:
        self.repo = repo
        self.router = KafkaRouter()
        self.consultation_given = self.router.publisher(
            topics.CONSULTATIONS_GIVEN,
            batch=True,
            schema=ConsultationGiven,
            title="consultations.given",
            description="A resident's question answered from the knowledge base",
        )
        self.department_updates = self.router.publisher(
            topics.DEPARTMENT_UPDATES,
            batch=True,
            schema=DepartmentUpdate,
            title="dept.updates:knowledge",
            description="The contact center's report `resolved` for an information request answered automatically; "
            "its comment is the article's title and link, which the notifier sends as the answer",
        )

        @batch_subscriber(self.router, topics.APPEALS_ASSIGNED, settings=settings, title="appeals.assigned:knowledge")
        async def on_appeal_assigned(records: list[Any]) -> None:
            accepted = await accept(records, AppealAssigned, park_record)
            if not accepted:
                return
            index, today = shelf(), clock()
            decided = answer_information_requests(
                [item.event for item in accepted],
                lambda text: index.search(text, today.date()),
                threshold,
                channels,
                base_url,
                today,
            )
            automatic_answers.labels("referred").inc(decided.referred)
            if not decided.reports:
                return
            await self.record(decided.consultations)
            await publish_keyed(self.department_updates, decided.reports)
            automatic_answers.labels("answered").inc(len(decided.reports))

    async def record(self, given: list[ConsultationGiven]) -> set[str]:
        """Store the consultations (each once) and count the new ones, then publish them all: a repeated one too,
        since its first publish may have failed after the write. Returns the ids stored before."""
        stored_before = await self.repo.record([ConsultationDoc.of(event) for event in given])
        for event in given:
            if str(event.event_id) not in stored_before:
                consultations.labels(event.category, event.channel, event.given_by).inc()
        await self.consultation_given.publish(*(event.model_dump(mode="json") for event in given))
        return stored_before

    async def report(self, update: DepartmentUpdate) -> None:
        await publish_keyed(self.department_updates, [update])
