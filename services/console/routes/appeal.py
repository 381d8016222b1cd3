"""The appeal page: the caller, the history, the classification's explanation, the department and due date, the
notices; and the next actions by role, each sent to the service that owns the appeal with the user's name."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from services.console.auth import CurrentUser, may_see_department, role_required
from services.console.clients import Refused, Unavailable
from services.console.pages import render
from services.console.repository import AppealDetail, UserDoc
from services.console.routes.desk import AppealsDep, ClientsDep

router = APIRouter(prefix="/appeals")
AppealNumber = Annotated[str, PathParam(pattern=r"^\d{7,12}$")]
Staff = Annotated[UserDoc, Depends(role_required("operator", "supervisor"))]
# What each action may carry; the dispatcher records it in the appeal's history with the user's name.
# The history entry each action becomes (the dispatcher's staff action kinds).
ACTION_KINDS = {"note": "note", "escalate": "escalation", "callback": "callback"}
ACTIONS = {
    "note": ("operator", "supervisor", "department"),
    "escalate": ("operator", "supervisor"),
    "callback": ("operator", "supervisor"),
}


async def _visible(reads, appeal_id: str, user: UserDoc) -> AppealDetail:
    appeal = await reads.appeal(appeal_id)
    if appeal is None or not may_see_department(user, appeal.department):
        # The same answer for another department's appeal as for none: its existence is not theirs to know.
        raise HTTPException(404, f"no appeal {appeal_id}")
    return appeal


def _page(request: Request, user: UserDoc, appeal: AppealDetail, status_code: int = 200, **context):
    return render(
        request,
        "appeal.html",
        user,
        status_code=status_code,
        appeal=appeal,
        actions=[name for name, roles in ACTIONS.items() if user.role == "admin" or user.role in roles],
        may_triage=user.role in ("operator", "supervisor", "admin"),
        # One key per form shown: sending the same form twice records the action once.
        action_key=uuid.uuid4().hex,
        errors=context.pop("errors", {}),
        **context,
    )


@router.get("/{appeal_id}")
async def appeal_page(request: Request, user: CurrentUser, reads: AppealsDep, appeal_id: AppealNumber):
    return _page(request, user, await _visible(reads, appeal_id, user), done=request.query_params.get("done"))


@router.get("/{appeal_id}/status")
async def appeal_status(request: Request, user: CurrentUser, reads: AppealsDep, appeal_id: AppealNumber):
    """The appeal's status and assignment, polled by the page shown after registration."""
    appeal = await reads.appeal(appeal_id)
    if appeal is not None and not may_see_department(user, appeal.department):
        appeal = None
    return render(request, "partials/appeal_status.html", user, appeal=appeal, appeal_id=appeal_id)


@router.post("/{appeal_id}/triage")
async def triage(
    request: Request,
    user: Staff,
    reads: AppealsDep,
    services: ClientsDep,
    appeal_id: AppealNumber,
    category: Annotated[str, Form(max_length=64)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
):
    appeal = await _visible(reads, appeal_id, user)
    decision = {
        "category": category or None,
        "department": department or None,
        "operator": user.name,
        "comment": comment,
    }
    outcome = await services.triage(appeal_id, decision)
    return _outcome(request, user, appeal, outcome, "triage")


@router.post("/{appeal_id}/verdict")
async def record_verdict(
    request: Request,
    user: Staff,
    reads: AppealsDep,
    services: ClientsDep,
    appeal_id: AppealNumber,
    fixed: Annotated[Literal["yes", "no"], Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
):
    """An operator calls the resident back and records their verdict on the resolved appeal."""
    appeal = await _visible(reads, appeal_id, user)
    outcome = await services.record_verdict(appeal_id, fixed == "yes", comment.strip(), user.name)
    return _outcome(request, user, appeal, outcome, "verdict")


@router.post("/{appeal_id}/{action}")
async def act(
    request: Request,
    user: CurrentUser,
    reads: AppealsDep,
    services: ClientsDep,
    appeal_id: AppealNumber,
    action: str,
    comment: Annotated[str, Form(max_length=2000)] = "",
    action_key: Annotated[str, Form(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = "",
):
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}")
    if user.role != "admin" and user.role not in ACTIONS[action]:
        raise HTTPException(403, "your role may not do this")
    appeal = await _visible(reads, appeal_id, user)
    if action == "note" and not comment.strip():
        return _page(request, user, appeal, status_code=422, errors={"note.comment": "form.text_required"})
    request_id = action_key or uuid.uuid4().hex
    outcome = await services.appeal_action(
        appeal_id, {"kind": ACTION_KINDS[action], "text": comment.strip(), "by": user.name, "request_id": request_id}
    )
    return _outcome(request, user, appeal, outcome, action)


def _outcome(request: Request, user: UserDoc, appeal: AppealDetail, outcome, action: str):
    if isinstance(outcome, Unavailable):
        return _page(request, user, appeal, status_code=503, outage=outcome.service, failed=action)
    if isinstance(outcome, Refused):
        errors = {f"{action}.{name}": message for name, message in outcome.fields.items()}
        return _page(request, user, appeal, status_code=422, errors=errors, refusal=outcome.detail, failed=action)
    return RedirectResponse(f"/appeals/{appeal.appeal_id}?done={action}", status_code=303)
