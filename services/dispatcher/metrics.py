from functools import partial

from prometheus_client import Counter, Gauge

from shared.metrics import observe_stage, registry

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

overdue = Gauge(
    "cityline_dispatcher_overdue_appeals",
    "Open appeals past their due time, by department (set by the periodic check)",
    ["department"],
    registry=registry,
)

escalations = Counter(
    "cityline_dispatcher_escalations",
    "Appeals escalated on appeals.escalated for being past their due time, by department",
    ["department"],
    registry=registry,
)

incidents_grouped = Counter(
    "cityline_dispatcher_incident_appeals",
    "Appeals that joined an open mass incident (sent to the department as the incident, not as a task)",
    registry=registry,
)


# The assigned stage: from the channel receiving the appeal to the dispatcher's decision (AppealAssigned.occurred_at).
observe_assigned = partial(observe_stage, "assigned")
