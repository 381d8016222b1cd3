from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

from shared.contracts.classifier import AppealClassified
from shared.metrics import observe_stage, registry

appeals_classified = Counter(
    "cityline_classifier_appeals",
    "Appeals classified, by category and urgency (category `unclassified` goes to people; "
    "its share is this counter's unclassified rate over the total)",
    ["category", "urgency"],
    registry=registry,
)
classification_seconds = Histogram(
    "cityline_classifier_classification_seconds",
    "Time to classify one appeal's text (the pure decision only)",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01),
    registry=registry,
)
rules_reloads = Counter(
    "cityline_classifier_rules_reloads",
    "Changes of the rule file seen while running: reloaded, or refused (invalid; the last good rules stay)",
    ["outcome"],
    registry=registry,
)
rules_file_refused = Gauge(
    "cityline_classifier_rules_file_refused",
    "1 while the rule file on disk is invalid and older rules are in force",
    registry=registry,
)
ruleset_info = Gauge(
    "cityline_classifier_ruleset_info",
    "The rules in force: their version and the file's fingerprint (value 1)",
    ["version"],
    registry=registry,
)


def count_classified(decisions: Sequence[AppealClassified]) -> None:
    """Traffic by category and urgency, and the classified stage's latency (received_at to the decision)."""
    for decision in decisions:
        appeals_classified.labels(decision.classification.category, decision.classification.urgency).inc()
    observe_stage("classified", decisions)
