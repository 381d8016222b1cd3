"""The other services as the console asks them over HTTP (services never import each other).

- intake: `POST /v1/appeals` with the phone channel's API key and an Idempotency-Key: all of intake's validation
  and idempotency apply, and the answer carries the appeal's number;
- classifier: `POST /v1/preview` -> the classification the text would get;
- dispatcher: `POST /v1/preview` -> the assignment, `GET /v1/streets` -> street suggestions, `POST /v1/triage/{id}`
  -> an operator's decision, `POST /v1/appeals/{id}/actions` -> a note, an escalation, a call-back done.

A service that does not answer is `Unavailable`: the screen says so and keeps what the operator typed.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from shared.channel_keys import KEY_HEADER
from shared.contracts.classifier import Classification
from shared.contracts.dispatcher import Assignment
from shared.staff_auth import ACTOR_HEADER

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unavailable:
    """The service did not answer, or answered with a server error; `service` names it."""

    service: str
    detail: str = ""


@dataclass(frozen=True)
class Refused:
    """The service refused the request: `fields` maps a form field to its message; `detail` is for the whole form."""

    status: int
    fields: dict[str, str] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class Registered:
    appeal_id: str
    created: bool


class Street(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    # None: the street crosses districts and its house number does not settle which.
    district: str | None = None
    district_name: str = ""


@dataclass(frozen=True)
class Preview:
    classification: Classification
    assignment: Assignment | None


def field_errors(detail: Any, prefix_to_field: dict[tuple[str, ...], str]) -> dict[str, str]:
    """A FastAPI 422 body's issues by form field: the longest `loc` prefix that names one wins."""
    found: dict[str, str] = {}
    if not isinstance(detail, list):
        return found
    for issue in detail:
        loc = tuple(str(part) for part in issue.get("loc", ()) if part != "body")
        for length in range(len(loc), 0, -1):
            name = prefix_to_field.get(loc[:length])
            if name is not None:
                found.setdefault(name, str(issue.get("msg", "")))
                break
    return found


class ServiceClients:
    def __init__(
        self,
        *,
        intake_url: str,
        classifier_url: str,
        dispatcher_url: str,
        intake_key: SecretStr | None,
        staff_token: SecretStr | None,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        knowledge_url: str = "http://127.0.0.1:8005",
    ) -> None:
        staff = {"Authorization": f"Bearer {staff_token.get_secret_value()}"} if staff_token else {}
        self.staff_headers = staff
        timeout = httpx.Timeout(timeout_s)
        self.intake = httpx.AsyncClient(
            base_url=intake_url,
            timeout=timeout,
            transport=transport,
            headers={KEY_HEADER: intake_key.get_secret_value()} if intake_key else {},
        )
        common = {"timeout": timeout, "transport": transport, "headers": staff}
        self.classifier = httpx.AsyncClient(base_url=classifier_url, **common)
        self.dispatcher = httpx.AsyncClient(base_url=dispatcher_url, **common)
        self.knowledge = httpx.AsyncClient(base_url=knowledge_url, **common)

    async def close(self) -> None:
        for client in (self.intake, self.classifier, self.dispatcher, self.knowledge):
            await client.aclose()

    async def _call(self, service: str, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any):
        try:
            response = await client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            logger.warning("%s did not answer %s %s: %s", service, method, path, error.__class__.__name__)
            return Unavailable(service, error.__class__.__name__)
        # A preview route that is missing or closed to us is as good as a service that does not answer.
        if response.status_code >= 500 or (response.status_code in (401, 404) and path.endswith("preview")):
            return Unavailable(service, f"HTTP {response.status_code}")
        return response

    # ---- knowledge ----

    async def answers(self, question: str, language: str) -> list[dict[str, Any]] | Unavailable:
        """The knowledge base's best articles for what the caller says (an empty list for nothing to answer)."""
        params = {"q": question[:1000], "lang": language}
        response = await self._call("knowledge", self.knowledge, "GET", "/v1/answers", params=params)
        if isinstance(response, Unavailable):
            return response
        if response.status_code != 200:
            return []
        return list(_json(response).get("answers", []))

    async def record_consultation(self, article: str, request_id: str, actor: str) -> bool | Unavailable:
        """The call closed as a consultation with the article, by the operator; False when the article is unknown."""
        body = {"request_id": request_id, "channel": "phone", "article": article}
        response = await self._call(
            "knowledge", self.knowledge, "POST", "/v1/consultations", json=body, headers={ACTOR_HEADER: quote(actor)}
        )
        if isinstance(response, Unavailable):
            return response
        return response.status_code in (200, 201)

    # ---- intake ----

    async def register(self, payload: dict[str, Any], idempotency_key: str) -> Registered | Refused | Unavailable:
        response = await self._call(
            "intake", self.intake, "POST", "/v1/appeals", json=payload, headers={"Idempotency-Key": idempotency_key}
        )
        if isinstance(response, Unavailable):
            return response
        body = _json(response)
        if response.status_code in (200, 201):
            return Registered(body["appeal_id"], bool(body.get("created", True)))
        if response.status_code == 401 or response.status_code == 403:
            logger.error("intake refused the console's phone channel key: HTTP %d", response.status_code)
            return Unavailable("intake", f"HTTP {response.status_code}")
        detail = body.get("detail") if isinstance(body, dict) else None
        fields = field_errors(detail, CALL_FORM_FIELDS)
        message = "" if fields else (detail if isinstance(detail, str) else f"HTTP {response.status_code}")
        return Refused(response.status_code, fields, message)

    async def record_verdict(
        self, appeal_id: str, fixed: bool, comment: str, actor: str
    ) -> dict[str, Any] | Refused | Unavailable:
        """The resident's verdict as they gave it on the phone: intake takes it as staff's (no token)."""
        headers = {**self.staff_headers, ACTOR_HEADER: quote(actor)}
        body = {"fixed": fixed, "comment": comment}
        path = f"/v1/appeals/{appeal_id}/verdict"
        response = await self._call("intake", self.intake, "POST", path, json=body, headers=headers)
        if isinstance(response, Unavailable):
            return response
        answer = _json(response)
        if response.status_code == 200:
            return answer
        detail = answer.get("detail") if isinstance(answer, dict) else None
        return Refused(response.status_code, {}, detail if isinstance(detail, str) else f"HTTP {response.status_code}")

    # ---- previews ----

    async def preview(
        self,
        text: str,
        language: str | None,
        address: dict[str, Any] | None,
        received_at: datetime,
        category: str | None = None,
    ) -> Preview | Unavailable:
        response = await self._call(
            "classifier", self.classifier, "POST", "/v1/preview", json={"text": text, "language": language}
        )
        if isinstance(response, Unavailable):
            return response
        try:
            classification = Classification.model_validate(_json(response)["classification"])
        except (KeyError, TypeError, ValidationError):
            return Unavailable("classifier", f"HTTP {response.status_code}")
        if category is not None and category != classification.category:
            # The operator's choice decides the routing; the rules' explanation stays as it is.
            classification = classification.model_copy(update={"category": category, "decided_by": "operator"})
        response = await self._call(
            "dispatcher",
            self.dispatcher,
            "POST",
            "/v1/preview",
            json={
                "classification": classification.model_dump(mode="json"),
                "address": address,
                "channel": "phone",
                "received_at": received_at.isoformat(),
            },
        )
        if isinstance(response, Unavailable):
            return Preview(classification, None)
        try:
            assignment = Assignment.model_validate(_json(response)["assignment"])
        except (KeyError, TypeError, ValidationError):
            assignment = None
        return Preview(classification, assignment)

    async def streets(self, text: str, limit: int = 10) -> list[Street] | Unavailable:
        response = await self._call(
            "dispatcher", self.dispatcher, "GET", "/v1/streets", params={"q": text, "limit": limit}
        )
        if isinstance(response, Unavailable):
            return response
        if response.status_code != 200:
            return Unavailable("dispatcher", f"HTTP {response.status_code}")
        try:
            return [Street.model_validate(item) for item in _json(response)["items"]]
        except (KeyError, TypeError, ValidationError):
            return Unavailable("dispatcher", "unexpected answer")

    # ---- the dispatcher's staff desk ----

    async def triage(
        self, appeal_id: str, decision: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any] | Refused | Unavailable:
        return await self._staff_post(f"/v1/triage/{appeal_id}", decision, TRIAGE_FIELDS, actor)

    async def appeal_action(self, appeal_id: str, action: dict[str, Any]) -> dict[str, Any] | Refused | Unavailable:
        # The person acting travels as the staff door's actor header, which the desk records (and checks `by` against).
        return await self._staff_post(f"/v1/appeals/{appeal_id}/actions", action, ACTION_FIELDS, action.get("by"))

    async def _staff_post(
        self, path: str, body: dict[str, Any], fields: dict[tuple[str, ...], str], actor: str | None = None
    ) -> dict[str, Any] | Refused | Unavailable:
        # The person acting, as the staff door reads it (percent-encoded: HTTP headers are Latin-1).
        headers = {ACTOR_HEADER: quote(actor)} if actor else {}
        response = await self._call("dispatcher", self.dispatcher, "POST", path, json=body, headers=headers)
        if isinstance(response, Unavailable):
            return response
        answer = _json(response)
        if response.status_code == 200:
            return answer
        detail = answer.get("detail") if isinstance(answer, dict) else None
        found = field_errors(detail, fields)
        message = "" if found else (detail if isinstance(detail, str) else f"HTTP {response.status_code}")
        return Refused(response.status_code, found, message)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


# Where intake's and the dispatcher's validation errors belong on the console's forms.
CALL_FORM_FIELDS = {
    ("text",): "text",
    ("contact", "phone"): "phone",
    ("contact", "email"): "email",
    ("contact", "name"): "name",
    ("contact", "language"): "language",
    ("contact",): "phone",
    ("address", "district"): "district",
    ("address",): "address",
    ("category",): "category",
}
TRIAGE_FIELDS = {("category",): "category", ("department",): "department", ("comment",): "comment"}
ACTION_FIELDS = {("text",): "comment", ("kind",): "kind"}
