"""`cityline report departments --month YYYY-MM [--csv]`: each department's quality for a month, read from the store
(MONGODB_URI): on-time share, disputed-resolution share, reopen count and median time to resolve."""

import argparse
import asyncio
import csv
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)
COLUMNS = ("department", "resolved", "on_time_share", "disputed_share", "reopens", "median_hours_to_resolve")


def add_parser(commands: Any) -> None:
    report = commands.add_parser("report", help="reports read from the store")
    kinds = report.add_subparsers(dest="report", required=True)
    departments = kinds.add_parser(
        "departments", help="each department's month: on time, disputed, reopened, median time to resolve"
    )
    departments.add_argument("--month", required=True, metavar="YYYY-MM", help="the month, in Kyiv time")
    departments.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from shared.quality import month_bounds

    try:
        start, end = month_bounds(args.month)
    except ValueError as error:
        errors.print(f"[red]error:[/red] --month: {error}")
        return 2
    lines = asyncio.run(_read(start, end))
    rows = [_row(line) for line in lines]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("month", *COLUMNS))
        writer.writerows((args.month, *row) for row in rows)
        return 0
    table = Table(title=f"Departments, {args.month} (Kyiv time)")
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), justify="left" if column == "department" else "right")
    for row in rows:
        table.add_row(*(str(value) if value != "" else "—" for value in row))
    console.print(table if rows else f"no resolutions or reopens in {args.month}")
    return 0


def _row(line: Any) -> tuple[Any, ...]:
    def share(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    median = line.median_hours_to_resolve
    return (
        line.department,
        line.resolved,
        share(line.on_time_share),
        share(line.disputed_share),
        line.reopens,
        "" if median is None else f"{median:.1f}",
    )


async def _read(start: Any, end: Any) -> list[Any]:
    from shared.quality import department_quality, history_query
    from shared.settings import ConnectionSettings
    from shared.store import APPEALS, Store

    store = Store.from_settings(ConnectionSettings())
    try:
        cursor = store.db[APPEALS].find(history_query(start, end), {"registered_at": 1, "history": 1})
        return department_quality([document async for document in cursor], start, end)
    finally:
        await store.close()
