"""Intake's metrics, on the shared registry: appeals registered by channel, and the HTTP API's requests.
Labels: the channel's code (a registered channel, never a resident's value), route template (never an id), method,
status."""

from collections.abc import Sequence

from prometheus_client import Counter, Histogram

from shared.contracts.intake import AppealRegistered
from shared.metrics import observe_stage, registry

appeals = Counter(
    "cityline_intake_appeals",
    "Appeals registered (new ones, not redeliveries), by the channel that received them",
    ["channel"],
    registry=registry,
)


def count_registered(events: Sequence[AppealRegistered]) -> None:
    """Traffic by channel, and the registered stage's latency (received_at to registered_at)."""
    for event in events:
        appeals.labels(event.channel).inc()
    observe_stage("registered", events)


http_requests = Counter(
    "cityline_intake_http_requests",
    "Requests to intake's HTTP API, by route template, method and status code",
    ["route", "method", "status"],
    registry=registry,
)
http_request_seconds = Histogram(
    "cityline_intake_http_request_seconds",
    "Time to answer a request to intake's HTTP API, by route template and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=registry,
)
