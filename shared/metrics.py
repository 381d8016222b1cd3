"""The one metrics registry, the metrics every service shares, and the /metrics endpoint.

FastStream's Prometheus middleware already counts messages, durations, in-flight work, exceptions and
publishes; business metrics are registered here or in a service's metrics.py, on the same registry.
Labels take values from small, bounded sets only.
"""

from prometheus_client import REGISTRY, Counter, Gauge, make_asgi_app

registry = REGISTRY

dead_letters = Counter(
    "cityline_dead_letters",
    "Messages parked in a dead-letter topic, by source topic and reason",
    ["service", "topic", "reason"],
    registry=registry,
)
transient_retries = Counter(
    "cityline_transient_retries",
    "In-place retries of a batch after a transient failure of the store or broker",
    ["service"],
    registry=registry,
)
stage_appeals = Counter(
    "cityline_stage_appeals",
    "Appeals a stage processed, by outcome (new, redelivered)",
    ["service", "outcome"],
    registry=registry,
)
consumer_ready = Gauge(
    "cityline_consumer_ready",
    "1 when every subscriber of the service has its partitions assigned",
    ["service"],
    registry=registry,
)


consumer_lag = Gauge(
    "cityline_consumer_lag",
    "Records waiting in the broker for the service, per topic and partition (highwater minus position)",
    ["service", "topic", "partition"],
    registry=registry,
)


def metrics_asgi_app():
    return make_asgi_app(registry=registry)
