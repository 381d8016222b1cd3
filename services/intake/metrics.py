"""Intake's HTTP API metrics, on the shared registry. Labels: the route template (never an id), method, status."""

from prometheus_client import Counter, Histogram

from shared.metrics import registry

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
