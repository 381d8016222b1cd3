"""`cityline submit`: an appeal published to appeals.intake as a channel would, and its number once registered."""

import argparse
import asyncio
import time
import uuid
from typing import Any

from pydantic import ValidationError

from cityline.output import UserError, console, errors
from shared.channels import load_channels
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.contracts.intake import Address, AppealSubmitted, SubmittedContact
from shared.errors import describe_issues
from shared.settings import ConnectionSettings
from shared.store import Store


def add_parser(commands: Any) -> None:
    submit = commands.add_parser("submit", help="submit an appeal through appeals.intake and print its number")
    submit.add_argument("text", help="the appeal as the resident said it")
    submit.add_argument("--channel", required=True, help="registered channel code: phone, web, mobile, …")
    submit.add_argument("--phone")
    submit.add_argument("--email")
    submit.add_argument("--address", help="street address in Kyiv")
    submit.add_argument("--district", help="district code, if known")
    submit.add_argument("--language", default="uk", choices=["uk", "ru", "en"])
    submit.add_argument("--no-notifications", action="store_true", help="the resident asked not to be contacted")
    submit.add_argument("--external-id", help="the channel's own id (the same id gives the same appeal)")
    submit.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the appeal number")
    submit.add_argument("--quiet", "-q", action="store_true", help="print only the number")
    submit.set_defaults(func=cmd_submit)


def build_submission(args: argparse.Namespace) -> AppealSubmitted:
    channels = load_channels()
    if args.channel not in channels.channels:
        known = ", ".join(sorted(channels.channels))
        raise UserError(f"unknown channel {args.channel!r}; registered channels: {known}")
    try:
        contact = None
        if args.phone or args.email or args.no_notifications:
            contact = SubmittedContact(
                phone=args.phone, email=args.email, language=args.language, notifications=not args.no_notifications
            )
        address = Address(text=args.address, district=args.district) if (args.address or args.district) else None
        return AppealSubmitted(
            channel=args.channel,
            external_id=args.external_id or uuid.uuid4().hex,
            text=args.text,
            contact=contact,
            address=address,
            received_at=utcnow(),
        )
    except ValidationError as error:
        raise UserError(describe_issues(error.errors())) from None


async def publish_submission(bootstrap: str, submission: AppealSubmitted) -> None:
    headers = [("content-type", b"application/json"), ("x-cityline-channel", submission.channel.encode())]
    await publish_record(
        bootstrap,
        topics.APPEALS_INTAKE,
        submission.model_dump_json().encode(),
        submission.intake_key().encode(),
        headers,
    )


async def publish_record(
    bootstrap: str, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]] | None = None
) -> None:
    """One record, acknowledged; a broker that cannot be reached is the user's to fix (UserError)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(producer.start(), timeout=10)
    except (KafkaError, OSError, TimeoutError) as error:
        await producer.stop()
        raise UserError(f"cannot reach the broker at {bootstrap} ({error}): is `make run` running?") from None
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers or [("content-type", b"application/json")])
    finally:
        await producer.stop()


async def _submit(args: argparse.Namespace) -> int:
    submission = build_submission(args)
    connection = ConnectionSettings()
    await publish_submission(connection.kafka_bootstrap_servers, submission)
    store = Store.from_settings(connection, app_name="cityline-cli")
    try:
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            appeal_id = await store.appeal_id_for(submission.intake_key())
            if appeal_id:
                console.print(appeal_id) if args.quiet else console.print(
                    f"Appeal registered: [bold]{appeal_id}[/bold]"
                )
                return 0
            await asyncio.sleep(0.05)
    finally:
        await store.close()
    errors.print(
        f"submitted (key {submission.intake_key()}), but intake did not register it within {args.wait:g} s: "
        "is the intake service running?"
    )
    return 1


def cmd_submit(args: argparse.Namespace) -> int:
    return asyncio.run(_submit(args))
