"""The embedded broker's throughput on its s3:// engine (over the embedded object store) against its memory
engine, measured in the same run: produce N records of 500 B with acks=all, then consume them all in a group.

    .venv/bin/python -m benchmarks.broker_storage --messages 20000      (or: make bench-broker)

The memory engine is the same-run reference: read the durable figures as a share of it (machines differ 3-4x).
"""

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cityline.stack import EmbeddedStack, free_port
from shared.settings import StackSettings

RECORD = b"x" * 500
PARTITIONS = 3


async def produce(bootstrap: str, topic: str, count: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = [await producer.send(topic, RECORD, key=str(n).encode()) for n in range(count)]
        await asyncio.gather(*pending)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        # Timed from the first records on, so the group join is not counted; that first batch is not counted either.
        received, first, started = 0, 0, 0.0
        while received < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            received += sum(len(records) for records in batch.values())
            if not first and received:
                first, started = received, time.perf_counter()
        seconds = time.perf_counter() - started
        await consumer.commit()
        return (count - first) / seconds if seconds > 0 else float("nan")
    finally:
        await consumer.stop()


async def measure(bootstrap: str, count: int) -> tuple[float, float]:
    topic = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    return await produce(bootstrap, topic, count), await consume(bootstrap, topic, count)


def run_engine(storage: str, count: int, run_dir: Path) -> tuple[float, float]:
    settings = StackSettings(
        run_dir=run_dir / storage, broker_port=free_port(), s3_port=free_port(), broker_storage=storage
    )
    stack = EmbeddedStack(settings)
    stack.start_broker()
    try:
        return asyncio.run(measure(stack.bootstrap, count))
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cityline-bench-broker-") as folder:
        figures = {storage: run_engine(storage, args.messages, Path(folder)) for storage in ("memory", "s3")}
    memory_produce, memory_consume = figures["memory"]
    durable_produce, durable_consume = figures["s3"]
    lines = [
        f"{args.messages} records of {len(RECORD)} B, {PARTITIONS} partitions, acks=all; load average "
        + " ".join(f"{value:.1f}" for value in os.getloadavg()),
        f"memory engine (reference): produce {memory_produce:,.0f} msg/s, consume {memory_consume:,.0f} msg/s",
        f"s3:// on the object store: produce {durable_produce:,.0f} msg/s ({durable_produce / memory_produce:.0%}), "
        f"consume {durable_consume:,.0f} msg/s ({durable_consume / memory_consume:.0%})",
    ]
    os.write(1, ("\n".join(lines) + "\n").encode())


if __name__ == "__main__":
    main()
