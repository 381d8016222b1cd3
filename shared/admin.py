"""Topic administration: create every topic the system uses, with its partition count, if missing."""

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import all_topics
from shared.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

CREATE_TIMEOUT_MS = 300_000


async def ensure_topics(
    bootstrap_servers: str,
    taxonomy: Taxonomy,
    replication_factor: int = 1,
    topic_configs: dict[str, str] | None = None,
) -> list[str]:
    """Create the missing topics; returns the names created. Safe to call from every service at start.

    `topic_configs` (e.g. `min.insync.replicas`) apply to the topics created here; existing ones keep theirs.
    """
    wanted = all_topics(taxonomy)
    # The durable embedded broker writes each new topic to its object store: forty topics take seconds, and
    # minutes on a machine under heavy load, well past the client's default 40 s for one request.
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="cityline-admin", request_timeout_ms=CREATE_TIMEOUT_MS
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=dict(topic_configs or {}),
            )
            for name, partitions in wanted.items()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                # Another service created them in the meantime: what we wanted exists.
                pass
        created = [topic.name for topic in missing]
        if created:
            logger.info("created %d topics", len(created))
        return created
    finally:
        await admin.close()
