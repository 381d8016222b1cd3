"""The system as a user runs it: `cityline up`, then `cityline submit` and `cityline status` in another shell."""

import asyncio
import json
import os
import signal
import subprocess
import time

import pytest

from cityline.stack import port_open
from tests.e2e.harness import CITYLINE, RunningStack

pytestmark = pytest.mark.e2e


def test_submit_shows_registered_classified_assigned_and_notification_within_5_seconds(running):
    banner = running.up()
    assert f"127.0.0.1:{running.ports['broker']}" in banner
    assert f"http://127.0.0.1:{running.ports['intake']}/metrics" in banner

    submitted = running.cli(
        "submit", "Третій день немає гарячої води, Оболонь", "--channel", "web", "--phone", "0441234567", "-q"
    )
    appeal_id = submitted.stdout.strip()
    assert appeal_id.isdigit(), submitted.stdout

    deadline = time.monotonic() + 5
    view = {}
    while time.monotonic() < deadline:
        view = json.loads(running.cli("status", appeal_id, "--json").stdout)
        if view["status"] == "assigned" and view["notifications"]:
            break
        time.sleep(0.1)
    assert view["status"] == "assigned", view
    assert [entry["status"] for entry in view["history"]] == ["registered", "classified", "assigned"]
    assert view["classification"]["category"] == "hot_water"
    assert view["assignment"]["department"] == "kyivteploenergo"
    assert {notice["kind"] for notice in view["notifications"]} >= {"registered"}
    assert all(notice["transport"] == "sms" for notice in view["notifications"])

    # The resident's SMS, as the local gateway received it: one file per message under the run folder's outbox.
    def delivered() -> list[dict]:
        files = sorted((running.run_dir / "outbox" / "sms").glob("*.json"))
        return [json.loads(path.read_text())["payload"] for path in files]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(delivered()) < 2:
        time.sleep(0.1)
    messages = {message["reference"].split(":")[1]: message for message in delivered()}
    assert set(messages) == {"registered", "assigned"}, messages
    assert {message["to"] for message in messages.values()} == {"+380441234567"}
    assert f"№ {appeal_id} зареєстровано" in messages["registered"]["text"]
    assert "Київтеплоенерго" in messages["assigned"]["text"]
    view = json.loads(running.cli("status", appeal_id, "--json").stdout)
    assert {(notice["kind"], notice["state"]) for notice in view["notifications"]} == {
        ("registered", "sent"),
        ("assigned", "sent"),
    }
    assert all(notice["sent_at"] and "recipient" not in notice for notice in view["notifications"])

    human = running.cli("status", appeal_id)
    assert "assigned" in human.stdout and "Київтеплоенерго" in human.stdout

    assert running.interrupt() == 0
    assert not any(port_open(port) for port in running.ports.values())
    assert not list((running.run_dir / "pids").glob("*.pid"))


def test_bad_input_is_refused_with_a_clear_error(running):
    running.up()
    empty = running.cli("submit", "   ", "--channel", "web", check=False)
    assert empty.returncode == 2 and "text" in empty.stderr
    unknown = running.cli("submit", "Яма на дорозі", "--channel", "pigeon", check=False)
    assert unknown.returncode == 2 and "unknown channel 'pigeon'" in unknown.stderr
    missing = running.cli("status", "9999999", check=False)
    assert missing.returncode == 1 and "no appeal 9999999" in missing.stderr

    # A channel that publishes garbage to Kafka directly: the operator sees it parked, with the reason.
    asyncio.run(_publish_raw(running.client_env["KAFKA_BOOTSTRAP_SERVERS"], b"{broken", b"garbage-1"))
    deadline, parked = time.monotonic() + 20, []
    while time.monotonic() < deadline and not parked:
        listing = running.cli("dlq", "list", "appeals.intake", "--json").stdout
        parked = [json.loads(line) for line in listing.splitlines() if '"garbage-1"' in line]
    assert parked and parked[0]["reason"] == "invalid-json"
    assert parked[0]["origin"].startswith("appeals.intake/")


async def _publish_raw(bootstrap: str, value: bytes, key: bytes) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("appeals.intake", value, key=key, headers=[("x-cityline-channel", b"web")])
    finally:
        await producer.stop()


def test_a_crashed_run_does_not_block_the_next(running):
    running.up()
    running.crash()  # the supervisor dies; its broker, store and services live on as orphans
    assert port_open(running.ports["broker"])
    running.up()  # finds them by their pid files, stops them, and starts afresh
    result = running.cli("submit", "Не працює ліфт", "--channel", "phone", "-q")
    assert result.stdout.strip().isdigit()
    assert running.interrupt() == 0
    assert not any(port_open(port) for port in running.ports.values())


def test_a_second_up_on_a_running_stack_is_refused_and_harms_nothing(running):
    running.up()
    second = subprocess.run([*CITYLINE, "up"], env=running.env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert "already running" in second.stderr + second.stdout
    # The first one is untouched and still serves.
    result = running.cli("submit", "Не працює ліфт", "--channel", "phone", "-q")
    assert result.stdout.strip().isdigit()


def kill_and_await_restart(running: RunningStack, process: str, port: str, timeout: float = 60) -> None:
    """Kill one of the stack's processes as a crash would, and wait until `cityline up` has it serving again."""
    pid_file = running.run_dir / "pids" / f"{process}.pid"
    old_pid = int(pid_file.read_text())
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new_pid = pid_file.read_text().strip() if pid_file.exists() else ""
        if new_pid and int(new_pid) != old_pid and port_open(running.ports[port]):
            return
        time.sleep(0.2)
    raise AssertionError(f"{process} was not restarted")


def test_a_crashed_store_is_restarted_with_its_data(running):
    running.up()
    first = running.cli("submit", "Не працює ліфт, третій день стоїть", "--channel", "web", "-q").stdout.strip()
    kill_and_await_restart(running, "secantusdb", "store")
    # What was stored before the crash is still there, and new appeals go through.
    assert json.loads(running.cli("status", first, "--json").stdout)["appeal_id"] == first
    second = running.cli("submit", "Яма на дорозі, пробив колесо", "--channel", "web", "-q", "--wait", "30")
    assert second.stdout.strip().isdigit()


def test_a_crashed_broker_comes_back_empty_and_appeals_flow_again(running):
    running.up()
    kill_and_await_restart(running, "tansu", "broker")
    appeal_id = running.cli("submit", "Яма на дорозі, пробив колесо", "--channel", "web", "-q", "--wait", "60")
    appeal_id = appeal_id.stdout.strip()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if json.loads(running.cli("status", appeal_id, "--json").stdout)["status"] == "assigned":
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the appeal did not reach assigned after the broker came back")
