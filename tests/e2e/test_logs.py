"""`cityline up --prometheus` as a user runs it, and every log of that run: JSON lines that carry the appeal's ids,
and never a resident's phone number or e-mail address in full, not even inside a refused record or a mail server's
answer."""

import asyncio
import json
import time
import uuid

import httpx
import pytest

from cityline.stack import free_port
from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from tests.integration.helpers import publish, submission

pytestmark = pytest.mark.e2e

SERVICE_LOGS = ("intake", "classifier", "dispatcher", "notifier")
# Each contact as it is given, and the forms the system turns it into (E.164, digits only).
PHONE = ("067 123 45 01", "+380671234501", "380671234501", "0671234501")
EMAIL = "olena.kovalenko@example.com"
REFUSED_EMAIL = "no-such-mykola.petrenko@example.com"
# Too long to be a phone number: refused at intake, so the parked record's error quotes it.
BAD_PHONE = "+380671234501999"


def wait_for(what: str, probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def log_lines(running, service: str) -> list[dict]:
    return [json.loads(line) for line in (running.run_dir / "logs" / f"{service}.log").read_text().splitlines() if line]


def test_up_with_prometheus_and_logs_that_are_json_with_ids_and_never_show_a_contact_in_full(running):
    running.env["CITYLINE_PROMETHEUS_PORT"] = str(prometheus_port := free_port())
    banner = running.up("--prometheus")
    # `--prometheus`: Prometheus beside the stack, its address printed, CityLine's rules loaded, every service scraped.
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    assert prometheus in banner
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert "CityLineServiceDown" in {rule["name"] for group in groups for rule in group["rules"]}
    wait_for(
        "every service scraped",
        lambda: (
            len(
                httpx.get(
                    f"{prometheus}/api/v1/query", params={"query": 'up{system="cityline"} == 1'}, timeout=10
                ).json()["data"]["result"]
            )
            == 4
        ),
    )
    running.cli("submit", "Третій день немає гарячої води", "--channel", "web", "--phone", PHONE[0], "-q")
    running.cli("submit", "Яма на дорозі біля зупинки", "--channel", "phone", "--email", EMAIL, "-q")
    refused_id = running.cli(
        "submit", "Не працює ліфт у під'їзді", "--channel", "web", "--email", REFUSED_EMAIL, "-q"
    ).stdout.strip()
    correlation = f"logs-{uuid.uuid4().hex[:8]}"
    bad = submission("Батареї холодні", contact={"phone": BAD_PHONE, "email": EMAIL}, correlation_id=correlation)
    asyncio.run(
        publish(
            running.client_env["KAFKA_BOOTSTRAP_SERVERS"],
            topics.APPEALS_INTAKE,
            [bad],
            headers=[(CHANNEL_HEADER, b"web")],
        )
    )

    def notice_failed():
        view = json.loads(running.cli("status", refused_id, "--json").stdout)
        return any(notice["state"] == "failed" for notice in view["notifications"])

    wait_for("the refused e-mail notice failed", notice_failed)
    parked = wait_for(
        "the refused record parked and logged",
        lambda: [line for line in log_lines(running, "intake") if line["message"].startswith("parked appeals.intake")],
    )
    failed = wait_for(
        "the failed notice logged",
        lambda: [line for line in log_lines(running, "notifier") if line["message"].startswith("notice ")],
    )
    assert running.interrupt() == 0

    # One line about one record carries the ids to follow it by.
    assert parked[-1]["event_id"] == bad["event_id"] and parked[-1]["correlation_id"] == correlation
    assert failed[-1]["appeal_id"] == refused_id
    assert failed[-1]["event_id"] and failed[-1]["correlation_id"]
    # Every service writes JSON lines with the same fields.
    for service in SERVICE_LOGS:
        lines = log_lines(running, service)
        assert lines, service
        fields = {"time", "level", "logger", "message"}
        assert all(fields <= line.keys() and line["service"] == service for line in lines), service
    # No contact in full, in any log of the run: services, broker, store, sinks.
    logs = sorted((running.run_dir / "logs").glob("*.log"))
    assert {path.stem for path in logs} >= set(SERVICE_LOGS)
    for path in logs:
        text = path.read_text(errors="replace")
        for contact in (*PHONE, BAD_PHONE, EMAIL, REFUSED_EMAIL):
            assert contact not in text, f"{contact} in {path.name}"
