from prometheus_client import Counter

from shared.metrics import registry

assignments = Counter(
    "cityline_dispatcher_assignments",
    "Appeals assigned, by department and outcome (assigned, triage)",
    ["department", "outcome"],
    registry=registry,
)

department_updates = Counter(
    "cityline_dispatcher_department_updates",
    "Departments' reports, by reported status and verdict (StatusChange, Refusal, repeated)",
    ["status", "verdict"],
    registry=registry,
)
