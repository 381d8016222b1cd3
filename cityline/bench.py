"""`cityline bench`: N appeals through the running stack, measured beside the raw broker and store figures."""

import argparse
import asyncio
from typing import Any

from shared.settings import ConnectionSettings, StackSettings


def add_parser(commands: Any) -> None:
    bench = commands.add_parser("bench", help="push N appeals through the running stack and measure")
    bench.add_argument("-n", type=int, default=5000, help="number of appeals")
    bench.add_argument("--rate", type=float, default=0, help="appeals per second (0: as fast as possible)")
    bench.add_argument("--no-raw", action="store_true", help="skip the raw broker and store measurements")
    bench.add_argument(
        "--addresses", action="store_true", help="give appeals building addresses, so mass incidents form"
    )
    bench.add_argument("--no-notices", action="store_true", help="do not wait for the notifier's notices")
    bench.add_argument(
        "--wait", type=float, default=60.0, metavar="SECONDS", help="give up after this long without an assignment"
    )
    bench.add_argument(
        "--idle",
        type=float,
        nargs="?",
        const=60.0,
        default=0,
        metavar="SECONDS",
        help="send nothing: measure the CPU of the stack's processes over SECONDS (60 when not given)",
    )
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.pipeline import run_bench, run_idle

    if args.idle:
        return asyncio.run(run_idle(StackSettings().run_dir.resolve(), args.idle))
    return asyncio.run(
        run_bench(
            ConnectionSettings(),
            count=args.n,
            rate=args.rate,
            raw=not args.no_raw,
            addresses=args.addresses,
            notify=not args.no_notices,
            wait_s=args.wait,
        )
    )
