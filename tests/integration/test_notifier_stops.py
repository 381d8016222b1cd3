"""Two notifier processes on the real broker and store, delivering to the embedded SMS sink, with the shipped lease
settings (6 s, renewed every 1.5 s while sending; 5 s grace on SIGTERM). One of them is broken for real:

- kill -9 while the gateway holds its request (the gateway takes the messages, the sender never records them): the
  other takes the batch over within seconds, and the gateway, which knows each message's reference, sends each once;
- SIGTERM under a burst while the gateway hangs longer than the grace period: the stopping notifier releases what it
  could not finish, so nothing waits for a lease, and every notice of the burst is delivered once.

Each test logs what it measured (run with `-o log_cli=true --log-cli-level=WARNING` to see it)."""

import asyncio
import json
import logging
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from cityline.stack import free_port
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.store import NOTIFICATION_DELIVERIES
from tests.integration.helpers import store_client, wait_until
from tests.integration.test_notifier import (
    control_sms_sink,
    managed_process,
    new_appeal_id,
    notices_of,
    outbox,
    status_changed,
)

# Each test starts two notifier processes and waits for them to join: on a busy machine that alone can take minutes.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
logger = logging.getLogger(__name__)

# The session's stack shortens the notifier's lease and timeouts for its other tests; these run with the defaults.
SHORTENED_FOR_OTHER_TESTS = (
    "CITYLINE_NOTIFIER_DELIVERY_LEASE_S",
    "CITYLINE_NOTIFIER_HTTP_TIMEOUT_S",
    "CITYLINE_NOTIFIER_SMTP_TIMEOUT_S",
)


@dataclass
class Notifier:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def owner(self) -> str:
        """How its delivery batches name it."""
        return f"{socket.gethostname()}:{self.process.pid}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    async def exited(self, timeout: float) -> int:
        return await asyncio.to_thread(self.process.wait, timeout)


def start_notifier(env: dict[str, str], log: Path) -> Notifier:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.notifier"],
            env={**env, "CITYLINE_NOTIFIER_HTTP_PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Notifier(process, port, log)


@pytest.fixture
async def notifiers(pipeline, tmp_path) -> AsyncIterator[list[Notifier]]:
    """Two notifiers in the service's group, in place of the session's one (restarted afterwards)."""
    session_notifier = managed_process(pipeline, "notifier")
    session_notifier.stop()
    env = {key: value for key, value in pipeline.environment().items() if key not in SHORTENED_FOR_OTHER_TESTS}
    started: list[Notifier] = []
    try:
        started += [start_notifier(env, tmp_path / f"notifier-{index}.log") for index in range(2)]

        async def both_consuming():
            return all(await asyncio.gather(*(asyncio.to_thread(n.ready) for n in started)))

        # Generous: on a busy shared machine a Python service can take a minute to import and join.
        await wait_until(both_consuming, timeout=240, interval=0.5)
        yield started
    finally:
        for notifier in started:
            if notifier.process.poll() is None:
                notifier.process.terminate()
                await notifier.exited(30)
        session_notifier.start()

        async def session_notifier_back():
            return pipeline.service_ready("notifier")

        await wait_until(session_notifier_back, timeout=240, interval=0.5)


def residents(count: int) -> list[tuple[str, dict[str, Any]]]:
    return [(new_appeal_id(), {"phone": f"+38067{5000000 + index:07d}", "language": "uk"}) for index in range(count)]


async def publish_burst(pipeline, appeals: list[tuple[str, dict]], key: bytes | None = None) -> None:
    """Each appeal's outcome at once (keyed by appeal, so spread over the partitions, unless one key is given)."""
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap)
    await producer.start()
    try:
        sends = [
            await producer.send(
                topics.APPEALS_STATUS,
                json.dumps(status_changed(appeal_id, "resolved", contact, "web"), ensure_ascii=False).encode(),
                key=key or appeal_id.encode(),
            )
            for appeal_id, contact in appeals
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def sink_holding(pipeline) -> int:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{pipeline.settings.sms_sink_port}/health")
    return response.json()["holding"]


async def batches_of(pipeline, owner: str) -> list[dict]:
    client = store_client(pipeline.store_uri)
    try:
        return await client[pipeline.database][NOTIFICATION_DELIVERIES].find({"owner": owner}, {"keys": 0}).to_list()
    finally:
        await client.close()


def repeats_of(pipeline, appeal_ids: list[str]) -> Counter:
    """How many times the gateway was sent a message again after taking it (per notice key)."""
    keys = {f"{appeal_id}:resolved" for appeal_id in appeal_ids}
    found = (
        json.loads(path.read_text())["payload"]["reference"]
        for path in (pipeline.outbox / "sms-repeats").glob("*.json")
    )
    return Counter(key for key in found if key in keys)


def messages_per_notice(pipeline, appeal_ids: list[str]) -> Counter:
    """How many messages the residents got, per notice key (the outbox read once)."""
    keys = {f"{appeal_id}:resolved" for appeal_id in appeal_ids}
    return Counter(message["key"] for message in outbox(pipeline) if message["key"] in keys)


async def delivery_state(pipeline, appeal_ids: list[str]) -> dict[str, Any]:
    """What a failed wait reports: notices by state and attempts, messages per notice, repeats at the gateway."""
    notices = await notices_of(pipeline, appeal_ids)
    received = messages_per_notice(pipeline, appeal_ids)
    return {
        "notices": Counter((n["state"], n["attempts"], n.get("reason", "")) for n in notices),
        "messages": Counter(received[f"{appeal_id}:resolved"] for appeal_id in appeal_ids),
        "repeats": sum(repeats_of(pipeline, appeal_ids).values()),
    }


async def wait_delivered(pipeline, appeal_ids: list[str], condition, timeout: float) -> None:
    try:
        await wait_until(condition, timeout=timeout, interval=0.2)
    except AssertionError as failure:
        raise AssertionError(f"{failure}; {await delivery_state(pipeline, appeal_ids)}") from None


async def all_sent_once(pipeline, appeal_ids: list[str]) -> bool:
    received = messages_per_notice(pipeline, appeal_ids)
    if any(received[f"{appeal_id}:resolved"] != 1 for appeal_id in appeal_ids):
        return False
    notices = await notices_of(pipeline, appeal_ids)
    return len(notices) == len(appeal_ids) and all(n["state"] == "sent" for n in notices)


async def test_a_notifier_killed_between_send_and_record_is_taken_over_within_seconds_and_sends_each_sms_once(
    pipeline, notifiers, record_property
):
    appeals = residents(20)
    appeal_ids = [appeal_id for appeal_id, _ in appeals]
    # The gateway takes the messages but answers only 8 s later: the sender is killed in between, after the send and
    # before it could record the outcome.
    takeovers_before = {n.port: await takeovers_counted(n) for n in notifiers}
    await control_sms_sink(pipeline, None, delay_s=8)
    try:
        # One key: one partition, so one of the two notifiers holds all of them.
        await publish_burst(pipeline, appeals, key=f"kill-{appeal_ids[0]}".encode())

        async def at_the_gateway():
            notices = await notices_of(pipeline, appeal_ids)
            if len(notices) < len(appeal_ids) or not all("delivery" in n for n in notices):
                return None
            holder = {n["delivery"] for n in notices}
            return await sink_holding(pipeline) >= len(holder) and holder

        held = await wait_until(at_the_gateway, timeout=60)
        victims = [n for n in notifiers if {b["_id"] for b in await batches_of(pipeline, n.owner)} >= held]
        assert len(victims) == 1, "one notifier holds the batch"
        [victim] = victims
        [survivor] = [n for n in notifiers if n is not victim]
        victim.process.kill()
        killed_at = utcnow()
        await victim.exited(10)
    finally:
        await control_sms_sink(pipeline, None, delay_s=0)
    # Killed between send and record: its batches are open, none of their notices recorded as sent.
    assert [("lease_until" in b, b.get("sent")) for b in await batches_of(pipeline, victim.owner)] == [
        (True, None)
    ] * len(held)

    async def taken_over_and_sent():
        return await all_sent_once(pipeline, appeal_ids) and sum(repeats_of(pipeline, appeal_ids).values()) >= 20

    # The bound: the notice is out within 15 s of the crash (with the 6 s lease, about 6-8 s).
    await wait_delivered(pipeline, appeal_ids, taken_over_and_sent, timeout=15)
    notices = await notices_of(pipeline, appeal_ids)
    taken_over_s = (min(n["attempted_at"] for n in notices) - killed_at).total_seconds()
    sent_s = (max(n["sent_at"] for n in notices) - killed_at).total_seconds()
    record_property("kill9_to_takeover_s", round(taken_over_s, 2))
    record_property("kill9_to_all_sent_s", round(sent_s, 2))
    repeats = repeats_of(pipeline, appeal_ids)
    logger.warning(
        "kill -9 between send and record: taken over %.1f s and all 20 sent %.1f s after the kill; gateway repeats %d",
        taken_over_s,
        sent_s,
        sum(repeats.values()),
    )

    # The gateway got each message twice (the victim's request, then the survivor's takeover) and sent it once.
    assert repeats == Counter({f"{appeal_id}:resolved": 1 for appeal_id in appeal_ids})
    assert {(n["state"], n["attempts"]) for n in notices} == {("sent", 1)}  # one attempt each, by the survivor
    assert await takeovers_counted(survivor) - takeovers_before[survivor.port] == 20


async def takeovers_counted(notifier: Notifier) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        metrics = (await client.get(f"http://127.0.0.1:{notifier.port}/metrics")).text
    [line] = [line for line in metrics.splitlines() if line.startswith("cityline_notifier_takeovers_total ")]
    return float(line.split()[1])


async def test_a_notifier_stopped_under_a_burst_leaves_nothing_waiting_for_a_lease(
    pipeline, notifiers, record_property
):
    appeals = residents(600)
    appeal_ids = [appeal_id for appeal_id, _ in appeals]
    stopping, other = notifiers
    # The gateway hangs longer than the 5 s grace: what the stopping notifier is sending cannot finish in time.
    await control_sms_sink(pipeline, None, delay_s=8)
    try:
        await publish_burst(pipeline, appeals)

        async def sending():
            open_batches = [b for b in await batches_of(pipeline, stopping.owner) if "lease_until" in b]
            return open_batches and await sink_holding(pipeline) > 0

        await wait_until(sending, timeout=60)
        stopping.process.terminate()
        terminated_at = utcnow()
        # From now on the gateway answers at once; the requests it holds still take their 8 s.
        await control_sms_sink(pipeline, None, delay_s=0)
        await stopping.exited(30)
        exited_at = utcnow()
    finally:
        await control_sms_sink(pipeline, None, delay_s=0)

    # A clean stop (uvicorn re-raises the SIGTERM once it has shut down, so the exit status is -15).
    log = stopping.log.read_text(errors="replace")
    assert "Application shutdown complete" in log
    # Nothing the stopped notifier held keeps a lease past its exit: finished, or released to the other.
    still_leased = [
        b for b in await batches_of(pipeline, stopping.owner) if "lease_until" in b and b["lease_until"] > exited_at
    ]
    assert still_leased == []
    assert "released" in log

    await wait_delivered(pipeline, appeal_ids, lambda: all_sent_once(pipeline, appeal_ids), timeout=120)
    notices = await notices_of(pipeline, appeal_ids)
    exited_s = (exited_at - terminated_at).total_seconds()
    sent_s = (max(n["sent_at"] for n in notices) - terminated_at).total_seconds()
    repeats = sum(repeats_of(pipeline, appeal_ids).values())
    record_property("sigterm_to_exit_s", round(exited_s, 2))
    record_property("sigterm_to_all_sent_s", round(sent_s, 2))
    logger.warning(
        "SIGTERM under a burst of 600: exited %.1f s and all sent once %.1f s after SIGTERM; gateway repeats %d; "
        "notices by (attempts, last failure) %s; %s",
        exited_s,
        sent_s,
        repeats,
        dict(Counter((n["attempts"], n.get("reason", "")) for n in notices)),
        next((line for line in log.splitlines() if "released" in line), ""),
    )
    assert other.process.poll() is None
