"""Events departments publish to `dept.updates` to report on their tasks."""

from typing import Literal

from pydantic import Field

from shared.contracts.base import AppealEvent, Code

DepartmentStatus = Literal["accepted", "in_progress", "resolved", "rejected", "misrouted"]


class DepartmentUpdate(AppealEvent):
    department: Code
    status: DepartmentStatus
    comment: str = Field(default="", max_length=2000)
    # With `misrouted`: the department the reporter thinks is right, if it knows.
    suggested_department: Code | None = None
