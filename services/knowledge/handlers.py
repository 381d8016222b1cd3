"""The knowledge service's events: `ConsultationGiven` on `consultations.given`, published after the consultation is
stored."""

from faststream.kafka import KafkaRouter

from shared.contracts import topics
from shared.contracts.knowledge import ConsultationGiven


class KnowledgeHandlers:
    def __init__(self) -> None:
        self.router = KafkaRouter()
        self.consultation_given = self.router.publisher(
            topics.CONSULTATIONS_GIVEN,
            schema=ConsultationGiven,
            title="consultations.given:ConsultationGiven",
            description="A resident's question answered from the knowledge base",
        )

    async def publish_consultation(self, event: ConsultationGiven) -> None:
        await self.consultation_given.publish(event.model_dump(mode="json"), key=event.kafka_key())
