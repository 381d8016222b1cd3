"""`cityline dlq list|replay`: see what the services parked in dead-letter topics and why, and send it back once
the cause is fixed.

Replaying is safe because every stage is idempotent: a record that was in fact processed changes nothing.
A record whose own content was the problem is parked again, with its reason, by the service.
"""

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from rich.table import Table

from cityline.output import UserError, console
from shared.contracts import topics
from shared.deadletter import ATTEMPTS_HEADER, ERROR_HEADER, ORIGIN_HEADER, REASON_HEADER, SERVICE_HEADER
from shared.settings import ConnectionSettings

REPLAY_GROUP = "cityline-dlq-replay"
REPLAYED_HEADER = "x-cityline-replayed-from"
_OURS = {REASON_HEADER, ERROR_HEADER, ATTEMPTS_HEADER, SERVICE_HEADER, ORIGIN_HEADER}


@dataclass(frozen=True)
class Parked:
    record: ConsumerRecord

    @property
    def headers(self) -> dict[str, str]:
        return {key: value.decode(errors="replace") for key, value in (self.record.headers or ())}

    @property
    def reason(self) -> str:
        return self.headers.get(REASON_HEADER, "")

    def summary(self, width: int = 120) -> dict[str, str]:
        body = (self.record.value or b"").decode(errors="replace")
        return {
            "dlq": f"{self.record.topic}/{self.record.partition}/{self.record.offset}",
            "origin": self.headers.get(ORIGIN_HEADER, ""),
            "reason": self.reason,
            "error": self.headers.get(ERROR_HEADER, ""),
            "key": (self.record.key or b"").decode(errors="replace"),
            "body": body if len(body) <= width else body[: width - 1] + "…",
        }


def dead_letter_topics(topic: str | None) -> list[str]:
    if topic:
        return [topics.dead_letter(topic)]
    return [*(topics.dead_letter(t) for t in topics.PIPELINE_TOPICS), topics.NOTIFICATIONS_DLQ]


async def _consumer(bootstrap: str, names: list[str], group: str | None) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        *names,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
    )
    await consumer.start()
    return consumer


async def _drain(consumer: AIOKafkaConsumer, idle_s: float = 2.0, join_timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Everything there is now: read until nothing new arrives for `idle_s` once partitions are assigned
    (a group join can take seconds, and an empty read before it says nothing)."""
    records: list[ConsumerRecord] = []
    started = quiet_since = time.monotonic()
    while True:
        batch = await consumer.getmany(timeout_ms=200)
        for partition_records in batch.values():
            records.extend(partition_records)
            quiet_since = time.monotonic()
        if not consumer.assignment():
            quiet_since = time.monotonic()
            if quiet_since - started > join_timeout_s:
                raise TimeoutError("no partitions of the dead-letter topic were assigned")
        elif time.monotonic() - quiet_since >= idle_s:
            return records


async def list_parked(bootstrap: str, topic: str | None, limit: int) -> list[Parked]:
    consumer = await _consumer(bootstrap, dead_letter_topics(topic), group=None)
    try:
        return [Parked(record) for record in await _drain(consumer)][-limit:]
    finally:
        await consumer.stop()


async def replay(bootstrap: str, topic: str, reason: str | None, dry_run: bool) -> tuple[int, int]:
    """Send parked records of `topic` back to it; returns (replayed, left). Each record is replayed once:
    the replay group commits what it has read, whether it matched `reason` or not."""
    consumer = await _consumer(bootstrap, [topics.dead_letter(topic)], group=REPLAY_GROUP if not dry_run else None)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    replayed = left = 0
    try:
        for record in await _drain(consumer):
            parked = Parked(record)
            if reason and parked.reason != reason:
                left += 1
                continue
            replayed += 1
            if dry_run:
                continue
            headers = [(key, value) for key, value in (record.headers or ()) if key not in _OURS]
            headers.append((REPLAYED_HEADER, f"{record.topic}/{record.partition}/{record.offset}".encode()))
            await producer.send_and_wait(topic, record.value, key=record.key, headers=headers)
        if not dry_run:
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed, left


def as_json_lines(parked: list[Parked]) -> str:
    return "\n".join(json.dumps(item.summary(width=10_000), ensure_ascii=False) for item in parked)


def add_parser(commands: Any) -> None:
    dlq = commands.add_parser("dlq", help="list what the services parked, or send it back once the cause is fixed")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("topic", nargs="?", help="the original topic, e.g. appeals.intake (list: all when omitted)")
    dlq.add_argument("--reason", help="replay only records parked for this reason, e.g. transient-exhausted")
    dlq.add_argument("--limit", type=int, default=50, help="list: at most this many, the newest")
    dlq.add_argument("--json", action="store_true", help="list: one JSON object per line")
    dlq.add_argument("--dry-run", action="store_true", help="replay: count, send nothing")
    dlq.set_defaults(func=cmd_dlq)


def cmd_dlq(args: argparse.Namespace) -> int:
    bootstrap = ConnectionSettings().kafka_bootstrap_servers
    if args.action == "list":
        parked = asyncio.run(list_parked(bootstrap, args.topic, args.limit))
        if args.json:
            sys.stdout.write(as_json_lines(parked) + ("\n" if parked else ""))
            return 0
        table = Table(title=f"parked messages ({len(parked)})")
        for column in ("dlq", "origin", "reason", "error", "key", "body"):
            table.add_column(column, overflow="fold")
        for item in parked:
            table.add_row(*item.summary().values())
        console.print(table)
        return 0
    if not args.topic:
        raise UserError("replay needs the topic whose dead letters to send back, e.g. appeals.intake")
    if args.topic == "notifications":
        raise UserError("failed notices are sent again with `cityline notify resend`, not replayed")
    replayed, left = asyncio.run(replay(bootstrap, args.topic, args.reason, args.dry_run))
    verb = "would replay" if args.dry_run else "replayed"
    console.print(f"{verb} {replayed} to {args.topic}; {left} of other reasons left")
    return 0
