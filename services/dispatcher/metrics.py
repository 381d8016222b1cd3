from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

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


# ---- execution control: department quality (per month with increase(...[30d]) in PromQL) ------------------------

resident_replies = Counter(
    "cityline_dispatcher_resident_replies",
    "Residents' replies, by reply (fixed, not_fixed, answer) and outcome (the status it led to, a refusal, repeated)",
    ["reply", "outcome"],
    registry=registry,
)

resolutions = Counter(
    "cityline_dispatcher_resolutions",
    "Appeals a department reported resolved, by department and whether within the due time in force (on_time)",
    ["department", "on_time"],
    registry=registry,
)

disputed_resolutions = Counter(
    "cityline_dispatcher_disputed_resolutions",
    "Resolutions the resident said were not fixed (reopened, or disputed to the supervisor), by department",
    ["department"],
    registry=registry,
)

reopens = Counter(
    "cityline_dispatcher_reopens",
    "Appeals reopened to their department because the resident said they were not fixed, by department",
    ["department"],
    registry=registry,
)

DAY_S = 24 * 3600
time_to_resolve = Histogram(
    "cityline_dispatcher_time_to_resolve_seconds",
    "From registration to a department's resolution, by department",
    ["department"],
    buckets=(3600, 4 * 3600, 12 * 3600, DAY_S, 3 * DAY_S, 7 * DAY_S, 15 * DAY_S, 30 * DAY_S, 45 * DAY_S),
    registry=registry,
)


def observe_execution(
    changes: Sequence[Any], due_before: Mapping[str, datetime | None], appeals: Mapping[str, Any]
) -> None:
    """Count what the applied changes say of their department: resolutions on time or late, disputes, reopens."""
    for change in changes:
        appeal = appeals.get(change.appeal_id)
        if appeal is None or appeal.assignment is None:
            continue
        department = appeal.assignment.department
        if change.status == "resolved":
            due = due_before.get(change.appeal_id)
            resolutions.labels(department, str(due is None or change.at <= due).lower()).inc()
            if appeal.registered_at is not None:
                time_to_resolve.labels(department).observe((change.at - appeal.registered_at).total_seconds())
        elif change.status in ("reopened", "disputed"):
            disputed_resolutions.labels(department).inc()
            if change.status == "reopened":
                reopens.labels(department).inc()
