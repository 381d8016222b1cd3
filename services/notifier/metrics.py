from functools import partial

from prometheus_client import Counter, Histogram

from shared.metrics import observe_stage, registry

notifications = Counter(
    "cityline_notifier_notifications",
    "Notices to residents, by kind, transport and state (pending, skipped, duplicate, sent, failed)",
    ["kind", "transport", "state"],
    registry=registry,
)
delivery_attempts = Counter(
    "cityline_notifier_delivery_attempts",
    "Delivery attempts by transport and result (ok, or the failure's reason such as http-503, unreachable)",
    ["transport", "result"],
    registry=registry,
)
delivery_latency = Histogram(
    "cityline_notifier_delivery_latency_seconds",
    "From recording a notice to its delivery, by transport (retries included)",
    ["transport"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=registry,
)
retries = Counter(
    "cityline_notifier_retries",
    "Failed attempts that will be tried again after the backoff, by transport and reason",
    ["transport", "reason"],
    registry=registry,
)
takeovers = Counter(
    "cityline_notifier_takeovers",
    "Notices taken over from a delivery batch whose sender did not settle it within its lease (it died or hung)",
    registry=registry,
)
released = Counter(
    "cityline_notifier_released",
    "Notices a stopping notifier could not finish within its grace period and released to the other senders, by "
    "what held them (batch: sent at once; claim: a retry or a takeover)",
    ["held_by"],
    registry=registry,
)


# The notified stage: from the channel receiving the appeal to its assignment notice being recorded and handed to
# its transport (observe_notified(assigned_events, at=now)); the delivery itself is delivery_latency.
observe_notified = partial(observe_stage, "notified")
