# department_desk.py: a department's minimal consumer of its CityLine tasks, reporting back on dept.updates.
# Run: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092 DEPARTMENT=lift_service python department_desk.py
import asyncio
import os
import uuid
from datetime import UTC, datetime

from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker

DEPARTMENT = os.environ.get("DEPARTMENT", "lift_service")
broker = KafkaBroker(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:39092"))
app = FastStream(broker)
consumer = dict(group_id=f"{DEPARTMENT}-desk", auto_offset_reset="earliest", ack_policy=AckPolicy.ACK)


async def report(appeal_id: str, status: str, comment: str = "") -> None:
    update = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "appeal_id": appeal_id,
        "department": DEPARTMENT,
        "status": status,
        "comment": comment,
    }
    await broker.publish(update, "dept.updates", key=appeal_id.encode())


@broker.subscriber(f"dept.{DEPARTMENT}.assignments", **consumer)
async def on_task(task: dict) -> None:
    # store the task in your system first (deduplicate on task["event_id"]), then:
    await report(task["appeal_id"], "accepted")


@broker.subscriber(f"dept.{DEPARTMENT}.incidents", **consumer)
async def on_incident(incident: dict) -> None:
    # one piece of work for incident["count"] appeals; keep the latest per incident["incident_id"]
    await report(incident["lead_appeal_id"], "in_progress", f"{incident['count']} appeals at {incident['location']}")


if __name__ == "__main__":
    asyncio.run(app.run())
