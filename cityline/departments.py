"""`cityline department report APPEAL STATUS`: report on an appeal as its department would, on dept.updates (what a
department's own system does; for trying the loop on `make run`'s stack, and for scripts)."""

import argparse
import asyncio
import uuid
from datetime import datetime
from typing import Any

from rich.console import Console

console = Console()
errors = Console(stderr=True)
STATUSES = (
    "accepted",
    "in_progress",
    "resolved",
    "rejected",
    "misrouted",
    "extension_requested",
    "waiting_for_resident",
)


def add_parser(commands: Any) -> None:
    department = commands.add_parser("department", help="report on an appeal as its department does (dept.updates)")
    actions = department.add_subparsers(dest="action", required=True)
    report = actions.add_parser("report", help="publish a DepartmentUpdate for the appeal")
    report.add_argument("appeal_id")
    report.add_argument("status", choices=STATUSES)
    report.add_argument("--comment", default="", help="the comment; an extension's reason; the question to ask")
    report.add_argument("--extend-to", type=datetime.fromisoformat, help="with extension_requested: ISO 8601 time")
    report.add_argument("--suggested-department", metavar="CODE", help="with misrouted: the right department")
    report.add_argument("--department", metavar="CODE", help="default: the department the appeal is assigned to")
    report.set_defaults(func=cmd_department)


def cmd_department(args: argparse.Namespace) -> int:
    from cityline.output import UserError

    try:
        return asyncio.run(_report(args))
    except UserError as error:
        errors.print(f"[red]error:[/red] {error}")
        return 2


async def _report(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cityline.output import UserError
    from cityline.submit import publish_record
    from shared.contracts import topics
    from shared.contracts.departments import DepartmentUpdate
    from shared.errors import describe_issues
    from shared.settings import ConnectionSettings
    from shared.store import APPEALS, Store

    connection = ConnectionSettings()
    department = args.department
    if department is None:
        store = Store.from_settings(connection, app_name="cityline-cli")
        try:
            appeal = await store.db[APPEALS].find_one({"_id": args.appeal_id}, {"assignment.department": 1})
        finally:
            await store.close()
        if not appeal or not appeal.get("assignment"):
            raise UserError(f"appeal {args.appeal_id} is not assigned to a department (give --department)")
        department = appeal["assignment"]["department"]
    try:
        update = DepartmentUpdate(
            event_id=uuid.uuid4(),
            appeal_id=args.appeal_id,
            department=department,
            status=args.status,
            comment=args.comment,
            extend_to=args.extend_to,
            suggested_department=args.suggested_department,
        )
    except ValidationError as error:
        raise UserError(describe_issues(error.errors())) from None
    await publish_record(
        connection.kafka_bootstrap_servers,
        topics.DEPARTMENT_UPDATES,
        update.model_dump_json().encode(),
        update.appeal_id.encode(),
    )
    console.print(f"{department} reported {args.status} on {args.appeal_id} (event {update.event_id})")
    return 0
