from prometheus_client import Counter

from shared.metrics import registry

notifications = Counter(
    "cityline_notifier_notifications",
    "Notices to residents, by kind, transport and state (recorded, skipped, duplicate)",
    ["kind", "transport", "state"],
    registry=registry,
)
