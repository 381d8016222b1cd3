"""`cityline`: run the embedded stack, submit an appeal, look at one, measure the pipeline."""

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shared.channels import load_channels
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.contracts.intake import Address, AppealSubmitted, SubmittedContact
from shared.settings import ConnectionSettings, StackSettings
from shared.store import Store

console = Console()
errors = Console(stderr=True)


class UserError(Exception):
    """Something the user can fix; printed without a traceback, exit code 2."""


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'input'}: {issue['msg']}" for issue in error.errors()
    )


# ---- up ------------------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from cityline.prometheus import add_prometheus
    from cityline.stack import EmbeddedStack, StackError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    connection = ConnectionSettings()
    given_kafka = _given("KAFKA_BOOTSTRAP_SERVERS")
    given_mongo = _given("MONGODB_URI")
    stack = EmbeddedStack(
        StackSettings(),
        kafka_bootstrap_servers=given_kafka,
        mongodb_uri=given_mongo,
        database=connection.mongodb_database,
    )

    def stop_on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell that starts `cityline up` in the background leaves SIGINT ignored, and Python keeps that.
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    try:
        console.print(f"[bold]Starting CityLine[/bold] (run folder: {stack.run_dir})")
        stack.start(with_services=not args.no_services)
        if args.prometheus:
            console.print(f"Prometheus, scraping the services with CityLine's rules: {add_prometheus(stack)}")
        _print_endpoints(stack, given_kafka, given_mongo, args.no_services)
        while True:
            time.sleep(1)
            for name in stack.restart_crashed():
                errors.print(f"[yellow]{name} had stopped; restarted it (log: {stack.run_dir}/logs/{name}.log)")
    except StackError as error:
        errors.print(f"[red]error:[/red] {error}")
        return 1
    except KeyboardInterrupt:
        console.print("\nStopping CityLine…")
    finally:
        stack.stop()
    console.print("Stopped.")
    return 0


def _given(variable: str) -> str | None:
    import os

    return os.environ.get(variable) or None


def _print_endpoints(stack: Any, given_kafka: str | None, given_mongo: str | None, no_services: bool) -> None:
    table = Table(title="CityLine is running — Ctrl-C stops everything")
    table.add_column("part")
    table.add_column("where")
    table.add_row("broker (Kafka protocol)", stack.bootstrap + ("" if given_kafka else "  (embedded Tansu)"))
    table.add_row("store (MongoDB protocol)", stack.store_uri + ("" if given_mongo else "  (embedded SecantusDB)"))
    if not no_services:
        for service in ("intake", "classifier", "dispatcher", "notifier"):
            base = f"http://127.0.0.1:{stack.service_port(service)}"
            table.add_row(f"{service}", f"{base}/health   {base}/metrics   {base}/asyncapi")
        from cityline.console_setup import sign_in_hint

        table.add_row("console (operators' screens)", f"http://127.0.0.1:{stack.service_port('console')}/")
        table.add_row("console sign-in", sign_in_hint(stack.run_dir))
    table.add_row("logs", str(stack.run_dir / "logs"))
    given_token = "$CITYLINE_STAFF_TOKEN (given)" if _given("CITYLINE_STAFF_TOKEN") else None
    table.add_row("staff token", given_token or str(stack.staff_token_file))
    table.add_row("residents' messages (SMS, e-mail, app webhooks)", f"{stack.outbox}/{{sms,mail,webhook}}")
    console.print(table)
    console.print('Try: [bold]cityline submit "Немає гарячої води" --channel web[/bold] in another shell.')


# ---- submit --------------------------------------------------------------------------------------


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
        raise UserError(_validation_message(error)) from None


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


# ---- status --------------------------------------------------------------------------------------


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


# ---- bench ---------------------------------------------------------------------------------------


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


# ---- dlq -----------------------------------------------------------------------------------------


def cmd_dlq(args: argparse.Namespace) -> int:
    from cityline.dlq import as_json_lines, list_parked, replay

    bootstrap = ConnectionSettings().kafka_bootstrap_servers
    if args.action == "list":
        parked = asyncio.run(list_parked(bootstrap, args.topic, args.limit))
        if args.json:
            sys.stdout.write(as_json_lines(parked) + ("\n" if parked else ""))
            return 0
        table = Table(title=f"parked messages ({len(parked)})")
        for column in ("dlq", "origin", "reason", "error", "key", "body"):
            table.add_column(column, overflow="fold")
        for item in parked:
            table.add_row(*item.summary().values())
        console.print(table)
        return 0
    if not args.topic:
        raise UserError("replay needs the topic whose dead letters to send back, e.g. appeals.intake")
    if args.topic == "notifications":
        raise UserError("failed notices are sent again with `cityline notify resend`, not replayed")
    replayed, left = asyncio.run(replay(bootstrap, args.topic, args.reason, args.dry_run))
    verb = "would replay" if args.dry_run else "replayed"
    console.print(f"{verb} {replayed} to {args.topic}; {left} of other reasons left")
    return 0


# ---- asyncapi ------------------------------------------------------------------------------------


def asyncapi_documents() -> dict[str, dict]:
    """Each service's AsyncAPI 3.0 document, generated from its FastStream app with the default settings."""
    from services.classifier.main import create_app as classifier
    from services.classifier.settings import ClassifierSettings
    from services.dispatcher.main import create_app as dispatcher
    from services.dispatcher.settings import DispatcherSettings
    from services.intake.main import create_app as intake
    from services.intake.settings import IntakeSettings
    from services.notifier.main import create_app as notifier
    from services.notifier.settings import NotifierSettings
    from shared.settings import EMBEDDED_KAFKA

    # The documents describe the events only: no staff token is needed to build the apps for them.
    apps = {
        "intake": intake(IntakeSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA, profile="development")),
        "classifier": classifier(ClassifierSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA, profile="development")),
        "dispatcher": dispatcher(DispatcherSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA, profile="development")),
        "notifier": notifier(NotifierSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA)),
    }
    return {name: app.schema.to_specification().to_jsonable() for name, app in apps.items()}


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, document in asyncapi_documents().items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        console.print(f"wrote {path}")
    return 0


# ---- main ----------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cityline", description="CityLine: routes residents' appeals.")
    commands = root.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start the embedded broker and store and the four services")
    up.add_argument("--no-services", action="store_true", help="start only the broker and the store")
    up.add_argument("--prometheus", action="store_true", help="also run Prometheus with CityLine's rules (docs/sre.md)")
    up.set_defaults(func=cmd_up)

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

    status = commands.add_parser("status", help="status, history, classification, assignment, notifications")
    status.add_argument("appeal_id")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

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

    dlq = commands.add_parser("dlq", help="list what the services parked, or send it back once the cause is fixed")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("topic", nargs="?", help="the original topic, e.g. appeals.intake (list: all when omitted)")
    dlq.add_argument("--reason", help="replay only records parked for this reason, e.g. transient-exhausted")
    dlq.add_argument("--limit", type=int, default=50, help="list: at most this many, the newest")
    dlq.add_argument("--json", action="store_true", help="list: one JSON object per line")
    dlq.add_argument("--dry-run", action="store_true", help="replay: count, send nothing")
    dlq.set_defaults(func=cmd_dlq)

    asyncapi = commands.add_parser("asyncapi", help="write each service's AsyncAPI document (the event contract)")
    asyncapi.add_argument("--out", default="docs/asyncapi", help="folder for <service>.json")
    asyncapi.set_defaults(func=cmd_asyncapi)

    # Commands that live in their own modules; imported here so `cityline --help` lists them all.
    from cityline.channels import add_parser as add_channels_parser
    from cityline.classify import add_parser as add_classify_parser
    from cityline.departments import add_parser as add_department_parser
    from cityline.notify import add_notify_command
    from cityline.prometheus import add_parser as add_prometheus_parser
    from cityline.report import add_parser as add_report_parser
    from cityline.topics import add_parser as add_topics_parser
    from cityline.users import add_parser as add_users_parser

    add_channels_parser(commands)
    add_classify_parser(commands)
    add_notify_command(commands)
    add_topics_parser(commands)
    add_prometheus_parser(commands)
    add_users_parser(commands)
    add_report_parser(commands)
    add_department_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as error:
        errors.print(f"[red]error:[/red] {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
