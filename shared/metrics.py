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
reconciled = Counter(
    "cityline_reconciled_appeals",
    "Appeals whose next step was missing from the store after the next stage had taken everything published before: "
    "their event was announced again, by stage and missing step",
    ["service", "step"],
    registry=registry,
)
consumer_ready = Gauge(
    "cityline_consumer_ready",
    "1 when every subscriber of the service has its partitions and none is stalled with records waiting",
    ["service"],
    registry=registry,
)
consumer_lag = Gauge(
    "cityline_consumer_lag",
    "Records waiting for the service's group, per topic and partition: the broker's log end minus the committed offset",
    ["service", "topic", "partition"],
    registry=registry,
)
consumer_stalled_seconds = Gauge(
    "cityline_consumer_stalled_seconds",
    "How long the group's committed offset has not moved while records wait, per topic and partition (0: moving)",
    ["service", "topic", "partition"],
    registry=registry,
)
consumer_offset_resets = Counter(
    "cityline_consumer_offset_resets",
    "Partitions read again from the earliest offset because the position was beyond the broker's log end "
    "(a broker that lost its log, a recreated topic)",
    ["service", "topic"],
    registry=registry,
)


def metrics_asgi_app():
    return make_asgi_app(registry=registry)
