"""A real Prometheus (Debian's package) scraping the running services, with CityLine's rules loaded.

Asked through its HTTP API: every service's target is up, the pipeline's counters move as appeals flow, every
dashboard panel's query evaluates and returns data, label sets stay bounded, and a stopped consumer's alert goes
pending or firing. The rules are rendered with this test's own settings (short `for:`), not the shipped ones.
"""

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cityline.prometheus import SERVICES, AlertingSettings, PrometheusSettings, add_prometheus
from cityline.stack import EmbeddedStack, free_port
from shared.channel_keys import CHANNEL_HEADER
from shared.contracts import topics
from tests.integration.helpers import publish, submission, submit_appeals
from tests.integration.test_pipeline_flow import TEXTS

pytestmark = pytest.mark.integration

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
# Alerts that a stopped service must raise within seconds here (the shipped rules wait a minute).
TEST_ALERTING = {"service_down": {"for": "2s"}}

# One run's shape: several channels, categories, urgencies and transports, one unclassifiable text, one notice the
# mail server refuses (the pipeline test's texts); repeated with new ids, it must add no series.
CHANNELS = ["web", "phone", "mobile", "gov_contact_center"]


def varied_run(round_: int) -> list[dict[str, Any]]:
    bodies = []
    for i, text in enumerate(TEXTS * 2):
        contact: dict[str, Any] = {"phone": f"+38067{round_:03d}{i:04d}"}
        if i % 3 == 0:
            contact = {"email": f"resident{round_}x{i}@example.com", "preferred_transport": "email"}
        if i == 1:
            contact = {"email": f"no-such-resident{round_}@example.com", "preferred_transport": "email"}
        bodies.append(submission(text, channel=CHANNELS[i % len(CHANNELS)], contact=contact))
    return bodies


class PrometheusApi:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=10.0)

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=expr)["result"]

    def value(self, expr: str) -> float:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    def wait_for(self, what: str, probe, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


@pytest.fixture(scope="module")
def prometheus(pipeline: EmbeddedStack):
    settings = PrometheusSettings(port=free_port(), scrape_interval="1s", evaluation_interval="1s")
    url = add_prometheus(pipeline, settings, alerting=AlertingSettings.load().with_changes(TEST_ALERTING))
    api = PrometheusApi(url)
    yield api
    api.client.close()
    for managed in [p for p in pipeline.processes if p.name == "prometheus"]:
        managed.stop()
        pipeline.processes.remove(managed)


def metric_samples(stack: EmbeddedStack) -> list[tuple[str, dict[str, str]]]:
    """Every sample of every service's /metrics, read directly: (metric name, labels)."""
    samples = []
    for service in SERVICES:
        text = httpx.get(f"http://127.0.0.1:{stack.service_port(service)}/metrics", timeout=5.0).text
        for family in text_string_to_metric_families(text):
            samples += [(family.name, {"service_scraped": service, **sample.labels}) for sample in family.samples]
    return samples


def series_per_metric(stack: EmbeddedStack) -> dict[str, set[str]]:
    series: dict[str, set[str]] = {}
    for name, labels in metric_samples(stack):
        series.setdefault(name, set()).add(json.dumps(labels, sort_keys=True))
    return series


def settled_notices(api: PrometheusApi) -> float:
    """Notices sent or failed so far; unchanged for a few seconds means the notifier has settled what it had."""
    return api.value('sum(cityline_notifier_notifications_total{state=~"sent|failed"})')


def wait_settled(api: PrometheusApi) -> None:
    last, steady_since = settled_notices(api), time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() - steady_since < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
        now = settled_notices(api)
        if now != last:
            last, steady_since = now, time.monotonic()


def label_values(stack: EmbeddedStack) -> set[str]:
    return {value for _, labels in metric_samples(stack) for value in labels.values()}


def stage_count(api: PrometheusApi, stage: str) -> float:
    return api.value(f'sum(cityline_appeal_stage_seconds_count{{stage="{stage}"}})')


async def run_appeals(stack: EmbeddedStack, api: PrometheusApi, round_: int) -> None:
    """One varied run, a record intake must park, and requests to intake's HTTP API; waits until Prometheus sees
    every appeal assigned and notified."""
    before = {stage: stage_count(api, stage) for stage in ("registered", "assigned", "notified")}
    bodies = varied_run(round_)
    await submit_appeals(stack.bootstrap, bodies)
    # A record that names its channel but is no JSON at all: intake parks it (a dead letter the rules count).
    await publish(stack.bootstrap, topics.APPEALS_INTAKE, [b"{not json"], headers=[(CHANNEL_HEADER, b"web")])
    intake = f"http://127.0.0.1:{stack.service_port('intake')}"
    async with httpx.AsyncClient(base_url=intake, timeout=5.0) as client:
        await client.get("/open311/v2/services.json")
        await client.get("/v1/appeals/1000000")
    for stage, count in before.items():
        await asyncio.to_thread(
            api.wait_for,
            f"{len(bodies)} appeals counted at stage {stage}",
            lambda s=stage, c=count: stage_count(api, s) >= c + len(bodies),
        )


async def test_prometheus_scrapes_every_service_and_the_pipeline_counters_move(pipeline, prometheus):
    def targets_up():
        active = prometheus.get("/api/v1/targets")["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in active} == dict.fromkeys(SERVICES, "up")

    prometheus.wait_for("every service's target up", targets_up)
    assert {t["labels"]["system"] for t in prometheus.get("/api/v1/targets")["activeTargets"]} == {"cityline"}

    new = 'sum by (service) (cityline_stage_appeals_total{outcome="new"})'
    before = {r["metric"]["service"]: float(r["value"][1]) for r in prometheus.query(new)}
    parked_before = prometheus.value('sum(cityline_dead_letters_total{topic="appeals.intake"})')
    await run_appeals(pipeline, prometheus, round_=1)

    def moved():
        after = {r["metric"]["service"]: float(r["value"][1]) for r in prometheus.query(new)}
        return all(after.get(s, 0) >= before.get(s, 0) + len(TEXTS) * 2 for s in ("intake", "classifier", "dispatcher"))

    prometheus.wait_for("intake, classifier and dispatcher counted the new appeals", moved)
    assert prometheus.value('sum(cityline_dead_letters_total{topic="appeals.intake"})') >= parked_before + 1
    assert prometheus.value("sum(cityline_intake_appeals_total)") >= len(TEXTS) * 2
    by_channel = prometheus.query("sum by (channel) (cityline_intake_appeals_total)")
    assert {r["metric"]["channel"] for r in by_channel} >= set(CHANNELS)
    # The latency histograms come from the events' own timestamps: every stage has observations and a quantile.
    for stage in ("registered", "classified", "assigned", "notified"):
        assert stage_count(prometheus, stage) >= len(TEXTS) * 2, stage
    prometheus.wait_for(
        "the p99 of every stage recorded",
        lambda: (
            {r["metric"]["stage"] for r in prometheus.query("cityline:appeal_stage_seconds:p99_5m")}
            >= {"registered", "classified", "assigned", "notified"}
        ),
    )


def dashboard_queries() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']} [{target['refId']}]", target["expr"]))
    return found


def test_every_dashboard_panel_query_evaluates_and_returns_data(pipeline, prometheus):
    queries = dashboard_queries()
    assert len(queries) >= 20
    # The failed notice is settled after the mail server's refusal; wait for it to be counted.
    prometheus.wait_for(
        "a failed e-mail notice counted",
        lambda: prometheus.value('sum(cityline_notifier_notifications_total{state="failed"})') >= 1,
    )
    empty = []
    for name, expr in queries:
        assert "$" not in expr, f"{name}: a Grafana variable the test cannot evaluate: {expr}"
        try:
            prometheus.wait_for(name, lambda e=expr: prometheus.query(e), timeout=30)
        except AssertionError:
            empty.append(f"{name}: {expr}")
    assert not empty, "panels without data:\n" + "\n".join(empty)


async def test_label_sets_stay_bounded_as_appeals_grow(pipeline, prometheus):
    """Another run of the same shape, with new ids, phones and e-mails, adds no series to any metric, and no label
    value is an id or a resident's contact."""
    await run_appeals(pipeline, prometheus, round_=2)
    await asyncio.to_thread(wait_settled, prometheus)
    before = series_per_metric(pipeline)
    await run_appeals(pipeline, prometheus, round_=3)
    await asyncio.to_thread(wait_settled, prometheus)
    after = series_per_metric(pipeline)
    grown = {name: sorted(series - before.get(name, set())) for name, series in after.items()}
    assert not {name: new for name, new in grown.items() if new}, "series grew with the number of appeals"
    assert max(len(series) for series in after.values()) < 1000
    # An appeal number, a uuid, an e-mail address, a phone number, a correlation id: values without bound.
    unbounded = re.compile(
        r"^\d{7,12}$|[0-9a-f]{8}-[0-9a-f]{4}-|[^@\s]+@[^@\s]+\.[a-z]{2,}|^\+?380\d{9}$|^test-[0-9a-f]{8}$",
        re.IGNORECASE,
    )
    assert not {value for value in label_values(pipeline) if unbounded.search(value)}


def test_a_stopped_consumer_raises_its_alert(pipeline, prometheus):
    classifier = next(p for p in pipeline.processes if p.name == "classifier")

    def service_down_alert():
        return [
            alert["state"]
            for alert in prometheus.get("/api/v1/alerts")["alerts"]
            if alert["labels"]["alertname"] == "CityLineServiceDown" and alert["labels"].get("job") == "classifier"
        ]

    assert not service_down_alert()
    classifier.stop()
    try:
        states = prometheus.wait_for("CityLineServiceDown for the classifier", service_down_alert, timeout=60)
        assert states[0] in {"pending", "firing"}
        prometheus.wait_for("CityLineServiceDown firing", lambda: service_down_alert() == ["firing"], timeout=60)
        assert prometheus.value('up{job="classifier"}') == 0
    finally:
        classifier.start()
        # A service's start (imports, the group join) takes long on a loaded machine.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not pipeline.service_ready("classifier"):
            time.sleep(0.2)
    assert pipeline.service_ready("classifier"), classifier.log_tail()
    prometheus.wait_for("the alert resolved once the classifier is back", lambda: not service_down_alert(), 60)
