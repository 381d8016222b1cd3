from prometheus_client import Counter

from shared.metrics import registry

assignments = Counter(
    "cityline_dispatcher_assignments",
    "Appeals assigned, by department and outcome (assigned, triage)",
    ["department", "outcome"],
    registry=registry,
)
