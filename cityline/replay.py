"""`cityline replay --year 2022 [--scale F]`: a synthetic year shaped like Kyiv's 2022 through the running pipeline.

The year's shape: the 15-51 line's channel mix of 2022 (697 k by phone, 150 k web and app, 47.5 k from the government
contact center, 574 from TV), months weighted by the heating season and the October–December blackouts, and the
texts (so the categories) drawn from the labelled appeals in datasets/appeals, whose category mix they keep. Month by
month the appeals go to appeals.intake as the channels send them; the month ends when all of them reached
appeals.assigned. The end: the total time, appeals/s per month and the slowest stage (from the appeals' history).
`--scale 1` is the whole 895 thousand.
"""

import argparse
import asyncio
import itertools
import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from rich.progress import Progress
from rich.table import Table

from cityline.output import UserError, console
from shared.contracts import topics
from shared.settings import ConnectionSettings
from shared.store import APPEALS, Store

# Appeals to the 15-51 line in 2022 by channel; "web and app" split between the portal and the mobile app.
CHANNELS_2022 = {"phone": 697_000, "web": 75_000, "mobile": 75_000, "gov_contact_center": 47_500, "tv": 574}
# The months' relative weights: more in the heating season (January–March, October–December), most in the
# blackouts of October–December; the summer is the quiet season.
MONTH_WEIGHTS_2022 = (1.15, 1.05, 0.90, 0.80, 0.75, 0.70, 0.70, 0.75, 0.85, 1.30, 1.60, 1.55)
LABELLED = Path(__file__).resolve().parents[1] / "datasets" / "appeals" / "dev.jsonl"
# The stages an appeal's history records, in order; the time from one to the next is that stage's.
STAGES = ("registered", "classified", "assigned")
# How many appeals of the run the slowest-stage figure reads back (their history), whatever the scale.
STAGE_SAMPLE = 2000


def add_parser(commands: Any) -> None:
    replay = commands.add_parser("replay", help="push a synthetic year shaped like Kyiv's through the running stack")
    replay.add_argument("--year", type=int, default=2022, choices=[2022], help="the year whose shape to replay")
    replay.add_argument("--scale", type=float, default=0.01, help="share of the year's 895 thousand appeals (1: all)")
    replay.add_argument("--seed", type=int, default=2022, help="the same seed gives the same appeals")
    replay.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="give up on a month after this long without an assignment",
    )
    replay.set_defaults(func=cmd_replay)


def apportion(total: int, weights: Any) -> list[int]:
    """`total` split by `weights` into whole numbers that add up to it (the largest remainders get the rest)."""
    weights = list(weights)
    shares = [total * weight / sum(weights) for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda index: shares[index] - counts[index], reverse=True)
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


@dataclass(frozen=True)
class Planned:
    month: int  # 1..12
    channel: str
    text: str
    received_at: datetime


def year_plan(year: int, scale: float, seed: int, texts: list[str]) -> list[list[Planned]]:
    """The year's appeals, month by month: each channel's share of the scaled total, spread over the months."""
    if not 0 < scale <= 1:
        raise UserError("--scale must be above 0 and at most 1")
    chooser = random.Random(seed)
    months: list[list[Planned]] = [[] for _ in range(12)]
    per_channel = apportion(round(sum(CHANNELS_2022.values()) * scale), CHANNELS_2022.values())
    for channel, count in zip(CHANNELS_2022, per_channel, strict=True):
        for month, in_month in enumerate(apportion(count, MONTH_WEIGHTS_2022), start=1):
            start = datetime(year, month, 1, tzinfo=UTC)
            days = ((start + timedelta(days=32)).replace(day=1) - start).days
            for _ in range(in_month):
                received = start + timedelta(seconds=chooser.randrange(days * 86_400))
                months[month - 1].append(Planned(month, channel, chooser.choice(texts), received))
    for planned in months:
        planned.sort(key=lambda appeal: appeal.received_at)
    return months


def labelled_texts(path: Path = LABELLED) -> list[str]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines if line.strip()]


@dataclass
class MonthRun:
    month: int
    appeals: int
    assigned: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.assigned / self.seconds if self.seconds else 0.0


async def replay_year(
    connection: ConnectionSettings, year: int, scale: float, seed: int = 2022, wait_s: float = 120.0
) -> tuple[list[MonthRun], dict[str, float], list[str]]:
    """Each month's run, the median time of each stage (ms) over a sample of the appeals, and the appeal ids."""
    from benchmarks.pipeline import _ready_consumer

    plan = year_plan(year, scale, seed, labelled_texts())
    run = uuid.uuid4().hex[:8]
    bootstrap = connection.kafka_bootstrap_servers
    consumer = await _ready_consumer(bootstrap, topics.APPEALS_ASSIGNED, latest=True)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024)
    await producer.start()
    months: list[MonthRun] = []
    appeal_ids: list[str] = []
    try:
        with Progress(console=console) as progress:
            whole = progress.add_task(f"{year} at scale {scale:g}", total=sum(len(month) for month in plan))
            for month, appeals in enumerate(plan, start=1):
                started = time.perf_counter()
                prefix = f"replay-{run}-{month:02d}-"
                await _send_month(producer, appeals, prefix)
                assigned = await _wait_assigned(consumer, prefix, len(appeals), wait_s, progress, whole, appeal_ids)
                months.append(MonthRun(month, len(appeals), assigned, time.perf_counter() - started))
    finally:
        await producer.stop()
        await consumer.stop()
    return months, await stage_medians(connection, appeal_ids[:STAGE_SAMPLE]), appeal_ids


async def _send_month(producer: AIOKafkaProducer, appeals: list[Planned], prefix: str) -> None:
    pending = []
    for index, appeal in enumerate(appeals):
        body = {
            "event_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "correlation_id": f"{prefix}{index}",
            "channel": appeal.channel,
            "external_id": f"{prefix}{index}",
            "text": appeal.text,
            "received_at": appeal.received_at.isoformat(),
        }
        pending.append(
            await producer.send(
                topics.APPEALS_INTAKE,
                json.dumps(body, ensure_ascii=False).encode(),
                key=body["external_id"].encode(),
                headers=[("x-cityline-channel", appeal.channel.encode())],
            )
        )
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def _wait_assigned(
    consumer: Any, prefix: str, expected: int, wait_s: float, progress: Progress, task: Any, appeal_ids: list[str]
) -> int:
    """How many of the month's appeals reached appeals.assigned; gives up after `wait_s` without one."""
    seen: set[str] = set()
    idle_deadline = time.monotonic() + wait_s
    while len(seen) < expected and time.monotonic() < idle_deadline:
        batches = await consumer.getmany(timeout_ms=100, max_records=5000)
        for records in batches.values():
            for record in records:
                event = json.loads(record.value)
                correlation = event.get("correlation_id", "")
                if correlation.startswith(prefix) and correlation not in seen:
                    seen.add(correlation)
                    appeal_ids.append(event["appeal_id"])
                    progress.advance(task)
                    idle_deadline = time.monotonic() + wait_s
    return len(seen)


async def stage_medians(connection: ConnectionSettings, appeal_ids: list[str]) -> dict[str, float]:
    """The median time (ms) from each stage of the history to the next, over the given appeals."""
    store = Store.from_settings(connection, app_name="cityline-replay")
    gaps: dict[str, list[float]] = {f"{a} -> {b}": [] for a, b in itertools.pairwise(STAGES)}
    try:
        cursor = store.db[APPEALS].find({"_id": {"$in": appeal_ids}}, {"history": 1}, batch_size=len(appeal_ids) + 1)
        async for appeal in cursor:
            at = {entry["status"]: entry["at"] for entry in appeal.get("history", [])}
            for first, then in itertools.pairwise(STAGES):
                if first in at and then in at:
                    gaps[f"{first} -> {then}"].append((at[then] - at[first]).total_seconds() * 1000)
    finally:
        await store.close()
    return {stage: statistics.median(times) for stage, times in gaps.items() if times}


def cmd_replay(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    months, stages, _ = asyncio.run(replay_year(ConnectionSettings(), args.year, args.scale, args.seed, args.wait))
    total = time.perf_counter() - started
    table = Table(title=f"cityline replay --year {args.year} --scale {args.scale:g}")
    for column in ("month", "appeals", "assigned", "seconds", "appeals/s"):
        table.add_column(column, justify="right")
    for month in months:
        table.add_row(
            f"{args.year}-{month.month:02d}",
            str(month.appeals),
            str(month.assigned),
            f"{month.seconds:,.1f}",
            f"{month.rate:,.1f}",
        )
    console.print(table)
    appeals = sum(month.appeals for month in months)
    assigned = sum(month.assigned for month in months)
    console.print(
        f"total: {assigned} of {appeals} appeals assigned in {total:,.1f} s ({assigned / total:,.1f} appeals/s)"
    )
    if stages:
        slowest = max(stages, key=stages.__getitem__)
        medians = ", ".join(f"{stage} {ms:,.0f} ms" for stage, ms in stages.items())
        console.print(f"slowest stage: {slowest} (medians: {medians})")
    return 0 if assigned == appeals else 1
