"""Open311 GeoReport v2 in CityLine's terms: the taxonomy as services, appeals as service requests. Pure.

The shapes follow the specification (https://wiki.open311.org/GeoReport_v2): field names, `open`/`closed`,
errors as a list of {code, description} and the 90-day default window. Lists come in pages of at most MAX_REQUESTS
(`page`/`page_size`, the paging Open311 servers commonly add; the spec caps an answer at 1000, we at 100).
The public sees a request with its private details masked (services.intake.privacy): the resident's words as
`description`, but phone numbers, e-mail addresses, the names the resident gave and flat numbers replaced; its
channel and staff see it whole.

A request's `service_code` has one answer, used both to show it and to filter by it (`request_service_code`): the
classifier's category once it has decided one, the code the resident chose while the classifier has not (or could
only say "unclassified").
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.intake.domain import CLOSED_STATUSES, resident_names
from services.intake.privacy import mask_private, public_address, public_coordinate
from shared.contracts.base import utcnow
from shared.contracts.intake import AppealSubmitted
from shared.taxonomy import Taxonomy

MAX_REQUESTS = 100
DEFAULT_WINDOW = timedelta(days=90)
OPEN311_STATUSES = frozenset({"open", "closed"})
# The spec's field for each field of our submission, so an error names what the client sent.
SPEC_FIELDS = {
    ("text",): "description",
    ("contact", "phone"): "phone",
    ("contact", "email"): "email",
    ("contact", "name"): "first_name",
    ("address", "lat"): "lat",
    ("address", "lon"): "long",
    ("address",): "lat",
    ("address", "text"): "address_string",
    ("attachments",): "media_url",
}


class Open311Error(ValueError):
    """A request the spec's way of answering refuses: HTTP status and description."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def services(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": category.name,
            "description": category.name,
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": category.group,
        }
        for code, category in taxonomy.categories.items()
        if code != "unclassified"
    ]


def token_answer(service_request_id: str) -> list[dict[str, Any]]:
    """GET tokens/{token}: a request is registered before POST answers, so its token is its service_request_id."""
    return [{"service_request_id": service_request_id, "token": service_request_id}]


def service_definition(taxonomy: Taxonomy, code: str) -> dict[str, Any]:
    if code not in taxonomy.categories or code == "unclassified":
        raise Open311Error(404, f"service_code {code!r} not found")
    return {"service_code": code, "attributes": []}


@dataclass(frozen=True)
class ServiceRequestForm:
    """POST requests.json as the spec's form fields (api_key and jurisdiction_id are handled before)."""

    service_code: str
    description: str | None = None
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    media_url: str | None = None


def _spec_message(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        location = tuple(str(part) for part in issue["loc"] if not isinstance(part, int))
        name = SPEC_FIELDS.get(location) or SPEC_FIELDS.get(location[:1]) or ".".join(location) or "request"
        problems.append(f"{name}: {issue['msg']}")
    return "; ".join(problems)


def submission_from_form(
    form: ServiceRequestForm, taxonomy: Taxonomy, *, channel: str, event_id: Any, received_at: datetime
) -> AppealSubmitted:
    if form.service_code not in taxonomy.categories or form.service_code == "unclassified":
        raise Open311Error(404, f"service_code {form.service_code!r} not found")
    if form.lat is None and form.long is None and not form.address_string and not form.address_id:
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    if not form.description:
        raise Open311Error(400, "description: required (the resident's words are the appeal)")
    name = " ".join(part for part in (form.first_name, form.last_name) if part) or None
    contact = None
    if form.phone or form.email or name:
        contact = {"name": name, "phone": form.phone or None, "email": form.email or None}
    payload = {
        "channel": channel,
        "text": form.description,
        "contact": contact,
        "address": {"text": form.address_string or form.address_id or None, "lat": form.lat, "lon": form.long},
        "received_at": received_at,
        "attachments": [form.media_url] if form.media_url else [],
        "requested_category": form.service_code,
    }
    if event_id is not None:
        payload["event_id"] = event_id
    try:
        return AppealSubmitted.model_validate(payload)
    except ValidationError as error:
        raise Open311Error(400, _spec_message(error)) from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


UNDECIDED = (None, "unclassified")


def request_service_code(document: dict[str, Any]) -> str | None:
    """The request's service_code: the classifier's category, or the resident's choice while it has none."""
    code = (document.get("classification") or {}).get("category")
    if code in UNDECIDED and document.get("requested_category"):
        return str(document["requested_category"])
    return code


def service_code_query(codes: list[str]) -> dict[str, Any]:
    """The store query for requests whose request_service_code is one of `codes` (the same rule, as a filter)."""
    return {
        "$or": [
            {"classification.category": {"$in": codes}},
            {"classification.category": {"$in": list(UNDECIDED)}, "requested_category": {"$in": codes}},
        ]
    }


def service_request(document: dict[str, Any], taxonomy: Taxonomy, *, whole: bool) -> dict[str, Any]:
    """One appeal as a GeoReport service request. `whole` (its channel, staff): with the resident's words, the exact
    place and notes as written; otherwise the words and notes masked, the address without its flat and the
    coordinates rounded."""
    assignment = document.get("assignment") or {}
    code = request_service_code(document)
    category = taxonomy.categories.get(taxonomy.aliases.get(code, code)) if code else None
    address = document.get("address") or {}
    notes = [entry["note"] for entry in document.get("history", []) if entry.get("note")]
    status_notes = notes[-1] if notes else None
    attachments = document.get("attachments") or []
    address_text, lat, lon = address.get("text"), address.get("lat"), address.get("lon")
    description = document.get("text")
    if not whole:
        names = resident_names(document.get("contact"))
        description = mask_private(description, names) if description else None
        status_notes = mask_private(status_notes, names) if status_notes else None
        address_text = public_address(address_text, names)
        lat, lon = public_coordinate(lat), public_coordinate(lon)
    return {
        "service_request_id": document["_id"],
        "status": "closed" if document.get("status") in CLOSED_STATUSES else "open",
        "status_notes": status_notes,
        "service_name": category.name if category else None,
        "service_code": code,
        "description": description,
        "agency_responsible": assignment.get("department_name"),
        "service_notice": None,
        "requested_datetime": _iso(document.get("received_at")),
        "updated_datetime": _iso(document.get("updated_at")),
        "expected_datetime": _iso(assignment.get("due_at")),
        "address": address_text,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": attachments[0] if attachments else None,
    }


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def requests_query(
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: datetime | None,
    end_date: datetime | None,
    status: str | None,
    now: Callable[[], datetime] = utcnow,
) -> tuple[list[str] | None, dict[str, Any]]:
    """GET requests.json's filters as (ids, store query). Ids given override every other filter, as the spec says."""
    ids = _split(service_request_id)
    if ids:
        if len(ids) > MAX_REQUESTS:
            raise Open311Error(400, f"service_request_id: at most {MAX_REQUESTS} ids")
        return ids, {"_id": {"$in": ids}}
    statuses = set(_split(status))
    if statuses - OPEN311_STATUSES:
        raise Open311Error(400, f"status: {', '.join(sorted(statuses - OPEN311_STATUSES))} is not open or closed")
    start, end = _aware(start_date), _aware(end_date)
    if start is None and end is None:
        end = now()
    if start is None:
        start = end - DEFAULT_WINDOW
    if end is None:
        end = start + DEFAULT_WINDOW
    if end < start:
        raise Open311Error(400, "end_date: before start_date")
    if end - start > DEFAULT_WINDOW:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    query: dict[str, Any] = {"received_at": {"$gte": start, "$lte": end}}
    codes = _split(service_code)
    if codes:
        query.update(service_code_query(codes))
    if statuses == {"closed"}:
        query["status"] = {"$in": sorted(CLOSED_STATUSES)}
    elif statuses == {"open"}:
        query["status"] = {"$nin": sorted(CLOSED_STATUSES)}
    return None, query
