from prometheus_client import Counter, Histogram

from shared.metrics import registry

appeals_classified = Counter(
    "cityline_classifier_appeals",
    "Appeals classified, by category and urgency (category `unclassified` goes to people)",
    ["category", "urgency"],
    registry=registry,
)
classification_seconds = Histogram(
    "cityline_classifier_classification_seconds",
    "Time to classify one appeal's text (the pure decision only)",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01),
    registry=registry,
)
