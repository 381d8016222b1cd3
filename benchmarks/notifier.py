"""Notifier delivery against the running stack (`cityline up`): N outcome events -> N messages delivered.

Publishes N `AppealStatusChanged` (resolved) events for fresh appeals, a third each for an SMS resident, an e-mail
resident and an app (webhook) resident, then waits until every notice is `sent` in the store. Prints notices per
second from the first publish to the last delivery, and the latency from recording a notice to its delivery
(p50/p95/p99), per transport.

    python -m benchmarks.notifier -n 3000             # a burst: how fast a backlog drains
    python -m benchmarks.notifier -n 1500 --rate 50   # a steady load: latency
"""

import argparse
import asyncio
import random
import statistics
import time
import uuid

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from shared.contracts import topics
from shared.contracts.dispatcher import AppealStatusChanged
from shared.settings import ConnectionSettings
from shared.store import Store, notices_as_they_stand

console = Console()

RESIDENTS = [
    ({"phone": "+380671234567", "language": "uk"}, "web"),
    ({"email": "bench@example.com", "language": "en"}, "phone"),
    ({"phone": "+380671234568", "language": "ru"}, "mobile"),
]


def events(count: int) -> list[AppealStatusChanged]:
    first = random.randint(10**10, 10**11 - count - 1)
    return [
        AppealStatusChanged(
            event_id=uuid.uuid4(),
            appeal_id=str(first + index),
            status="resolved",
            department="kyivteploenergo",
            department_name="КП «Київтеплоенерго»",
            category="hot_water",
            comment="Подачу гарячої води відновлено",
            contact=RESIDENTS[index % 3][0],
            channel=RESIDENTS[index % 3][1],
        )
        for index in range(count)
    ]


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run(count: int, timeout_s: float, rate: float | None) -> int:
    settings = ConnectionSettings()
    batch = events(count)
    # The appeal ids are consecutive numbers of one length: a range on the indexed appeal_id finds them cheaply
    # (an $in of thousands of ids costs the store seconds per query and would measure the bench, not the notifier).
    ours = {"appeal_id": {"$gte": batch[0].appeal_id, "$lte": batch[-1].appeal_id}}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, max_batch_size=1024 * 1024)
    store = Store.from_settings(settings, app_name="cityline-bench")
    await producer.start()
    try:
        started = time.monotonic()
        sends = []
        for index, event in enumerate(batch):
            if rate:  # paced: measures latency at a steady load instead of the drain time of a burst
                await asyncio.sleep(max(started + index / rate - time.monotonic(), 0))
            sends.append(
                await producer.send(topics.APPEALS_STATUS, event.model_dump_json().encode(), key=event.kafka_key())
            )
        await asyncio.gather(*sends)
        published = time.monotonic() - started
        deadline = started + timeout_s
        notices: list[dict] = []
        while time.monotonic() < deadline:
            # As the status shows them: a notice joined with its delivery batch's outcome.
            found = await notices_as_they_stand(store.db, ours, {"transport": 1, "created_at": 1, "sent_at": 1})
            notices = [n for n in found if n["state"] == "sent"]
            if len(notices) >= count:
                break
            await asyncio.sleep(0.5)
        elapsed = time.monotonic() - started
        sent = len(notices)
    finally:
        await producer.stop()
        await store.close()

    table = Table(
        title=f"notifier: {sent} of {count} notices delivered in {elapsed:.1f} s (published in {published:.1f} s)"
    )
    for column in ("transport", "delivered", "record -> delivered p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column)
    for transport in ("sms", "email", "webhook"):
        latencies = [
            (n["sent_at"] - n["created_at"]).total_seconds() * 1000 for n in notices if n["transport"] == transport
        ]
        table.add_row(
            transport,
            str(len(latencies)),
            f"{percentile(latencies, 50):.0f}",
            f"{percentile(latencies, 95):.0f}",
            f"{percentile(latencies, 99):.0f}",
        )
    console.print(table)
    console.print(f"[bold]{sent / elapsed:.0f} notices/s[/bold] from the first publish to the last delivery")
    return 0 if sent >= count else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3000, help="how many notices")
    parser.add_argument("--rate", type=float, default=None, help="notices per second (default: all at once)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    return asyncio.run(run(args.n, args.timeout, args.rate))


if __name__ == "__main__":
    raise SystemExit(main())
