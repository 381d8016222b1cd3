"""`cityline up`: the embedded broker and store and the four services, until Ctrl-C."""

import argparse
import logging
import signal
import time
from typing import Any

from rich.table import Table

from cityline.output import console, errors
from shared.settings import ConnectionSettings, StackSettings


def add_parser(commands: Any) -> None:
    up = commands.add_parser("up", help="start the embedded broker and store and the four services")
    up.add_argument("--no-services", action="store_true", help="start only the broker and the store")
    up.add_argument("--prometheus", action="store_true", help="also run Prometheus with CityLine's rules (docs/sre.md)")
    up.set_defaults(func=cmd_up)


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
