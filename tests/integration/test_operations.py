"""What an SRE uses: dead letters sent back once their cause is fixed, and consumer lag on /metrics."""

import json
import re
from pathlib import Path

import httpx
import pytest

from cityline.dlq import list_parked, replay
from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from shared.deadletter import ERROR_HEADER, ORIGIN_HEADER, REASON_HEADER
from tests.integration.helpers import store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "cityline.json"
SAMPLE_SUFFIXES = {"counter": ("", "_total"), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


async def test_parked_appeal_is_replayed_and_registered(pipeline):
    # What the dead-letter middleware leaves when the store stayed down past every retry.
    body = submission("Яма на дорозі, пробив колесо", external_id="replay-me-1")
    producer_headers = [
        (CHANNEL_HEADER, b"web"),  # the channel's own header, kept with the record
        (REASON_HEADER, b"transient-exhausted"),
        (ERROR_HEADER, b"ServerSelectionTimeoutError: store unreachable"),
        (ORIGIN_HEADER, b"appeals.intake/0/7"),
    ]
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.dead_letter(topics.APPEALS_INTAKE),
            json.dumps(body).encode(),
            key=b"replay-me-1",
            headers=producer_headers,
        )
    finally:
        await producer.stop()

    parked = await list_parked(pipeline.bootstrap, topics.APPEALS_INTAKE, limit=1000)
    mine = [item for item in parked if item.record.key == b"replay-me-1"]
    assert mine and mine[0].reason == "transient-exhausted"
    assert mine[0].summary()["origin"] == "appeals.intake/0/7"

    would, _ = await replay(pipeline.bootstrap, topics.APPEALS_INTAKE, "transient-exhausted", dry_run=True)
    assert would >= 1
    replayed, _ = await replay(pipeline.bootstrap, topics.APPEALS_INTAKE, "transient-exhausted", dry_run=False)
    assert replayed >= 1

    client = store_client(pipeline.store_uri)
    try:
        appeal = await wait_until(
            lambda: client[pipeline.database].appeals.find_one({"intake_key": "web:replay-me-1", "status": "assigned"})
        )
    finally:
        await client.close()
    assert appeal["classification"]["category"] == "roads"
    # The replay group remembers: nothing of that reason is left to send again.
    again, _ = await replay(pipeline.bootstrap, topics.APPEALS_INTAKE, "transient-exhausted", dry_run=False)
    assert again == 0


async def test_consumer_lag_is_on_metrics(pipeline):
    await submit_appeals(pipeline.bootstrap, [submission("Не горить ліхтар на вулиці")])

    async def lag_lines():
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{pipeline.service_port('intake')}/metrics", timeout=5)).text
        return [
            line for line in text.splitlines() if line.startswith("cityline_consumer_lag{") and "appeals.intake" in line
        ]

    lines = await wait_until(lag_lines, timeout=20)
    assert {line.split('partition="')[1].split('"')[0] for line in lines} <= {"0", "1", "2"}

    # Everything sent has been taken: the lag comes back to zero.
    async def drained():
        return all(float(line.rsplit(" ", 1)[1]) == 0 for line in await lag_lines())

    await wait_until(drained, timeout=20)


async def test_every_metric_the_dashboard_queries_is_exported(pipeline):
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b((?:cityline|faststream)_[a-z_]+)\b", target["expr"])
    }
    await submit_appeals(pipeline.bootstrap, [submission("Не працює ліфт, третій день стоїть")])

    async def exported():
        names = set()
        async with httpx.AsyncClient() as http:
            for service in ("intake", "classifier", "dispatcher", "notifier"):
                text = (await http.get(f"http://127.0.0.1:{pipeline.service_port(service)}/metrics", timeout=5)).text
                # A family is declared by its TYPE line even before its first sample (a counter nobody hit yet).
                for line in text.splitlines():
                    if line.startswith("# TYPE "):
                        _, _, family, kind = line.split(" ")
                        names |= {f"{family}{suffix}" for suffix in SAMPLE_SUFFIXES.get(kind, ("",))}
        missing = queried - names
        return None if missing else names

    assert queried, "the dashboard queries no metrics"
    await wait_until(exported, timeout=30)
