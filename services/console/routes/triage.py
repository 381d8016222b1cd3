"""The triage queue: appeals waiting for a person (unclassified, sent back as misrouted, district unknown), oldest
first, each with one decision: its category or its department, sent to the dispatcher's triage API under the user's
name. Keyboard: j/k move through the queue, c opens the category choice, d the department's, Enter confirms."""

import logging
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from services.console.auth import role_required
from services.console.boards import BoardsDep, ensure_board_indexes
from services.console.clients import Refused, Unavailable
from services.console.pages import Screen, render
from services.console.queues import TRIAGE
from services.console.repository import UserDoc
from services.console.routes.desk import ClientsDep

logger = logging.getLogger(__name__)


@asynccontextmanager
async def board_indexes(app: FastAPI):
    try:
        await ensure_board_indexes(app.state.store)
    except Exception:
        # The store may come later; the boards then read without their indexes until the next start.
        logger.exception("could not build the boards' indexes at start-up")
    yield


router = APIRouter(prefix="/triage", lifespan=board_indexes)
SCREENS = [Screen("/triage", "nav.triage", ("operator", "supervisor"), access_key="t")]
Operator = Annotated[UserDoc, Depends(role_required("operator", "supervisor"))]
AppealNumber = Annotated[str, PathParam(pattern=r"^\d{7,12}$")]
QUEUE_LENGTH = 50


def decision_choices(taxonomy) -> dict[str, tuple[tuple[str, str], ...]]:
    """What an operator may choose for an appeal in triage: any category but "unclassified", any department but the
    contact center itself."""
    return {
        "category_choices": tuple((code, c.name) for code, c in taxonomy.categories.items() if code != "unclassified"),
        "department_choices": tuple(
            (code, taxonomy.department_name(code)) for code in taxonomy.department_codes() if code != "contact_center"
        ),
    }


async def _queue(request: Request, user: UserDoc, boards, status_code: int = 200, **context):
    entries, waiting = await boards.triage_queue(QUEUE_LENGTH)
    return render(
        request,
        "triage.html",
        user,
        status_code=status_code,
        entries=entries,
        waiting=waiting,
        errors=context.pop("errors", {}),
        **decision_choices(request.app.state.taxonomy),
        **context,
    )


@router.get("")
async def triage_queue(request: Request, user: Operator, boards: BoardsDep):
    return await _queue(request, user, boards, done=request.query_params.get("done"))


@router.post("/{appeal_id}")
async def decide(
    request: Request,
    user: Operator,
    boards: BoardsDep,
    services: ClientsDep,
    appeal_id: AppealNumber,
    category: Annotated[str, Form(max_length=64)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
):
    if not category and not department:
        return await _queue(
            request, user, boards, status_code=422, failed=appeal_id, errors={"category": "triage.choose"}
        )
    decision = {"category": category or None, "department": department or None, "comment": comment.strip()}
    outcome = await services.triage(appeal_id, {**decision, "operator": user.name}, actor=user.name)
    if isinstance(outcome, Unavailable):
        return await _queue(request, user, boards, status_code=503, failed=appeal_id, outage=outcome.service)
    if isinstance(outcome, Refused):
        return await _queue(
            request,
            user,
            boards,
            status_code=outcome.status if outcome.status in (404, 409) else 422,
            failed=appeal_id,
            errors=outcome.fields,
            refusal=outcome.detail,
        )
    # Decided: it leaves the queue now; the dispatcher's appeals.assigned puts it where it went.
    boards.queues.leave(appeal_id, TRIAGE)
    return RedirectResponse(f"/triage?done={appeal_id}", status_code=303)
