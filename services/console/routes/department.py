"""The department board: a department's open tasks and incidents by due date, overdue ones marked, and its reports
on an appeal (accept, in progress, resolve with the comment the resident reads, reject, misrouted with a suggested
department), each published as a `DepartmentUpdate` on `dept.updates` exactly as a department's own system does.

Department staff see only their own department: another department's appeal answers 403. Supervisors (and admins)
may open any department's board to look, and report for it as the department would.
"""

import uuid
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from services.console.auth import role_required
from services.console.boards import ACTIONS_BY_STATUS, BoardsDep
from services.console.clients import Unavailable
from services.console.department_updates import DepartmentUpdates, department_update
from services.console.pages import Screen, render
from services.console.repository import UserDoc
from services.console.routes.desk import AppealsDep
from shared.contracts.base import utcnow


@asynccontextmanager
async def department_reports(app: FastAPI):
    app.state.department_updates = DepartmentUpdates(app.state.settings)
    try:
        yield
    finally:
        await app.state.department_updates.close()


router = APIRouter(prefix="/department", lifespan=department_reports)
SCREENS = [Screen("/department", "nav.department", ("department", "supervisor"), access_key="b")]
DepartmentStaff = Annotated[UserDoc, Depends(role_required("department", "supervisor"))]
AppealNumber = Annotated[str, PathParam(pattern=r"^\d{7,12}$")]
# The board's actions and the report status each sends.
ACTIONS = {
    "accept": "accepted",
    "in_progress": "in_progress",
    "resolve": "resolved",
    "reject": "rejected",
    "misrouted": "misrouted",
}
# The resident reads the comment of these: it may not be empty.
COMMENT_REQUIRED = ("resolved", "rejected", "misrouted")
# After these reports the appeal is no longer the department's open task.
LEAVES_THE_BOARD = ("resolved", "rejected", "misrouted")
# A board shows the soonest due this many; the heading counts them all. Each row is one appeal read from the store.
TASKS_SHOWN = 50


def reports(request: Request) -> DepartmentUpdates:
    return request.app.state.department_updates


ReportsDep = Annotated[DepartmentUpdates, Depends(reports)]


def own_department(user: UserDoc, requested: str | None) -> str | None:
    """The department whose board the user sees: department staff their own, others the one they chose."""
    if user.role == "department":
        if not user.department:
            raise HTTPException(403, "your account is not bound to a department")
        if requested and requested != user.department:
            raise HTTPException(403, "department staff see only their own department")
        return user.department
    return requested or None


def allowed_actions(status: str) -> list[str]:
    offered = ACTIONS_BY_STATUS.get(status, ())
    return [action for action, reported in ACTIONS.items() if reported in offered]


@router.get("")
async def department_board(request: Request, user: DepartmentStaff, boards: BoardsDep):
    requested = request.query_params.get("department") or None
    department = own_department(user, requested)
    taxonomy = request.app.state.taxonomy
    if department is not None and department not in taxonomy.department_codes():
        raise HTTPException(404, f"no department {department!r}")
    tasks, total, incidents = [], 0, []
    if department is not None:
        tasks, total = await boards.department_tasks(department, TASKS_SHOWN)
        incidents = await boards.department_incidents(department)
    return render(
        request,
        "department.html",
        user,
        department=department,
        tasks=tasks,
        total=total,
        shown=TASKS_SHOWN,
        incidents=incidents,
        now=utcnow(),
        done=request.query_params.get("done"),
        number=request.query_params.get("appeal"),
    )


async def _task(request: Request, user: UserDoc, reads, appeal_id: str):
    appeal = await reads.appeal(appeal_id)
    if appeal is None:
        raise HTTPException(404, f"no appeal {appeal_id}")
    if user.role == "department" and appeal.department != user.department:
        raise HTTPException(403, f"appeal {appeal_id} belongs to another department")
    return appeal


def _task_page(request: Request, user: UserDoc, appeal, status_code: int = 200, **context):
    return render(
        request,
        "department_appeal.html",
        user,
        status_code=status_code,
        appeal=appeal,
        actions=allowed_actions(appeal.status),
        form_key=context.pop("form_key", None) or request.query_params.get("key") or _new_key(),
        errors=context.pop("errors", {}),
        typed=context.pop("typed", {}),
        now=utcnow(),
        **context,
    )


def _new_key() -> str:
    return uuid.uuid4().hex


@router.get("/appeals/{appeal_id}")
async def department_appeal(request: Request, user: DepartmentStaff, reads: AppealsDep, appeal_id: AppealNumber):
    return _task_page(request, user, await _task(request, user, reads, appeal_id))


@router.post("/appeals/{appeal_id}/{action}")
async def report(
    request: Request,
    user: DepartmentStaff,
    reads: AppealsDep,
    boards: BoardsDep,
    publisher: ReportsDep,
    appeal_id: AppealNumber,
    action: str,
    comment: Annotated[str, Form(max_length=4000)] = "",
    suggested_department: Annotated[str, Form(max_length=64)] = "",
    form_key: Annotated[str, Form(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = "",
):
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}")
    appeal = await _task(request, user, reads, appeal_id)
    status = ACTIONS[action]
    typed = {"action": action, "comment": comment, "suggested_department": suggested_department}
    key = form_key or _new_key()

    def refused(status_code: int, errors: dict[str, str] | None = None, **context):
        return _task_page(
            request, user, appeal, status_code=status_code, errors=errors or {}, typed=typed, form_key=key, **context
        )

    if action not in allowed_actions(appeal.status):
        return refused(409, conflict=action)
    comment = comment.strip()
    if status in COMMENT_REQUIRED and not comment:
        return refused(422, {"comment": "department.comment_required"})
    suggested = suggested_department or None
    taxonomy = request.app.state.taxonomy
    if status == "misrouted" and suggested is not None:
        if suggested not in taxonomy.department_codes():
            return refused(422, {"suggested_department": "department.unknown_department"})
        if suggested == appeal.department:
            return refused(422, {"suggested_department": "department.same_department"})
    stored = await boards.task(appeal_id)
    try:
        update = department_update(
            appeal_id=appeal_id,
            department=appeal.department or "",
            status=status,  # type: ignore[arg-type]
            comment=comment,
            suggested_department=suggested if status == "misrouted" else None,
            form_key=key,
            user=user.name,
            correlation_id=(stored or {}).get("correlation_id") or "",
        )
    except ValidationError as error:
        fields = {str(issue["loc"][0]): "department.invalid" for issue in error.errors() if issue["loc"]}
        return refused(422, fields)
    outage = await publisher.publish(update)
    if isinstance(outage, Unavailable):
        return refused(503, outage=outage.service)
    if status in LEAVES_THE_BOARD:
        # Reported closed or sent back: it leaves the board now; the dispatcher's event confirms it (a report it
        # refused puts it back at the queues' next reconciliation with the store).
        boards.queues.leave(appeal_id, appeal.department or "")
    return RedirectResponse(f"/department?done={action}&appeal={appeal_id}", status_code=303)
