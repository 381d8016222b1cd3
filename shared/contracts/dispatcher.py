"""Events of the dispatcher: the assignment, and the task a department receives."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import AppealEvent, AppealId, Code, Event
from shared.contracts.classifier import AppealClassified, Urgency
from shared.contracts.intake import Address, ResidentContact


class Assignment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    department: Code
    department_name: str
    district: Code | None = None
    due_at: AwareDatetime
    # `triage`: the contact center must decide (no category, or no district for a district-scoped one).
    outcome: Literal["assigned", "triage"]
    reason: str
    # Set when the appeal was grouped with others about the same building or street segment (a mass incident).
    incident_id: str | None = None


class AppealAssigned(AppealClassified):
    """Published to `appeals.assigned` for the notifier and anyone who listens."""

    assignment: Assignment


class DepartmentTask(AppealEvent):
    """Published to `dept.<department>.assignments`: what the department needs to act, and no more.

    The resident's contact is included only for departments whose work means calling the resident back.
    Consumers deduplicate on `event_id`: a redelivered task carries the same id.
    """

    department: Code
    category: Code
    category_name: str
    urgency: Urgency
    text: str
    address: Address | None = None
    district: Code | None = None
    due_at: AwareDatetime
    contact: ResidentContact | None = None
    status: Literal["assigned", "triage"] = "assigned"
    # The mass incident the appeal belongs to; its later appeals come on dept.<code>.incidents instead.
    incident_id: str | None = None
    # Schema version 2: a task sent again because the resident said the appeal was not fixed (`reopened` counts the
    # times), with the resident's words. A department that ignores these fields sees a task with a new due time.
    schema_version: int = 2
    reopened: int = Field(default=0, ge=0)
    resident_comment: str = ""


# What a resident hears about after assignment. `rerouted`: a misrouted appeal went to another department.
# Schema version 2 added execution control: `reopened` (the resident said it was not fixed), `disputed` (said so
# again: a supervisor decides), `closed` (the resident confirmed it, or did not answer in time), `extended` (the due
# time moved, with the reason), `waiting_for_resident` (the department asks the resident; the comment is the
# question) and `resumed` (the resident answered; the clock runs again).
AppealStatus = Literal[
    "accepted",
    "in_progress",
    "resolved",
    "rejected",
    "rerouted",
    "reopened",
    "disputed",
    "closed",
    "extended",
    "waiting_for_resident",
    "resumed",
]


class AppealStatusChanged(AppealEvent):
    """Published to `appeals.status` by the dispatcher once it has applied a department's report to an appeal.

    Only reports the dispatcher accepted appear here (a nonsensical one goes to `dept.updates.dlq` instead), so the
    notifier and other listeners can trust it. When a department resolves a mass incident, every appeal grouped under
    it gets its own event, so every resident in it hears the outcome.
    """

    status: AppealStatus
    department: Code
    department_name: str
    category: Code
    # The department's comment: for `resolved`/`rejected` what the resident is told; for an `information_request`
    # resolved by the contact center, the answer itself.
    comment: str = ""
    contact: ResidentContact | None = None
    channel: Code | None = None
    incident_id: str | None = None
    # The event the change came from (the department's update), for tracing.
    caused_by: str = ""
    schema_version: int = 2
    # The appeal's due time after the change (set with `reopened` and `extended`).
    due_at: AwareDatetime | None = None
    # With `resolved` and `waiting_for_resident`: the single-use token the resident replies with (the notice's link)
    # and until when. The store keeps only its hash.
    reply_token: str = ""
    reply_until: AwareDatetime | None = None
    # How many times the appeal was reopened before this change: each round's outcome is told once.
    round: int = Field(default=0, ge=0)


class IncidentTask(Event):
    """Published to `dept.<department>.incidents` when appeals of one category about one building (or street segment)
    arrive within the incident window: the department gets the incident, not one task per appeal.

    It is published when the second appeal joins and again each time another joins, with the same `incident_id` and
    the grown `count`: keep the latest per `incident_id`. A report on any appeal of the incident (on `dept.updates`,
    e.g. on `lead_appeal_id`) applies to every appeal in it, so each resident hears the outcome.
    """

    incident_id: str
    department: Code
    category: Code
    category_name: str
    urgency: Urgency
    # What the appeals share: a street and house number, coordinates, or the address as written.
    location: str
    address: Address | None = None
    district: Code | None = None
    lead_appeal_id: AppealId
    appeal_ids: tuple[AppealId, ...] = Field(min_length=1)
    count: int = Field(ge=1)
    first_reported_at: AwareDatetime
    last_reported_at: AwareDatetime
    due_at: AwareDatetime
    texts: tuple[str, ...] = ()

    def kafka_key(self) -> bytes:
        return self.incident_id.encode()


class AppealEscalated(AppealEvent):
    """Published to `appeals.escalated` when an appeal is still open past its due time (the dispatcher checks
    periodically). Once per appeal and due time: a new due time after a reroute can escalate again."""

    department: Code
    department_name: str
    category: Code
    urgency: Urgency
    status: str
    district: Code | None = None
    due_at: AwareDatetime
    overdue_s: int = Field(ge=0)
    incident_id: str | None = None
    # Schema version 2: `disputed` when the resident said twice that a resolved appeal was not fixed.
    schema_version: int = 2
    reason: Literal["overdue", "disputed"] = "overdue"
    resident_comment: str = ""
