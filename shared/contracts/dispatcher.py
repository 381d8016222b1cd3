"""Events of the dispatcher: the assignment, and the task a department receives."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.contracts.base import AppealEvent, Code
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
