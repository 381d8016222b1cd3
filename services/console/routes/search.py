"""Search: one box (an appeal number, a phone in any usual form, or words of the text) and filters; newest first."""

import re
from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.console.auth import CurrentUser
from services.console.pages import KYIV, Screen, render
from services.console.repository import AppealQuery
from services.console.routes.desk import AppealsDep, e164
from shared.channels import load_channels

router = APIRouter()
SCREENS = [Screen("/search", "nav.search", ("operator", "supervisor", "department"), access_key="s")]
STATUSES = (
    "registered",
    "classified",
    "assigned",
    "triage",
    "accepted",
    "in_progress",
    "escalated",
    "resolved",
    "rejected",
)
# Appeal numbers are 7 or 8 digits for a long time; longer digit strings are phone numbers.
APPEAL_NUMBER = re.compile(r"^\d{7,8}$")
WORD = re.compile(r"\w{2,}")


class SearchFilters(BaseModel):
    """The search screen's query string; an unknown value is left out with a note beside its filter."""

    model_config = ConfigDict(extra="ignore")

    q: str = Field("", max_length=200)
    status: str = ""
    category: str = ""
    department: str = ""
    district: str = ""
    channel: str = ""
    received_from: date | None = None
    received_to: date | None = None
    page: int = Field(1, ge=1, le=10_000)


def _kyiv_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=KYIV)


def appeal_query(filters: SearchFilters, department_only: str | None) -> AppealQuery:
    """What the box and filters mean: a number, a phone, or words; a department user sees their department only."""
    text = filters.q.strip()
    appeal_id = phone = None
    words: tuple[str, ...] = ()
    if APPEAL_NUMBER.match(text):
        appeal_id = text
    elif text and (number := e164(text)):
        phone = number
    elif text:
        words = tuple(word.lower() for word in WORD.findall(text))[:8]
    return AppealQuery(
        appeal_id=appeal_id,
        phone=phone,
        words=words,
        status=filters.status or None,
        category=filters.category or None,
        department=department_only or filters.department or None,
        district=filters.district or None,
        channel=filters.channel or None,
        received_from=_kyiv_midnight(filters.received_from) if filters.received_from else None,
        received_to=_kyiv_midnight(filters.received_to + timedelta(days=1)) if filters.received_to else None,
    )


def filters_of(request: Request) -> tuple[SearchFilters, dict[str, str]]:
    values = {key: value for key, value in request.query_params.items() if value != ""}
    try:
        return SearchFilters.model_validate(values), {}
    except ValidationError as error:
        bad = {str(issue["loc"][0]): "form.invalid" for issue in error.errors()}
        return SearchFilters.model_validate({k: v for k, v in values.items() if k not in bad}), bad


@router.get("/search")
async def search(request: Request, user: CurrentUser, reads: AppealsDep):
    filters, errors = filters_of(request)
    department_only = user.department if user.role == "department" else None
    query = appeal_query(filters, department_only)
    results, more = await reads.search(query, page=filters.page, page_size=request.app.state.settings.page_size)
    template = "partials/results.html" if request.headers.get("HX-Request") == "true" else "search.html"
    pages = {
        name: request.url.include_query_params(page=number)
        for name, number in (("previous", filters.page - 1), ("next", filters.page + 1))
        if number >= 1 and (name == "previous" or more)
    }
    return render(
        request,
        template,
        user,
        filters=filters,
        errors=errors,
        results=results,
        pages=pages,
        searched=bool(request.query_params),
        statuses=STATUSES,
        channels=sorted(load_channels().channels),
        department_only=department_only,
    )
