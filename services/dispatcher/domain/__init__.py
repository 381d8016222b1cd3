"""The decide step of the dispatcher, pure: routing configuration, locating and routing, departments' reports, mass
incidents, escalation and manual triage, one module each. The names callers use are importable from here."""

from services.dispatcher.domain.config import (
    CONTACT_CENTER,
    LEGAL_MAX_DUE,
    UNCLASSIFIED,
    IncidentRules,
    Routing,
    RoutingError,
    RoutingFile,
    check_deadlines,
    load_routing,
)
from services.dispatcher.domain.escalation import OPEN_STATUSES, escalation, overdue_by_department
from services.dispatcher.domain.incidents import (
    MAX_INCIDENT_TEXTS,
    Grouping,
    Incident,
    group_incidents,
    incident_key,
)
from services.dispatcher.domain.outcome import Announcements, Refusal, Refused
from services.dispatcher.domain.reports import (
    ACTIVE,
    ALLOWED_FROM,
    StatusChange,
    TrackedAppeal,
    fan_out,
    fanned_out_before,
    incident_report_id,
    judge_update,
    rerouted_event_id,
    status_event,
)
from services.dispatcher.domain.routing import (
    Dispatch,
    Place,
    department_task,
    find_district,
    find_place,
    locate,
    route,
)
from services.dispatcher.domain.triage import TriageDecision, TriageProblem, decide_triage

__all__ = [
    "ACTIVE",
    "ALLOWED_FROM",
    "CONTACT_CENTER",
    "LEGAL_MAX_DUE",
    "MAX_INCIDENT_TEXTS",
    "OPEN_STATUSES",
    "UNCLASSIFIED",
    "Announcements",
    "Dispatch",
    "Grouping",
    "Incident",
    "IncidentRules",
    "Place",
    "Refusal",
    "Refused",
    "Routing",
    "RoutingError",
    "RoutingFile",
    "StatusChange",
    "TrackedAppeal",
    "TriageDecision",
    "TriageProblem",
    "check_deadlines",
    "decide_triage",
    "department_task",
    "escalation",
    "fan_out",
    "fanned_out_before",
    "find_district",
    "find_place",
    "group_incidents",
    "incident_key",
    "incident_report_id",
    "judge_update",
    "load_routing",
    "locate",
    "overdue_by_department",
    "rerouted_event_id",
    "route",
    "status_event",
]
