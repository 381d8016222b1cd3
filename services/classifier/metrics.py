from prometheus_client import Counter, Gauge, Histogram

from shared.metrics import registry

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
