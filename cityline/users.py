"""`cityline users add|list|disable`: the people who sign in to the console, and their one-time passwords."""

import argparse
import asyncio
import sys
from typing import Any

from rich.table import Table

from cityline.output import UserError, console, errors

# Every `cityline` command builds the parser: the console's modules (argon2, the store) load only for `users`.
ROLES = ("operator", "supervisor", "department", "admin")


def add_parser(commands: Any) -> None:
    users = commands.add_parser("users", help="add, list or disable the people who sign in to the console")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a user and print a one-time password (changed at first sign-in)")
    add.add_argument("name", help="the user name: lower case letters, digits, '.', '_', '-'")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--department", metavar="CODE", help="the department code (required for --role department)")
    listing = actions.add_parser("list", help="the users, active and disabled (never their passwords)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    disable = actions.add_parser("disable", help="disable a user at once: their sessions end on their next request")
    disable.add_argument("name")
    users.set_defaults(func=cmd_users)


def cmd_users(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_users(args))
    except UserError as error:
        errors.print(f"[red]error:[/red] {error}")
        return 2


def new_user(name: str, role: str, department: str | None, department_codes: list[str]) -> tuple[Any, str]:
    """The user to store (a UserDoc) and their one-time password; UserError saying what is wrong."""
    from pydantic import ValidationError

    from services.console.auth import hash_password
    from services.console.repository import UserDoc, one_time_password
    from shared.contracts.base import utcnow

    if role == "department" and not department:
        raise UserError("a department user needs --department CODE")
    if role != "department" and department:
        raise UserError("--department is only for --role department")
    if department and department not in department_codes:
        raise UserError(f"unknown department {department!r}; see the departments in shared/data/taxonomy.yaml")
    password = one_time_password()
    now = utcnow()
    try:
        user = UserDoc.model_validate(
            {
                "_id": name,
                "role": role,
                "department": department,
                "password_hash": hash_password(password),
                "must_change_password": True,
                "created_at": now,
                "password_changed_at": now,
            }
        )
    except ValidationError:
        raise UserError(
            f"user name {name!r}: 2-64 characters, lower case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        ) from None
    return user, password


async def _users(args: argparse.Namespace) -> int:
    from services.console.repository import UserExists, UserRepository
    from shared.contracts.base import utcnow
    from shared.settings import ConnectionSettings
    from shared.store import Store
    from shared.taxonomy import cached_taxonomy

    settings = ConnectionSettings()
    store = Store.from_settings(settings, app_name="cityline-cli")
    repo = UserRepository(store)
    try:
        if args.action == "add":
            taxonomy = cached_taxonomy(settings.taxonomy_path)
            user, password = new_user(args.name, args.role, args.department, taxonomy.department_codes())
            try:
                await repo.add(user)
            except UserExists as error:
                raise UserError(str(error)) from None
            console.print(f"user [bold]{user.name}[/bold] ({user.role}) created; one-time password, shown only now:")
            sys.stdout.write(password + "\n")
            console.print("It must be changed at the first sign-in.")
            return 0
        if args.action == "list":
            found = await repo.list()
            if args.json:
                for user in found:
                    sys.stdout.write(user.model_dump_json(exclude={"password_hash"}) + "\n")
                return 0
            console.print(_table(found))
            return 0
        user = await repo.disable(args.name, utcnow())
        if user is None:
            raise UserError(f"no user {args.name!r}")
        console.print(f"user [bold]{user.name}[/bold] disabled at {user.disabled_at:%Y-%m-%d %H:%M:%S} UTC")
        return 0
    finally:
        await store.close()


def _table(users: list[Any]) -> Table:
    table = Table(title=f"console users ({len(users)})")
    table.add_column("name", no_wrap=True)
    for column in ("role", "department", "password", "created (UTC)", "disabled (UTC)"):
        table.add_column(column, overflow="fold")
    for user in users:
        table.add_row(
            user.name,
            user.role,
            user.department or "",
            "one-time" if user.must_change_password else "own",
            f"{user.created_at:%Y-%m-%d %H:%M}",
            f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "",
        )
    return table
