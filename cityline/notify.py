"""`cityline notify resend`: send again the notices that failed, once the cause is fixed (a gateway's token, a
refused sender, an outage longer than the retries). They go back to `pending`, due now; the notifier's delivery job
sends them with a fresh round of retries. Sent and skipped notices are never touched, so nothing goes out twice.

(A failed notice is also in `notifications.dlq` for the record; `cityline dlq list notifications` shows them.)
"""

import argparse
import asyncio
from datetime import datetime
from typing import Any

from cityline.output import console
from shared.contracts.base import utcnow
from shared.settings import ConnectionSettings
from shared.store import NOTIFICATIONS, Store


def failed_filter(appeal_id: str | None, reason: str | None) -> dict[str, Any]:
    selector: dict[str, Any] = {"state": "failed"}
    if appeal_id:
        selector["appeal_id"] = appeal_id
    if reason:
        selector["reason"] = reason
    return selector


def resend_update(now: datetime) -> dict[str, Any]:
    return {
        "$set": {"state": "pending", "attempts": 0, "next_attempt_at": now, "reason": "resend-requested", "detail": ""},
        "$unset": {"failed_at": ""},
        "$push": {"resent_at": now},
    }


async def resend_failed(store: Store, appeal_id: str | None, reason: str | None, dry_run: bool) -> int:
    collection = store.db[NOTIFICATIONS]
    selector = failed_filter(appeal_id, reason)
    if dry_run:
        return await collection.count_documents(selector)
    result = await collection.update_many(selector, resend_update(utcnow()))
    return result.modified_count


def cmd_notify(args: argparse.Namespace) -> int:
    async def run() -> int:
        store = Store.from_settings(ConnectionSettings(), app_name="cityline-cli")
        try:
            return await resend_failed(store, args.appeal, args.reason, args.dry_run)
        finally:
            await store.close()

    count = asyncio.run(run())
    console.print(f"{'would resend' if args.dry_run else 'resending'} {count} failed notice(s)")
    return 0


def add_parser(commands: Any) -> None:
    notify = commands.add_parser("notify", help="send failed notices to residents again, once the cause is fixed")
    notify.add_argument("action", choices=["resend"])
    notify.add_argument("--appeal", help="only this appeal's failed notices")
    notify.add_argument("--reason", help="only notices that failed for this reason, e.g. http-401, retries-exhausted")
    notify.add_argument("--dry-run", action="store_true", help="count, change nothing")
    notify.set_defaults(func=cmd_notify)
