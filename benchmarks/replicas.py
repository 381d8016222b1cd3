"""Throughput with 1 and with 2 replicas of every service, each on a fresh embedded broker and store.

    python -m benchmarks.replicas --appeals 1000 [--replicas 1 2]

For each replica count: start a broker and a store of their own, N processes of each service in the same consumer
groups, carry a few warm-up appeals through, push the appeals as fast as intake takes them, and time intake ->
assigned (`cityline bench`'s measurement). In the same run, the raw store rates give the ceiling the pipeline is
judged against: the store's updates are the whole system's bottleneck on this stack, and replicas of the services
do not add store capacity.
"""

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.pipeline import measure_pipeline, measure_store
from cityline.replicas import CONSUMER_SERVICES as SERVICES
from cityline.replicas import ReplicaSet, stack_of_its_own
from shared.contracts.topics import APPEALS_INTAKE, all_topics
from shared.settings import DEFAULT_TAXONOMY, ConnectionSettings
from shared.taxonomy import load_taxonomy

console = Console()


def warm_up(bootstrap: str, appeals: int = 20, tries: int = 5) -> None:
    """A few appeals through first, until they all arrive: the first batches of fresh processes (connections, rules,
    indexes) are not what is measured."""
    for _ in range(tries):
        if asyncio.run(measure_pipeline(bootstrap, appeals, rate=0)).appeals == appeals:
            return
    raise RuntimeError(f"the pipeline did not carry {appeals} warm-up appeals in {tries} tries")


def measure(replicas: int, appeals: int, run_dir: Path) -> dict[str, float]:
    stack = stack_of_its_own(run_dir)
    stack.start(with_services=False)
    replica_set = ReplicaSet(stack)
    try:
        replica_set.start({service: replicas for service in SERVICES}, timeout_s=300)
        warm_up(stack.bootstrap)
        result = asyncio.run(measure_pipeline(stack.bootstrap, appeals, rate=0))
        connection = ConnectionSettings(
            kafka_bootstrap_servers=stack.bootstrap, mongodb_uri=stack.store_uri, mongodb_database=stack.database
        )
        insert_rate, update_rate = asyncio.run(measure_store(connection))
    finally:
        replica_set.stop()
        stack.stop()
    # As `cityline bench` counts it: one update and four inserts per appeal.
    ceiling = 1 / (1 / update_rate + 4 / insert_rate)
    return {"appeals": result.appeals, "rate": result.rate, "p50": result.percentile(50), "ceiling": ceiling}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--appeals", type=int, default=3000)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    partitions = all_topics(load_taxonomy(DEFAULT_TAXONOMY))[APPEALS_INTAKE]
    table = Table(title=f"{args.appeals} appeals, intake -> assigned; {partitions} partitions a topic")
    for column in ("replicas of each service", "appeals", "appeals/s", "p50 ms", "store ceiling/s", "share"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="cityline-replicas-") as folder:
        for count in args.replicas:
            console.print(f"{count} replica(s) of each service…")
            figures = measure(count, args.appeals, Path(folder) / f"x{count}")
            table.add_row(
                str(count),
                f"{figures['appeals']:.0f}",
                f"{figures['rate']:,.0f}",
                f"{figures['p50']:,.0f}",
                f"{figures['ceiling']:,.0f}",
                f"{figures['rate'] / figures['ceiling']:.0%}",
            )
    console.print(table)
    console.print("load average: " + " ".join(f"{load:.1f}" for load in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
