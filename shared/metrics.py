"""The one metrics registry, the metrics every service shares, and the /metrics endpoint.

FastStream's Prometheus middleware already counts messages, durations, in-flight work, exceptions and
publishes; business metrics are registered here or in a service's metrics.py, on the same registry.
Labels take values from small, bounded sets only.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Literal, Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_asgi_app

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


# The appeal's way through the pipeline, each step measured from the moment the channel received it.
Stage = Literal["registered", "classified", "assigned", "notified"]
STAGES: tuple[Stage, ...] = ("registered", "classified", "assigned", "notified")
# 1 s is a bucket boundary: the SLO "appeals assigned within 1 s" reads the le="1" bucket.
STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

appeal_stage_seconds = Histogram(
    "cityline_appeal_stage_seconds",
    "From the channel receiving an appeal (its received_at) to the appeal reaching a stage, from the events' own "
    "timestamps: registered (intake stored it), classified, assigned (dispatcher decided), notified (the "
    "assignment notice handed to its transport)",
    ["stage"],
    buckets=STAGE_BUCKETS,
    registry=registry,
)
for _stage in STAGES:  # every stage exported from the start, so a quiet stage reads 0 rather than nothing
    appeal_stage_seconds.labels(_stage)


class _Timed(Protocol):
    @property
    def received_at(self) -> datetime: ...

    @property
    def occurred_at(self) -> datetime: ...


def observe_stage(stage: Stage, events: Iterable[_Timed], at: datetime | None = None) -> None:
    """Observe each event's age at `stage`: `at` (the stage's clock), or the event's own occurred_at."""
    for event in events:
        reached = at if at is not None else event.occurred_at
        appeal_stage_seconds.labels(stage).observe(max((reached - event.received_at).total_seconds(), 0.0))


def metrics_asgi_app():
    return make_asgi_app(registry=registry)
