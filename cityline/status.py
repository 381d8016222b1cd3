"""`cityline status`: one appeal's status, history, classification, assignment and notifications."""

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from rich.table import Table

from cityline.output import console, errors
from shared.settings import ConnectionSettings
from shared.store import Store


def add_parser(commands: Any) -> None:
    status = commands.add_parser("status", help="status, history, classification, assignment, notifications")
    status.add_argument("appeal_id")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


async def _status(args: argparse.Namespace) -> int:
    store = Store.from_settings(ConnectionSettings(), app_name="cityline-cli")
    try:
        view = await store.appeal_view(args.appeal_id)
    finally:
        await store.close()
    if view is None:
        errors.print(f"no appeal {args.appeal_id}")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(_jsonable(view), ensure_ascii=False, indent=2) + "\n")
        return 0
    _print_status(view)
    return 0


def _print_status(view: dict[str, Any]) -> None:
    console.print(f"Appeal [bold]{view['appeal_id']}[/bold]: [bold]{view['status']}[/bold] (channel {view['channel']})")
    if classification := view.get("classification"):
        console.print(
            f"  category {classification['category']}, urgency {classification['urgency']}, "
            f"confidence {classification['confidence']:.2f}"
        )
    if assignment := view.get("assignment"):
        console.print(
            f"  {assignment['department_name']} ({assignment['department']}), "
            f"due {assignment['due_at']:%Y-%m-%d %H:%M} UTC"
        )
    history = Table(title="history")
    for column in ("when (UTC)", "status", "by", "note"):
        history.add_column(column)
    for entry in view["history"]:
        history.add_row(
            f"{entry['at']:%Y-%m-%d %H:%M:%S.%f}"[:-3], entry["status"], entry.get("by", ""), entry.get("note", "")
        )
    console.print(history)
    if view["notifications"]:
        notices = Table(title="notifications")
        for column in ("kind", "transport", "state", "attempts", "sent (UTC)", "text"):
            notices.add_column(column)
        for notice in view["notifications"]:
            notices.add_row(
                notice["kind"],
                notice["transport"],
                notice["state"] + (f" ({notice['reason']})" if notice.get("reason") else ""),
                str(notice.get("attempts", "")),
                f"{notice['sent_at']:%H:%M:%S}" if notice.get("sent_at") else "",
                notice["text"],
            )
        console.print(notices)


def cmd_status(args: argparse.Namespace) -> int:
    return asyncio.run(_status(args))
