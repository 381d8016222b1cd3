"""Events departments publish to `dept.updates` to report on their tasks."""

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import AppealEvent, Code

# Schema version 2 added `extension_requested` (with `extend_to`, the comment its reason) and
# `waiting_for_resident` (the comment is the question the resident is asked; the overdue clock stops until the
# answer). A version 1 report is read the same.
DepartmentStatus = Literal[
    "accepted", "in_progress", "resolved", "rejected", "misrouted", "extension_requested", "waiting_for_resident"
]


class DepartmentUpdate(AppealEvent):
    schema_version: int = 2
    department: Code
    status: DepartmentStatus
    comment: str = Field(default="", max_length=2000)
    # With `extension_requested`: the due time asked for; granted up to 45 days from registration in all.
    extend_to: AwareDatetime | None = None
    # With `misrouted`: the department the reporter thinks is right, if it knows.
    suggested_department: Code | None = None
