"""The store's work per delivered notice, the notifier's own write paths against the running store (`make run`):

- each notice written itself: record the notices, then one settlement per notice (`settle`, an update_many per
  outcome: the path of notices that were retried, taken over or resent; every notice's path before delivery batches);
- delivery batches: open the batch, record the notices, settle the batch with one write naming those that went (the
  path of a notice sent at its first attempt).

    .venv/bin/python -m benchmarks.notifier_store [-n 6000] [--chunk 100] [--rounds 3]

Both run in turns on a scratch database (dropped afterwards) with the notifier's indexes; the figure is notices per
second of sequential round trips, so it is the store's time per notice (SecantusDB, the busiest process of the stack).
"""

import argparse
import asyncio
import time
import uuid

from rich.console import Console
from rich.table import Table

from services.notifier.documents import NoticeDoc
from services.notifier.domain import NoticeContext, Outcome, load_templates, registration_notice
from services.notifier.repository import MongoNotifierRepository, Settlement, delivery_document, ensure_indexes
from services.notifier.settings import DEFAULT_TEMPLATES
from shared.contracts.base import utcnow
from shared.contracts.intake import AppealRegistered, ResidentContact
from shared.settings import DEFAULT_TAXONOMY, ConnectionSettings
from shared.store import Store, connect
from shared.taxonomy import load_taxonomy

console = Console()


def notice_documents(count: int, first: int) -> list[NoticeDoc]:
    now = utcnow()
    context = NoticeContext(load_templates(DEFAULT_TEMPLATES), load_taxonomy(DEFAULT_TAXONOMY), "1551", {}, now)
    return [
        registration_notice(
            AppealRegistered(
                appeal_id=str(first + index),
                correlation_id=uuid.uuid4().hex,
                channel="web",
                text="Немає гарячої води",
                contact=ResidentContact(phone="+380671234567"),
                received_at=now,
                registered_at=now,
            ),
            context,
        ).document()
        for index in range(count)
    ]


async def each_written(repo: MongoNotifierRepository, documents: list[NoticeDoc], chunk: int) -> None:
    for start in range(0, len(documents), chunk):
        part = documents[start : start + chunk]
        await repo.record(part)
        sent = [Settlement(d.key, "pending", 0, 1, Outcome("sent")) for d in part]
        await repo.settle(sent, utcnow())


async def in_batches(repo: MongoNotifierRepository, documents: list[NoticeDoc], chunk: int) -> None:
    for start in range(0, len(documents), chunk):
        batch = delivery_document([d.key for d in documents[start : start + chunk]], utcnow(), 60)
        part = [
            d.model_copy(update={"next_attempt_at": None, "delivery": batch.delivery_id})
            for d in documents[start : start + chunk]
        ]
        await repo.open_deliveries([batch])
        await repo.record(part)
        await repo.settle_delivery(batch.delivery_id, list(batch.keys), utcnow(), final=True)


async def run(count: int, chunk: int, rounds: int) -> None:
    settings = ConnectionSettings()
    store = Store(connect(settings, app_name="cityline-bench"), f"bench_notices_{uuid.uuid4().hex[:8]}")
    await ensure_indexes(store)
    repo = MongoNotifierRepository(store)
    rates: dict[str, list[float]] = {"each notice written itself": [], "delivery batches": []}
    first = 10**9
    try:
        for _ in range(rounds):
            for name, path in (("each notice written itself", each_written), ("delivery batches", in_batches)):
                documents = notice_documents(count, first)
                first += count
                started = time.perf_counter()
                await path(repo, documents, chunk)
                rates[name].append(count / (time.perf_counter() - started))
    finally:
        await store.client.drop_database(store.database_name)
        await store.close()
    table = Table(title=f"store work per delivered notice: {count} notices in chunks of {chunk}, {rounds} rounds")
    for column in ("write path", "notices/s (each round)", "time per notice"):
        table.add_column(column)
    for name, values in rates.items():
        best = max(values)
        table.add_row(name, ", ".join(f"{value:,.0f}" for value in values), f"{1e6 / best:,.0f} µs (best round)")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=6000, help="notices per round and path")
    parser.add_argument("--chunk", type=int, default=100, help="notices per batch (the notifier's DELIVERY_CHUNK)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.chunk, args.rounds))


if __name__ == "__main__":
    main()
