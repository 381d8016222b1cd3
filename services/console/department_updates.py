"""Department reports from the console, published to `dept.updates` exactly as a department's own system does.

The console is one more department client: a `DepartmentUpdate` (shared.contracts.departments) keyed by the appeal's
number, so the dispatcher judges, applies and announces it as any other report (the resident's notice, the incident's
other appeals, the reroute of a misrouted appeal). Its event id is derived from the form's key: the same form sent
twice is one report, which the dispatcher applies once.
"""

import logging

from aiokafka.errors import KafkaError

from services.console.clients import Unavailable
from shared.broker import build_broker
from shared.contracts import topics
from shared.contracts.base import derived_event_id
from shared.contracts.departments import DepartmentStatus, DepartmentUpdate
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


def department_update(
    *,
    appeal_id: str,
    department: str,
    status: DepartmentStatus,
    comment: str,
    suggested_department: str | None,
    form_key: str,
    user: str,
    correlation_id: str,
) -> DepartmentUpdate:
    """The report as a department sends it; raises pydantic's ValidationError naming a bad field."""
    return DepartmentUpdate(
        event_id=derived_event_id("console-report", f"{appeal_id}:{form_key}"),
        appeal_id=appeal_id,
        department=department,
        status=status,
        comment=comment,
        suggested_department=suggested_department,
        # Who sent it from the console, for tracing; the appeal's own correlation id when it has one.
        correlation_id=(correlation_id or f"console:{user}:{form_key}")[:128],
    )


class DepartmentUpdates:
    """The console's producer for `dept.updates`; it connects on the first report, so a broker that is down at the
    console's start does not keep the console from starting."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.broker = build_broker(settings)
        self.connected = False

    async def publish(self, update: DepartmentUpdate) -> Unavailable | None:
        try:
            if not self.connected:
                await self.broker.start()
                self.connected = True
            await self.broker.publish(
                update.model_dump(mode="json"), topic=topics.DEPARTMENT_UPDATES, key=update.kafka_key()
            )
        except (KafkaError, OSError) as error:
            logger.warning("dept.updates not reached for %s: %s", update.event_id, error.__class__.__name__)
            return Unavailable("broker", error.__class__.__name__)
        return None

    async def close(self) -> None:
        if self.connected:
            await self.broker.stop()
