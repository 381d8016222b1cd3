"""`cityline bench`: push N appeals through the running stack and measure it against its parts, up to the
residents' notices.

Prints end-to-end appeals per second, intake -> assigned latency (p50/p95/p99, measured from the
moment the bench publishes to appeals.intake to the moment it reads the AppealAssigned), and, in
the same run, the raw produce->consume rate of the broker and the raw insert and update rates of the
store, so the pipeline is judged as a share of what its parts can carry.

Then the notifier's side, from the store: the run's notices by state, notices sent per second, how long after the
last assignment every notice was out, and the whole system's appeals per second counted up to the last notice
(`--no-notices` skips it).

`--idle S` pushes nothing: it measures the CPU the stack's processes (found by their pid files) use over S seconds.
"""

import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, UpdateOne
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.settings import ConnectionSettings
from shared.store import notices_as_they_stand

console = Console()

TEXTS = [
    "Третій день немає гарячої води в квартирі",
    "Батареї ледь теплі, в квартирі +15",
    "Яма на дорозі біля зупинки тролейбуса",
    "Не працює ліфт у під'їзді",
    "Не вывезли мусор уже неделю",
    "Не горить ліхтар на вулиці",
    "Дякую Київводоканалу за швидкий ремонт",
    "Не прибирають сніг біля будинку на Оболоні",
]
RAW_MESSAGES = 20_000
RAW_BYTES = 500
RAW_INSERTS = 20_000
RAW_UPDATES = 5_000


@dataclass
class Result:
    appeals: int
    seconds: float
    latencies_ms: list[float]
    appeal_ids: list[str] = field(default_factory=list)
    started_at: datetime | None = None  # wall clock, to compare with the store's times
    last_assigned_at: datetime | None = None

    @property
    def rate(self) -> float:
        return self.appeals / self.seconds if self.seconds else 0.0

    def percentile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


@dataclass
class Notices:
    """The notifier's side of a run: every notice of the run's appeals, settled or not."""

    expected: int
    states: dict[str, int]
    sent_per_s: float
    out_after_last_assigned_s: float | None  # None: not all out within the wait
    whole_system_rate: float  # appeals per second until their last notice was out


# With --addresses: buildings on a few streets, so appeals of one category about one building form mass incidents
# (the dispatcher's extra read and write per groupable appeal is then part of the measurement).
BENCH_STREETS = ["вул. Липська", "просп. Оболонський", "вул. Драгоманова", "вул. Кіото", "вул. Ентузіастів"]
BENCH_HOUSES = 40


def _submission(run: str, index: int, addresses: bool = False) -> dict:
    now = utcnow().isoformat()
    address = {"text": f"{BENCH_STREETS[index % len(BENCH_STREETS)]}, {index // 7 % BENCH_HOUSES + 1}"}
    return {
        **({"address": address} if addresses else {}),
        "event_id": str(uuid.uuid4()),
        "occurred_at": now,
        "correlation_id": f"bench-{run}-{index}",
        "channel": "web",
        "external_id": f"bench-{run}-{index}",
        "text": TEXTS[index % len(TEXTS)],
        "contact": {"phone": "+380441234567"} if index % 3 else None,
        "received_at": now,
    }


async def _ready_consumer(bootstrap: str, topic: str, *, latest: bool) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"cityline-bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest" if latest else "earliest",
        fetch_max_wait_ms=20,
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    if latest:
        await consumer.seek_to_end()
        for partition in consumer.assignment():
            await consumer.position(partition)
    return consumer


async def measure_pipeline(
    bootstrap: str, count: int, rate: float, addresses: bool = False, wait_s: float = 60.0
) -> Result:
    """`wait_s`: how long without a new assignment before the run gives up on the rest."""
    run = uuid.uuid4().hex[:8]
    consumer = await _ready_consumer(bootstrap, topics.APPEALS_ASSIGNED, latest=True)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024)
    await producer.start()
    sent_at: dict[str, float] = {}
    arrived_at: dict[str, float] = {}
    appeal_ids: list[str] = []
    started_at = utcnow()

    async def send_all() -> None:
        pending = []
        started = time.perf_counter()
        for index in range(count):
            body = _submission(run, index, addresses)
            if rate:
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_at[body["correlation_id"]] = time.perf_counter()
            pending.append(
                await producer.send(
                    topics.APPEALS_INTAKE,
                    json.dumps(body).encode(),
                    key=body["external_id"].encode(),
                    headers=[("x-cityline-channel", body["channel"].encode())],
                )
            )
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)

    async def receive_all(progress: Progress, task) -> None:
        prefix = f"bench-{run}-"
        idle_deadline = time.monotonic() + wait_s
        while len(arrived_at) < count and time.monotonic() < idle_deadline:
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    correlation = event.get("correlation_id", "")
                    if correlation.startswith(prefix) and correlation not in arrived_at:
                        arrived_at[correlation] = now
                        appeal_ids.append(event["appeal_id"])
                        idle_deadline = time.monotonic() + wait_s
            progress.update(task, completed=len(arrived_at))

    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{count} appeals through intake -> assigned", total=count)
            receiver = asyncio.create_task(receive_all(progress, task))
            await send_all()
            await receiver
    finally:
        await producer.stop()
        await consumer.stop()
    if len(arrived_at) < count:
        console.print(f"[red]only {len(arrived_at)} of {count} appeals reached appeals.assigned within the wait")
    first_sent = min(sent_at.values())
    last_arrived = max(arrived_at.values(), default=first_sent)
    latencies = [(arrived_at[key] - sent_at[key]) * 1000 for key in arrived_at]
    last_assigned_at = started_at + timedelta(seconds=last_arrived - first_sent)
    return Result(len(arrived_at), last_arrived - first_sent, latencies, appeal_ids, started_at, last_assigned_at)


async def measure_notices(connection: ConnectionSettings, result: Result, wait_s: float) -> Notices:
    """Wait until every notice of the run's appeals (registered and assigned: two each, sent, failed or skipped) is
    settled, then take the rate from the store's own times: what the resident sees, not what the consumer recorded."""
    client = AsyncMongoClient(connection.mongodb_uri.get_secret_value(), tz_aware=True)
    database = client[connection.mongodb_database]
    ids = set(result.appeal_ids)
    # Notice keys start with the appeal id: a key range reads them by the primary index, whatever else is stored.
    in_range = {"_id": {"$gte": f"{min(ids, default='')}:", "$lt": f"{max(ids, default='')};"}}
    expected = 2 * len(ids)
    deadline = time.monotonic() + wait_s
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{expected} notices of the run settled", total=expected)
            while True:
                found = await notices_as_they_stand(database, in_range, {"sent_at": 1, "created_at": 1})
                ours = [n for n in found if n["_id"].split(":", 1)[0] in ids]
                settled = [n for n in ours if n["state"] in ("sent", "failed", "skipped")]
                progress.update(task, completed=len(settled))
                if len(settled) >= expected or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1.0)
    finally:
        await client.close()
    states: dict[str, int] = {}
    for notice in ours:
        states[notice["state"]] = states.get(notice["state"], 0) + 1
    sent_times = [n["sent_at"] for n in ours if n.get("sent_at")]
    last_out = max([*sent_times, *(n["created_at"] for n in settled)], default=None)
    all_out = len(settled) >= expected and last_out is not None
    span = (last_out - result.started_at).total_seconds() if last_out and result.started_at else 0.0
    return Notices(
        expected=expected,
        states=states,
        sent_per_s=len(sent_times) / span if span > 0 else 0.0,
        out_after_last_assigned_s=(last_out - result.last_assigned_at).total_seconds() if all_out else None,
        whole_system_rate=len(ids) / span if all_out and span > 0 else 0.0,
    )


async def measure_broker(bootstrap: str) -> float:
    """Raw produce -> consume rate of RAW_MESSAGES messages of RAW_BYTES bytes through a fresh topic."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    consumer = await _ready_consumer(bootstrap, topic, latest=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024, acks="all")
    await producer.start()
    payload = b"x" * RAW_BYTES
    received = 0
    started = time.perf_counter()

    async def consume() -> None:
        nonlocal received
        while received < RAW_MESSAGES:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            received += sum(len(records) for records in batches.values())

    try:
        receiver = asyncio.create_task(consume())
        futures = [await producer.send(topic, payload, key=str(i).encode()) for i in range(RAW_MESSAGES)]
        await asyncio.gather(*futures)
        await asyncio.wait_for(receiver, timeout=120)
    finally:
        await producer.stop()
        await consumer.stop()
    elapsed = time.perf_counter() - started
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    except Exception:
        pass
    finally:
        await admin.close()
    return RAW_MESSAGES / elapsed


async def measure_store(connection: ConnectionSettings) -> tuple[float, float]:
    """Raw insert_many and bulk UpdateOne rates in a scratch database."""
    client = AsyncMongoClient(connection.mongodb_uri.get_secret_value(), tz_aware=True)
    collection = client[f"{connection.mongodb_database}_bench"][f"raw_{uuid.uuid4().hex[:8]}"]
    try:
        documents = [{"_id": i, "text": "x" * 300, "status": "registered", "history": []} for i in range(RAW_INSERTS)]
        started = time.perf_counter()
        for start in range(0, RAW_INSERTS, 1000):
            await collection.insert_many(documents[start : start + 1000], ordered=False)
        insert_rate = RAW_INSERTS / (time.perf_counter() - started)
        started = time.perf_counter()
        for start in range(0, RAW_UPDATES, 500):
            await collection.bulk_write(
                [
                    UpdateOne({"_id": i}, {"$set": {"status": "classified"}, "$push": {"history": {"s": "c"}}})
                    for i in range(start, start + 500)
                ],
                ordered=False,
            )
        update_rate = RAW_UPDATES / (time.perf_counter() - started)
    finally:
        await collection.drop()
        await client.close()
    return insert_rate, update_rate


async def run_bench(
    connection: ConnectionSettings,
    count: int,
    rate: float,
    raw: bool,
    addresses: bool = False,
    notify: bool = True,
    wait_s: float = 60.0,
) -> int:
    bootstrap = connection.kafka_bootstrap_servers
    mode = f"paced at {rate:g}/s" if rate else "as fast as intake takes them"
    console.print(f"Pushing {count} appeals through {bootstrap} ({mode})…")
    load_before = os.getloadavg()
    result = await measure_pipeline(bootstrap, count, rate, addresses, wait_s)
    table = Table(title=f"cityline bench -n {count}" + (f" --rate {rate:g}" if rate else ""))
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("appeals through intake -> assigned", f"{result.appeals} of {count}")
    table.add_row("end-to-end appeals/s", f"{result.rate:,.0f}")
    load_after = os.getloadavg()
    table.add_row("load average (1 min) before -> after the pipeline", f"{load_before[0]:.1f} -> {load_after[0]:.1f}")
    for q in (50, 95, 99):
        table.add_row(f"latency intake -> assigned p{q}", f"{result.percentile(q):,.0f} ms")
    notices = None
    if notify:
        notices = await measure_notices(connection, result, wait_s=max(120.0, result.seconds * 2))
        states = ", ".join(f"{count} {state}" for state, count in sorted(notices.states.items()))
        table.add_row("notices of the run (registered + assigned)", f"{states} (of {notices.expected})")
        table.add_row("notices sent/s (bench start -> last sent)", f"{notices.sent_per_s:,.0f}")
        out_after = notices.out_after_last_assigned_s
        table.add_row(
            "all notices out after the last assignment",
            f"{out_after:,.1f} s" if out_after is not None else "[red]not all within the wait",
        )
        table.add_row("whole system appeals/s (until the last notice)", f"{notices.whole_system_rate:,.0f}")
    if raw:
        console.print("Measuring the raw broker and store…")
        broker_rate = await measure_broker(bootstrap)
        insert_rate, update_rate = await measure_store(connection)
        table.add_row(f"broker raw produce->consume ({RAW_BYTES} B)", f"{broker_rate:,.0f} msg/s")
        table.add_row("store raw insert_many", f"{insert_rate:,.0f} docs/s")
        table.add_row("store raw bulk UpdateOne", f"{update_rate:,.0f} ops/s")
        # Each appeal costs the store one update (dispatcher) and four inserts (appeal, decision, two notices).
        ceiling = 1 / (1 / update_rate + 4 / insert_rate)
        table.add_row("store ceiling at 1 update + 4 inserts per appeal", f"{ceiling:,.0f} appeals/s")
        table.add_row("pipeline as a share of that ceiling", f"{result.rate / ceiling:.0%}")
    console.print(table)
    notices_out = notices is None or notices.out_after_last_assigned_s is not None
    return 0 if result.appeals == count and notices_out else 1


@dataclass(frozen=True)
class IdleProcess:
    name: str
    pid: int
    cpu_s: float  # user + system seconds, its children included, over the window

    def share_of_a_core(self, seconds: float) -> float:
        return self.cpu_s / seconds if seconds else 0.0


def stack_processes(run_dir: Path) -> dict[str, psutil.Process]:
    """The stack's processes by name, from the pid files `cityline up` writes (broker, store, sinks, services)."""
    found: dict[str, psutil.Process] = {}
    for pid_file in sorted((run_dir / "pids").glob("*.pid")):
        try:
            found[pid_file.stem] = psutil.Process(int(pid_file.read_text().strip()))
        except (ValueError, psutil.NoSuchProcess):
            continue
    return found


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


async def measure_idle(run_dir: Path, seconds: float) -> tuple[float, list[IdleProcess]]:
    """CPU the stack's processes use over `seconds` while nothing is sent to it; returns the window actually measured
    (wall clock) and each process's CPU seconds in it."""
    processes = stack_processes(run_dir)
    before = {name: _cpu_seconds(process) for name, process in processes.items()}
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    measured = []
    for name, process in processes.items():
        try:
            measured.append(IdleProcess(name, process.pid, _cpu_seconds(process) - before[name]))
        except psutil.NoSuchProcess:
            continue
    return elapsed, measured


async def run_idle(run_dir: Path, seconds: float) -> int:
    if not stack_processes(run_dir):
        console.print(f"[red]no running stack found under {run_dir}/pids: start it with `cityline up`")
        return 1
    console.print(f"Measuring the idle stack's CPU for {seconds:g} s (nothing is sent)…")
    load_before = os.getloadavg()
    elapsed, measured = await measure_idle(run_dir, seconds)
    table = Table(title=f"cityline bench --idle {seconds:g}")
    table.add_column("process")
    table.add_column("pid", justify="right")
    table.add_column("CPU, % of one core", justify="right")
    for item in sorted(measured, key=lambda item: -item.cpu_s):
        table.add_row(item.name, str(item.pid), f"{item.share_of_a_core(elapsed):.1%}")
    total = sum(item.cpu_s for item in measured) / elapsed
    table.add_row("the whole stack", "", f"{total:.1%}")
    table.add_row("load average before (1/5/15 min)", "", " / ".join(f"{value:.1f}" for value in load_before))
    console.print(table)
    return 0
