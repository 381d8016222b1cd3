"""The contact center's triage desk over HTTP: appeals waiting for a person, and the operator's decision.

Staff only (shared.staff_auth): every request carries the staff token, and a decision is recorded under the person
the console names in the actor header with it, never under a name from the body.

Thin like a handler: read -> decide (domain.decide_triage) -> persist and publish through the dispatcher's own
assignment path, so a decided appeal continues exactly as a routed one (task, incident, appeals.assigned).
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from services.dispatcher.domain import Routing, TriageDecision, TriageProblem, decide_triage
from services.dispatcher.repository import DispatcherRepository
from shared.appeals import HistoryEntry
from shared.contracts.base import AppealId, derived_event_id
from shared.contracts.dispatcher import AppealAssigned, Assignment
from shared.staff_auth import ACTOR_HEADER, StaffAuth, StaffCaller

STATUS_CODES = {"not-found": 404, "conflict": 409, "invalid": 422}


class TriageItem(BaseModel):
    appeal_id: str
    text: str
    channel: str
    address: dict[str, Any] | None = None
    received_at: datetime
    category: str | None = None
    urgency: str | None = None
    confidence: float | None = None
    reason: str = ""
    due_at: datetime | None = None


class TriagePage(BaseModel):
    items: list[TriageItem]
    # Pass as `after` for the next page; null on the last page.
    next_after: str | None = None


class TriageRequest(TriageDecision):
    """The operator's decision as sent: who decides comes from the actor header sent with the staff token."""

    operator: str | None = Field(
        None, max_length=100, description=f"Optional; if given it must be the {ACTOR_HEADER} header's name."
    )


class StaffAction(BaseModel):
    """A contact-center action on an appeal that changes no routing: recorded in its history with the person's name.

    `note`: an internal note; `escalation`: raised to a supervisor by hand; `callback`: the resident was called back.
    The same `request_id` is the same action: a repeated request adds nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["note", "escalation", "callback"]
    text: str = Field(default="", max_length=2000)
    by: str = Field(min_length=1, max_length=100)
    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class StaffActionResult(BaseModel):
    appeal_id: str
    recorded: bool = Field(description="False when this request_id was recorded before")


class TriageResult(BaseModel):
    appeal_id: str
    status: str
    assignment: Assignment


def _item(document: dict) -> TriageItem:
    classification = document.get("classification") or {}
    assignment = document.get("assignment") or {}
    return TriageItem(
        appeal_id=document["_id"],
        text=document["text"],
        channel=document["channel"],
        address=document.get("address"),
        received_at=document["received_at"],
        category=classification.get("category"),
        urgency=classification.get("urgency"),
        confidence=classification.get("confidence"),
        reason=assignment.get("reason", ""),
        due_at=assignment.get("due_at"),
    )


def _invalid(location: list[str], message: str) -> HTTPException:
    return HTTPException(422, [{"loc": location, "msg": message, "type": "value_error"}])


def _decision_by(caller: StaffCaller, request: TriageRequest) -> TriageDecision:
    """The decision under the authenticated person's name."""
    if caller.actor is None:
        raise _invalid(["header", ACTOR_HEADER], "required: the name of the person deciding, sent with the token")
    if request.operator is not None and request.operator != caller.actor:
        raise _invalid(["body", "operator"], f"is not the person of the {ACTOR_HEADER} header")
    return TriageDecision(**request.model_dump(exclude={"operator"}), operator=caller.actor)


def build_triage_app(
    repo: DispatcherRepository,
    routing: Routing,
    assign: Callable[[list[AppealAssigned]], Awaitable[list[AppealAssigned]]],
    clock: Callable[[], datetime],
    staff: StaffAuth,
) -> FastAPI:
    app = FastAPI(
        title="CityLine triage desk",
        description="Contact-center operators decide appeals the dispatcher could not route. Staff only.",
        dependencies=[Depends(staff.required)],
    )

    @app.get("/v1/triage", response_model=TriagePage)
    async def list_triage(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        after: Annotated[str | None, Query(pattern=r"^\d{7,12}$")] = None,
    ) -> TriagePage:
        documents = await repo.triage_page(limit, after)
        items = [_item(document) for document in documents]
        return TriagePage(items=items, next_after=items[-1].appeal_id if len(items) == limit else None)

    @app.post("/v1/triage/{appeal_id}", response_model=TriageResult)
    async def decide(
        appeal_id: str, request: TriageRequest, caller: Annotated[StaffCaller, Depends(staff.required)]
    ) -> TriageResult:
        decision = _decision_by(caller, request)
        documents = await repo.load_appeals([appeal_id])
        verdict = decide_triage(documents.get(appeal_id), decision, routing, clock())
        if isinstance(verdict, TriageProblem):
            if verdict.kind == "invalid":
                detail: Any = [{"loc": ["body", verdict.field], "msg": verdict.detail, "type": "value_error"}]
            else:
                detail = f"appeal {appeal_id}: {verdict.detail}"
            raise HTTPException(STATUS_CODES[verdict.kind], detail)
        (assigned,) = await assign([verdict])
        return TriageResult(appeal_id=appeal_id, status=assigned.assignment.outcome, assignment=assigned.assignment)

    @app.post("/v1/appeals/{appeal_id}/actions", response_model=StaffActionResult)
    async def record_action(appeal_id: Annotated[AppealId, Path()], action: StaffAction) -> StaffActionResult:
        if action.kind == "note" and not action.text.strip():
            raise HTTPException(422, [{"loc": ["body", "text"], "msg": "a note needs its text", "type": "value_error"}])
        entry = HistoryEntry(
            status=action.kind,
            at=clock(),
            event_id=str(derived_event_id("staff-action", f"{appeal_id}:{action.request_id}")),
            by=action.by,
            note=action.text.strip(),
        )
        recorded = await repo.record_staff_action(appeal_id, entry)
        if recorded is None:
            raise HTTPException(404, f"appeal {appeal_id}: no such appeal")
        return StaffActionResult(appeal_id=appeal_id, recorded=recorded)

    return app
