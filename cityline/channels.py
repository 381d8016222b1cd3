"""`cityline channels add|list|revoke`: the channels that may write appeals, and their API keys."""

import argparse
import asyncio
import sys
from typing import Any

from rich.table import Table

from cityline.output import UserError, console, errors
from shared.channel_keys import (
    DEFAULT_RATE_PER_MINUTE,
    ChannelExists,
    ChannelRecord,
    ChannelRegistry,
    checked_webhook_url,
    ensure_channel_indexes,
)
from shared.channels import load_channels
from shared.contracts.base import utcnow
from shared.settings import ConnectionSettings
from shared.store import Store


def add_parser(commands: Any) -> None:
    channels = commands.add_parser("channels", help="add, list or revoke the channels that may submit appeals")
    actions = channels.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a channel and print its API key (shown this once)")
    add.add_argument("name", help="the channel's name, stamped on its appeals: lower case, digits, _")
    add.add_argument("--kind", help="its kind in shared/data/channels.yaml (default: the name, if it is a kind)")
    add.add_argument(
        "--rate-limit", type=int, default=DEFAULT_RATE_PER_MINUTE, help="requests a minute (and the burst)"
    )
    add.add_argument(
        "--webhook",
        metavar="URL",
        help="the app's callback for residents' notices (http or https); signed with a secret printed once",
    )
    listing = actions.add_parser("list", help="the channels, active and revoked (never their keys)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = actions.add_parser("revoke", help="revoke a channel's key at once; its appeals stay")
    revoke.add_argument("name")
    channels.set_defaults(func=cmd_channels)


def cmd_channels(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_channels(args))
    except UserError as error:
        errors.print(f"[red]error:[/red] {error}")
        return 2


async def _channels(args: argparse.Namespace) -> int:
    store = Store.from_settings(ConnectionSettings(), app_name="cityline-cli")
    registry = ChannelRegistry(store)
    try:
        await ensure_channel_indexes(store)
        if args.action == "add":
            kinds = load_channels().channels
            kind = args.kind or (args.name if args.name in kinds else None)
            if kind is None:
                raise UserError(f"{args.name!r} is not a channel kind; give --kind, one of: {', '.join(sorted(kinds))}")
            if kind not in kinds:
                raise UserError(f"unknown kind {kind!r}; kinds: {', '.join(sorted(kinds))}")
            if args.rate_limit < 1:
                raise UserError("--rate-limit must be at least 1 request a minute")
            if args.webhook is not None:
                try:
                    checked_webhook_url(args.webhook)
                except ValueError as error:
                    raise UserError(f"--webhook: {error}") from None
            try:
                record, key = await registry.add(args.name, kind, utcnow(), args.rate_limit)
            except ChannelExists as error:
                raise UserError(str(error)) from None
            except ValueError as error:
                raise UserError(f"channel name {args.name!r}: lower case letters, digits and _ ({error})") from None
            console.print(f"channel [bold]{record.name}[/bold] ({record.kind}) created; its API key, shown only now:")
            sys.stdout.write(key + "\n")
            if args.webhook is not None:
                secret = await registry.set_webhook(record.name, args.webhook)
                console.print(
                    f"notices for its residents go to {args.webhook}, signed X-CityLine-Signature: sha256=HMAC-SHA256 "
                    "of the body with this secret, shown only now:"
                )
                sys.stdout.write(secret + "\n")
            return 0
        if args.action == "list":
            records = await registry.list()
            if args.json:
                for record in records:
                    sys.stdout.write(record.model_dump_json() + "\n")
                return 0
            console.print(_table(records))
            return 0
        record = await registry.revoke(args.name, utcnow())
        if record is None:
            raise UserError(f"no channel {args.name!r}")
        console.print(f"channel [bold]{record.name}[/bold]: key revoked at {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
        return 0
    finally:
        await store.close()


def _table(records: list[ChannelRecord]) -> Table:
    table = Table(title=f"channels ({len(records)})")
    # Names and key prefixes are what operators type next: never cut, whatever the terminal's width.
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("key prefix", no_wrap=True)
    for column in ("per minute", "webhook", "created (UTC)", "revoked (UTC)"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            record.name,
            record.kind,
            f"cl_{record.key_prefix}_…",
            str(record.rate_per_minute),
            record.webhook_url or "",
            f"{record.created_at:%Y-%m-%d %H:%M}",
            f"{record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "",
        )
    return table
