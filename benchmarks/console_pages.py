"""Server time of the console's pages with many appeals in the store (100,000 by default).

    .venv/bin/python -m benchmarks.console_pages [--appeals 100000] [--requests 30]

The store is the one MONGODB_URI names (default: the embedded store of `cityline up`, port 37017), database
`cityline_bench_console` (or --database). Seeding is one fast step: realistic appeal documents
(benchmarks/appeal_documents.py) written with `insert_many`, skipped when the database holds enough already; then
every index the services and the console build at start-up. The console app runs in this process (its lifespan too:
its queues read from the store and then kept by the broker's events, so KAFKA_BOOTSTRAP_SERVERS names the stack's
broker; the supervisor board's background computation), signed in as an operator, a department user and a
supervisor, and each page is requested through httpx's ASGI transport: the time is the server's, with no network.

Prints p50/p95/max per page, the load average, and the same-run reference: one store round trip (`find_one` by
number). Target: every page at most 150 ms at p95.
"""

import argparse
import asyncio
import os
import re
import statistics
import time

import httpx
from pydantic import SecretStr

from benchmarks.appeal_documents import appeal_documents
from services.console.auth import hash_password
from services.console.boards import ensure_board_indexes
from services.console.main import create_app
from services.console.repository import UserDoc, UserRepository
from services.console.settings import ConsoleSettings
from services.dispatcher.repository import ensure_indexes as dispatcher_indexes
from services.intake.repository import ensure_indexes as intake_indexes
from shared.contracts.base import utcnow
from shared.settings import ConnectionSettings
from shared.store import APPEALS, INCIDENTS, Store
from shared.taxonomy import load_taxonomy

PASSWORD = "benchmark-password-0123"
CHUNK = 5_000


async def create_indexes(store: Store) -> None:
    """Every index the services and the console build at start-up."""
    await intake_indexes(store)
    await dispatcher_indexes(store)
    await ensure_board_indexes(store)


async def seed(store: Store, count: int, taxonomy) -> float:
    """Appeals (and a few hundred open incidents) unless the database holds `count` already; seconds it took."""
    if await store.db[APPEALS].estimated_document_count() >= count:
        return 0.0
    started = time.perf_counter()
    await store.db[APPEALS].drop()
    await store.db[INCIDENTS].drop()
    # Indexes first: building one over 100,000 stored documents takes the embedded store longer than a client's
    # socket timeout, while maintaining it during insert_many costs little.
    await create_indexes(store)
    batch, incidents = [], []
    for document in appeal_documents(count, taxonomy, utcnow()):
        batch.append(document)
        assignment = document["assignment"]
        if document["status"] in ("assigned", "accepted") and len(incidents) < 300 and int(document["_id"]) % 7 == 0:
            incidents.append(
                {
                    "_id": f"inc-{document['_id']}",
                    "key": f"{assignment['department']}|{document['classification']['category']}|{document['_id']}",
                    "department": assignment["department"],
                    "category": document["classification"]["category"],
                    "location": f"вулиця Бенчмаркова, {len(incidents) + 1}",
                    "district": assignment["district"],
                    "urgency": document["classification"]["urgency"],
                    "appeal_ids": [document["_id"]],
                    "texts": [document["text"]],
                    "first_at": document["received_at"],
                    "last_at": document["received_at"],
                    "due_at": assignment["due_at"],
                    "status": "open",
                }
            )
        if len(batch) == CHUNK:
            await store.db[APPEALS].insert_many(batch, ordered=False)
            batch = []
    if batch:
        await store.db[APPEALS].insert_many(batch, ordered=False)
    if incidents:
        await store.db[INCIDENTS].insert_many(incidents, ordered=False)
    return time.perf_counter() - started


async def users(store: Store) -> None:
    now = utcnow()
    repo = UserRepository(store)
    await repo.collection.delete_many({"_id": {"$in": ["bench-operator", "bench-dept", "bench-supervisor"]}})
    for name, role, department in (
        ("bench-operator", "operator", None),
        ("bench-dept", "department", "kyivteploenergo"),
        ("bench-supervisor", "supervisor", None),
    ):
        await repo.add(
            UserDoc(
                _id=name,
                role=role,
                department=department,
                password_hash=hash_password(PASSWORD),
                must_change_password=False,
                created_at=now,
                password_changed_at=now,
            )
        )


async def signed_in(app, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console", timeout=120)
    page = (await client.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = await client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return client


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return f"p50 {cuts[49]:7.1f}  p95 {cuts[94]:7.1f}  max {ordered[-1]:7.1f} ms"


async def timed(client: httpx.AsyncClient, path: str, requests: int) -> list[float]:
    samples = []
    for attempt in range(requests + 2):
        started = time.perf_counter()
        answer = await client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
        if attempt >= 2:  # the first two warm the templates and the connection pool
            samples.append(elapsed)
    return samples


async def main(count: int, requests: int, database: str) -> None:
    connection = ConnectionSettings(mongodb_database=database)
    taxonomy = load_taxonomy(connection.taxonomy_path)
    store = Store.from_settings(connection, app_name="cityline-bench")
    seeded = await seed(store, count, taxonomy)
    started = time.perf_counter()
    await create_indexes(store)
    indexed = time.perf_counter() - started
    await users(store)
    held = await store.db[APPEALS].estimated_document_count()
    sample = await store.db[APPEALS].find_one({"status": "accepted", "assignment.department": "kyivteploenergo"})
    phone = sample["contact"]["phone"]

    settings = ConsoleSettings(
        mongodb_database=database, session_secret=SecretStr("x" * 40), supervisor_refresh_s=3600.0
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        building = time.perf_counter()
        await app.state.queue_feed.built.wait()  # what /ready waits for: the queues read from the store
        queues_s = time.perf_counter() - building
        supervisor = await signed_in(app, "bench-supervisor")
        computing = time.perf_counter()
        await app.state.supervisor_board.refresh()
        board_s = time.perf_counter() - computing
        department = await signed_in(app, "bench-dept")
        operator = await signed_in(app, "bench-operator")
        pages = {
            "triage queue": (operator, "/triage"),
            "department board": (department, "/department"),
            "department appeal": (department, f"/department/appeals/{sample['_id']}"),
            "supervisor board": (supervisor, "/supervisor"),
            "supervisor CSV": (supervisor, "/supervisor/export.csv"),
            "call desk": (operator, "/desk"),
            "appeal page": (operator, f"/appeals/{sample['_id']}"),
            "search by phone": (operator, f"/search?q={phone}"),
            "search by number": (operator, f"/search?q={sample['_id']}"),
        }
        results = {name: await timed(client, path, requests) for name, (client, path) in pages.items()}
        reference = []
        for _ in range(requests):
            began = time.perf_counter()
            await store.db[APPEALS].find_one({"_id": sample["_id"]}, {"_id": 1})
            reference.append((time.perf_counter() - began) * 1000)
        for client in (supervisor, department, operator):
            await client.aclose()
    await store.close()

    print(f"{held} appeals in {database}; seeded in {seeded:.0f} s, indexes in {indexed:.0f} s")  # noqa: T201
    print(f"queues built from the store (at start, and each reconciliation) in {queues_s * 1000:.0f} ms")  # noqa: T201
    print(f"supervisor figures computed (background job) in {board_s * 1000:.0f} ms")  # noqa: T201
    for name, samples in results.items():
        print(f"{name:20} {percentiles(samples)}  (n={len(samples)})")  # noqa: T201
    print(f"{'reference: find_one':20} {percentiles(reference)}")  # noqa: T201
    print("load average " + " ".join(f"{load:.2f}" for load in os.getloadavg()))  # noqa: T201


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appeals", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database", default="cityline_bench_console")
    args = parser.parse_args()
    asyncio.run(main(args.appeals, args.requests, args.database))


if __name__ == "__main__":
    run()
