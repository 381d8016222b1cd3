"""Nothing lost when the broker dies: `cityline up` on its durable broker, 1,200 appeals produced by a channel written
with confluent-kafka (librdkafka, a client we did not write), the broker killed with -9 twice mid-stream.

Every appeal the broker acknowledged is assigned exactly once, with one registration and one assignment notice, each
sent once. The counts and the recovery times are printed (run with -s to see them beside the other output)."""

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest
from confluent_kafka import KafkaError, Message, Producer
from pymongo import AsyncMongoClient

from cityline.stack import port_open
from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from shared.contracts.base import utcnow
from tests.e2e.harness import RunningStack

pytestmark = pytest.mark.e2e
logger = logging.getLogger(__name__)

APPEALS = 1200
KILLS_AT = (400, 800)  # the broker dies after this many appeals were handed to the producer
PACE_S = 0.015  # about 60 appeals a second, as a busy channel sends them
SETTLE_S = 600  # the most the test waits after the last produce for every appeal to be assigned and notified
TEXTS = (
    "Третій день немає гарячої води, Оболонь",
    "Не працює ліфт, третій день стоїть",
    "Не горить ліхтар на вулиці",
    "Яма на дорозі біля зупинки",
)
# The safety nets run often here, so a loss they would repair shows within the test's patience.
FAST_SAFETY_NETS = {
    "CITYLINE_RECONCILE_INTERVAL_S": "2",
    "CITYLINE_RECONCILE_AFTER_S": "5",
    "CITYLINE_INTAKE_REDRIVE_INTERVAL_S": "2",
    "CITYLINE_INTAKE_REDRIVE_AFTER_S": "5",
    "CITYLINE_CONSUMER_WATCH_INTERVAL_S": "1",
}


@dataclass
class Deliveries:
    """What the broker answered the channel, per external id."""

    acknowledged: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    acknowledged_at: list[float] = field(default_factory=list)

    def report(self, error: KafkaError | None, message: Message) -> None:
        external_id = json.loads(message.value())["external_id"]
        if error is None:
            self.acknowledged.add(external_id)
            self.acknowledged_at.append(time.monotonic())
        else:
            self.failed[external_id] = error.str()


def channel_producer(bootstrap: str) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            # Tansu refuses the idempotent producer; retries may then repeat a record, which intake deduplicates
            # on the channel's external id.
            "enable.idempotence": False,
            "linger.ms": 5,
            "message.timeout.ms": 120_000,
            "reconnect.backoff.max.ms": 500,
            # librdkafka's own lines (every refused reconnect while the broker is down) through Python logging.
            "logger": logging.getLogger("librdkafka"),
        }
    )


def appeal(run: str, number: int) -> dict:
    now = utcnow().isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": now,
        "channel": "web",
        "external_id": f"{run}-{number}",
        "text": TEXTS[number % len(TEXTS)],
        "received_at": now,
        "contact": {"phone": f"+38044{number:07d}", "language": "uk", "notifications": True},
    }


def kill_broker(running: RunningStack) -> tuple[float, float]:
    """Kill -9 the broker; returns (when, seconds until the supervisor's new broker listened)."""
    pid = running.pid("tansu")
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while True:
        try:
            back = running.pid("tansu") != pid and port_open(running.ports["broker"])
        except (OSError, ValueError):
            back = False
        if back:
            return killed_at, time.monotonic() - killed_at
        if time.monotonic() - killed_at > 120:
            raise AssertionError("the supervisor did not bring the broker back within 120 s")
        time.sleep(0.05)


async def store_counts(uri: str, database: str, external_ids: set[str]) -> dict:
    client = AsyncMongoClient(uri, tz_aware=True)
    try:
        db = client[database]
        appeals = await db.appeals.find(
            {"external_id": {"$in": sorted(external_ids)}}, {"external_id": 1, "history": 1, "status": 1}
        ).to_list()
        notices = await db.notifications.find(
            {"appeal_id": {"$in": [a["_id"] for a in appeals]}}, {"appeal_id": 1, "kind": 1}
        ).to_list()
    finally:
        await client.close()
    return {"appeals": appeals, "notices": notices}


def sent_sms(running: RunningStack) -> Counter:
    """SMS the local gateway received, per notice reference (`<appeal id>:<kind>`)."""
    sent: Counter = Counter()
    for path in (running.run_dir / "outbox" / "sms").glob("*.json"):
        sent[json.loads(path.read_text())["payload"]["reference"]] += 1
    return sent


@dataclass
class Outcome:
    acknowledged: int
    assigned: int
    lost: int  # acknowledged, yet not registered or not assigned when the test stopped waiting
    not_registered: int
    duplicated: int
    registration_notices: int
    assignment_notices: int
    sms_sent_twice: int

    @classmethod
    def of(cls, acknowledged: set[str], stored: dict, sent: Counter) -> "Outcome":
        per_external_id = Counter(a["external_id"] for a in stored["appeals"])
        assigned_entries = {
            a["_id"]: sum(1 for entry in a["history"] if entry["status"] in ("assigned", "triage"))
            for a in stored["appeals"]
        }
        kinds = Counter(
            (n["appeal_id"], "registered" if n["kind"] == "registered" else "assigned")
            for n in stored["notices"]
            if n["kind"] in ("registered", "assigned", "triage")
        )
        appeal_ids = [a["_id"] for a in stored["appeals"]]
        return cls(
            acknowledged=len(acknowledged),
            assigned=sum(1 for count in assigned_entries.values() if count == 1),
            lost=len(acknowledged - set(per_external_id)) + sum(1 for count in assigned_entries.values() if count == 0),
            not_registered=len(acknowledged - set(per_external_id)),
            duplicated=sum(1 for count in per_external_id.values() if count > 1)
            + sum(1 for count in assigned_entries.values() if count > 1),
            registration_notices=sum(1 for appeal_id in appeal_ids if kinds[(appeal_id, "registered")] == 1),
            assignment_notices=sum(1 for appeal_id in appeal_ids if kinds[(appeal_id, "assigned")] == 1),
            sms_sent_twice=sum(1 for count in sent.values() if count > 1),
        )

    def complete(self, sent: Counter) -> bool:
        return (
            self.lost == 0
            and self.assigned == self.acknowledged
            and self.registration_notices == self.assignment_notices == self.acknowledged
            and len(sent) >= 2 * self.acknowledged
        )


@pytest.mark.timeout(1200)
def test_acknowledged_appeals_survive_two_kills_of_the_broker(tmp_path, capsys):
    running = RunningStack(tmp_path / "run", **FAST_SAFETY_NETS)
    running.up(timeout=300)
    try:
        bootstrap = f"127.0.0.1:{running.ports['broker']}"
        store_uri = f"mongodb://127.0.0.1:{running.ports['store']}/?retryWrites=false"
        run = f"kill-{uuid.uuid4().hex[:6]}"
        deliveries = Deliveries()
        producer = channel_producer(bootstrap)
        recoveries: list[tuple[float, float]] = []
        killers = []
        started = time.monotonic()
        for number in range(APPEALS):
            if number in KILLS_AT:
                # The channel goes on producing while the broker is down and the supervisor brings it back.
                killers.append(threading.Thread(target=lambda: recoveries.append(kill_broker(running))))
                killers[-1].start()
            producer.produce(
                topics.APPEALS_INTAKE,
                json.dumps(appeal(run, number), ensure_ascii=False).encode(),
                key=f"{run}-{number}".encode(),
                headers=[(CHANNEL_HEADER, b"web")],
                on_delivery=deliveries.report,
            )
            producer.poll(0)
            time.sleep(PACE_S)
        for killer in killers:
            killer.join()
        assert producer.flush(180) == 0, "records still unanswered by the broker after 180 s"
        produced_in = time.monotonic() - started
        logger.info(
            "produced %d appeals in %.1f s; %d acknowledged", APPEALS, produced_in, len(deliveries.acknowledged)
        )

        # The pipeline's pace on a loaded machine decides how long the backlog after the kills takes to drain.
        deadline = time.monotonic() + SETTLE_S
        while True:
            stored = asyncio.run(store_counts(store_uri, "cityline", deliveries.acknowledged))
            sent = sent_sms(running)
            outcome = Outcome.of(deliveries.acknowledged, stored, sent)
            if outcome.complete(sent) or time.monotonic() > deadline:
                break
            logger.info("waiting: %s", outcome)
            time.sleep(2)
        settled_in = time.monotonic() - started - produced_in
    finally:
        running.interrupt()

    first_ack_after = [
        min((at for at in deliveries.acknowledged_at if at > killed_at), default=float("nan")) - killed_at
        for killed_at, _ in recoveries
    ]
    with capsys.disabled():
        sys.stdout.write(
            f"\nbroker kill -9 x{len(recoveries)}: produced {APPEALS} in {produced_in:.1f} s; "
            f"acknowledged {outcome.acknowledged}, not acknowledged {len(deliveries.failed)}, "
            f"assigned {outcome.assigned}, lost {outcome.lost} ({outcome.not_registered} never registered), "
            f"duplicated {outcome.duplicated}; "
            f"one registration notice {outcome.registration_notices}, one assignment notice "
            f"{outcome.assignment_notices}, SMS sent twice {outcome.sms_sent_twice}; "
            f"broker back after {', '.join(f'{back:.1f}' for _, back in recoveries)} s, first acknowledgement after "
            f"{', '.join(f'{seconds:.1f}' for seconds in first_ack_after)} s; all settled {settled_in:.1f} s after "
            "the last produce\n"
        )
    assert outcome.acknowledged > 0
    assert outcome.lost == 0, outcome
    assert outcome.duplicated == 0, outcome
    assert outcome.assigned == outcome.acknowledged, outcome
    assert outcome.registration_notices == outcome.acknowledged, outcome
    assert outcome.assignment_notices == outcome.acknowledged, outcome
    assert outcome.sms_sent_twice == 0, outcome
