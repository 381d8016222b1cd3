"""The call desk: an operator registers an appeal while the caller talks.

As they type: the decision preview (classifier and dispatcher over HTTP), street suggestions with their district,
the caller's earlier appeals (open ones first) and open incidents at the place. Saving sends the appeal to intake's
API as the phone channel with the form's idempotency key: a double click registers one appeal.
"""

import uuid
from pathlib import Path
from typing import Annotated

import phonenumbers
from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from services.console.auth import role_required
from services.console.clients import Refused, Registered, ServiceClients, Unavailable
from services.console.forms import LANGUAGE_CHOICES, NOTIFY_CHOICES, CallForm, check
from services.console.metrics import desk_registrations
from services.console.pages import Screen, render
from services.console.repository import AppealReads, UserDoc
from shared.contracts.base import utcnow

STATIC = Path(__file__).resolve().parents[1] / "static"
router = APIRouter(prefix="/desk")
SCREENS = [Screen("/desk", "nav.desk", ("operator", "supervisor"), access_key="n")]
Operator = Annotated[UserDoc, Depends(role_required("operator", "supervisor"))]


def clients(request: Request) -> ServiceClients:
    return request.app.state.clients


def appeals(request: Request) -> AppealReads:
    return request.app.state.appeals


ClientsDep = Annotated[ServiceClients, Depends(clients)]
AppealsDep = Annotated[AppealReads, Depends(appeals)]


def _desk(request: Request, user: UserDoc, form: CallForm, key: str, status_code: int = 200, **context):
    return render(
        request,
        "desk.html",
        user,
        status_code=status_code,
        form=form,
        idempotency_key=key,
        notify_choices=NOTIFY_CHOICES,
        language_choices=LANGUAGE_CHOICES,
        **context,
    )


@router.get("")
async def desk_page(request: Request, user: Operator):
    return _desk(request, user, CallForm.from_form({}), uuid.uuid4().hex)


@router.post("")
async def register_call(request: Request, user: Operator, services: ClientsDep):
    submitted = await request.form()
    form = CallForm.from_form(submitted)
    key = str(submitted.get("idempotency_key") or "")[:64] or uuid.uuid4().hex
    body = check(form, request.app.state.taxonomy)
    if body is None:
        desk_registrations.labels("refused").inc()
        return _desk(request, user, form, key, status_code=422)
    body["correlation_id"] = f"console:{user.name}:{key}"[:128]
    outcome = await services.register(body, f"console-{key}")
    if isinstance(outcome, Unavailable):
        desk_registrations.labels("unavailable").inc()
        return _desk(request, user, form, key, status_code=503, outage=outcome.service)
    if isinstance(outcome, Refused):
        desk_registrations.labels("refused").inc()
        form.errors.update(outcome.fields)
        return _desk(request, user, form, key, status_code=422, refusal=outcome.detail)
    assert isinstance(outcome, Registered)
    desk_registrations.labels("registered" if outcome.created else "repeated").inc()
    return RedirectResponse(f"/desk/registered/{outcome.appeal_id}", status_code=303)


@router.get("/registered/{appeal_id}")
async def registered(request: Request, user: Operator, appeal_id: Annotated[str, PathParam(pattern=r"^\d{7,12}$")]):
    return render(request, "registered.html", user, appeal_id=appeal_id)


@router.post("/preview")
async def preview(request: Request, user: Operator, services: ClientsDep):
    form = CallForm.from_form(await request.form())
    if not form.value("text"):
        return render(request, "partials/preview.html", user, preview=None, empty=True)
    category = form.value("category")
    if category is not None and category not in request.app.state.taxonomy.categories:
        category = None
    language = form.value("language") if form.value("language") in LANGUAGE_CHOICES else None
    result = await services.preview(form.values["text"][:5000], language, form.address(), utcnow(), category)
    if isinstance(result, Unavailable):
        return render(request, "partials/preview.html", user, preview=None, unavailable=result.service)
    return render(request, "partials/preview.html", user, preview=result)


@router.post("/answers")
async def answers(request: Request, user: Operator, services: ClientsDep):
    """The knowledge base's answers to what the caller says, as the operator types it."""
    form = CallForm.from_form(await request.form())
    text = form.value("text")
    if not text:
        return render(request, "partials/answers.html", user, answers=None)
    language = form.value("language") if form.value("language") in LANGUAGE_CHOICES else "uk"
    found = await services.answers(text, language)
    if isinstance(found, Unavailable):
        return render(request, "partials/answers.html", user, answers=None, unavailable=found.service)
    return render(request, "partials/answers.html", user, answers=found, request_id=uuid.uuid4().hex)


@router.post("/consultation")
async def close_as_consultation(request: Request, user: Operator, services: ClientsDep):
    """The call closed as a consultation with an article: recorded, and no appeal registered."""
    submitted = await request.form()
    article = str(submitted.get("article") or "")[:80]
    request_id = str(submitted.get("request_id") or "")[:64]
    try:
        request_id = str(uuid.UUID(request_id))
    except ValueError:
        request_id = str(uuid.uuid4())
    recorded = await services.record_consultation(article, request_id, user.name)
    if isinstance(recorded, Unavailable):
        return render(request, "partials/consultation.html", user, recorded=False, unavailable=recorded.service)
    return render(request, "partials/consultation.html", user, recorded=recorded, article=article)


@router.get("/streets")
async def streets(request: Request, user: Operator, services: ClientsDep, address: str = ""):
    typed = address.strip()
    found = await services.streets(typed) if len(typed) >= 2 else []
    unavailable = isinstance(found, Unavailable)
    return render(request, "partials/streets.html", user, streets=[] if unavailable else found, unavailable=unavailable)


def e164(phone: str) -> str | None:
    """The number in E.164 if it is a valid one in any usual form (Kyiv's numbers without the country code too)."""
    try:
        parsed = phonenumbers.parse(phone, "UA")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@router.post("/add-to/{appeal_id}")
async def add_to_open_appeal(
    request: Request, user: Operator, services: ClientsDep, appeal_id: Annotated[str, PathParam(pattern=r"^\d{7,12}$")]
):
    """The caller is calling about an open appeal: what they say now goes into its history, not into a duplicate."""
    submitted = await request.form()
    key = str(submitted.get("idempotency_key") or "")[:56] or uuid.uuid4().hex
    text = CallForm.from_form(submitted).value("text")
    if not text:
        return render(request, "partials/added.html", user, appeal_id=appeal_id, error_key="form.text_required")
    # The desk's key for this call: adding it twice (a double click) records it once.
    note = {"kind": "note", "text": f"повторний дзвінок: {text}"[:2000], "by": user.name, "request_id": f"add-{key}"}
    outcome = await services.appeal_action(appeal_id, note)
    if isinstance(outcome, Unavailable | Refused):
        return render(request, "partials/added.html", user, appeal_id=appeal_id, error_key="caller.add_failed")
    return render(request, "partials/added.html", user, appeal_id=appeal_id)


@router.get("/caller")
async def caller(request: Request, user: Operator, reads: AppealsDep, phone: str = "", address: str = ""):
    """The caller's appeals (open first) and open incidents at the place they name."""
    number = e164(phone) if phone.strip() else None
    earlier = await reads.callers_appeals(number) if number else []
    place = address.strip()
    incidents = await reads.open_incidents_at(place) if len(place) >= 3 else []
    return render(request, "partials/caller.html", user, appeals=earlier, incidents=incidents, phone=number)
