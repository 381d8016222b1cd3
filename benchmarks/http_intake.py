"""The intake HTTP API under load: POST /v1/appeals from concurrent clients against the running stack.

    .venv/bin/python -m benchmarks.http_intake --key "$KEY" -n 2000 --concurrency 16

Each request registers an appeal synchronously (number reserved, appeal inserted, appeals.registered published), so
this measures the answered appeals per second and the request latency a channel sees. The channel's rate limit must
allow the load (`cityline channels add bench --kind web --rate-limit 1000000`).
"""

import argparse
import asyncio
import time
import uuid
from collections import Counter

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.pipeline import TEXTS, Result

console = Console()


async def measure(url: str, key: str, count: int, concurrency: int) -> tuple[Result, Counter]:
    statuses: Counter = Counter()
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    run = uuid.uuid4().hex[:8]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                body = {"text": TEXTS[index % len(TEXTS)], "external_id": f"bench-{run}-{index}"}
                started = time.perf_counter()
                response = await client.post("/v1/appeals", json=body, headers={"X-API-Key": key})
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(appeals=statuses[201], seconds=seconds, latencies_ms=latencies), statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="a channel's API key (with a rate limit above the load)")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    result, statuses = asyncio.run(measure(args.url, args.key, args.n, args.concurrency))
    table = Table(title=f"POST /v1/appeals × {args.n}, {args.concurrency} concurrent clients")
    for column in ("registered/s", "p50 ms", "p95 ms", "p99 ms", "statuses"):
        table.add_column(column)
    table.add_row(
        f"{result.rate:.0f}",
        f"{result.percentile(50):.1f}",
        f"{result.percentile(95):.1f}",
        f"{result.percentile(99):.1f}",
        ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())),
    )
    console.print(table)


if __name__ == "__main__":
    main()
