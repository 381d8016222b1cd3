"""The resident's replies, served on intake's HTTP API (residents and the SMS gateway reach intake, not the
dispatcher): the verdict on a resolved appeal and the answer to a department's question, by the notice's single-use
token (no sign-in), and SMS replies the gateway passes on (authenticated by its shared secret).

Each request: read the question the appeal holds -> judge the reply (pure, below) -> use the token up (one
conditional update: of two requests with one token one wins) -> publish `ResidentReplied` on appeals.replies for the
dispatcher, which owns the appeal's state. If the publish fails the token is given back and the answer is 503, so
nothing is half done.
"""

import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import phonenumbers
from fastapi import APIRouter, Depends, Form, Header, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from pydantic import BaseModel, ConfigDict, Field

from services.intake.repository import ReplyStore
from shared.contracts import topics
from shared.contracts.base import AppealId, derived_event_id
from shared.contracts.residents import Reply, ResidentReplied
from shared.staff_auth import StaffAuth, StaffCaller

logger = logging.getLogger(__name__)

GATEWAY_SECRET_HEADER = "X-CityLine-Gateway-Secret"
Token = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


# ---- request and response bodies ---------------------------------------------------------------------------------


class VerdictIn(BaseModel):
    """Whether the resolved appeal is really fixed, with the token of the notice that asked (staff recording a
    verdict given by phone send the staff token instead)."""

    model_config = ConfigDict(extra="forbid")
    token: Token | None = None
    fixed: bool
    comment: str = Field("", max_length=2000, description="What is still wrong, in the resident's words.")


class AnswerIn(BaseModel):
    """The resident's answer to the department's question, with the token of the notice that asked it."""

    model_config = ConfigDict(extra="forbid")
    token: Token
    text: str = Field(min_length=1, max_length=2000)


class InboundSmsIn(BaseModel):
    """An SMS a resident sent, as the gateway passes it on."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    sender: str = Field(alias="from", max_length=40, description="The resident's number, in any usual form.")
    text: str = Field(max_length=1600)
    message_id: str | None = Field(None, max_length=128, description="The gateway's id of the message.")


class ReplyAccepted(BaseModel):
    appeal_id: str
    reply: Reply
    accepted: bool = True


class InboundSmsOut(BaseModel):
    # `accepted`: passed on as the resident's reply; otherwise recorded and ignored, with why.
    outcome: Literal["accepted", "unknown-number", "unreadable", "already-answered"]
    appeal_id: str | None = None


# ---- decide: pure --------------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Problem:
    status: int
    detail: str


def judge_token(
    appeal_id: str, document: dict[str, Any] | None, token: str | None, purpose: str, now: datetime
) -> Problem | None:
    """Why the reply may not be taken (404 no appeal, 403 wrong token, 410 used or expired, 409 the appeal does not
    await this kind of reply), or None. `token` None: staff record the reply (the resident told them by phone)."""
    if document is None:
        return Problem(404, f"no appeal {appeal_id}")
    awaiting = document.get("awaiting_reply") or {}
    wanted = "resolved" if purpose == "verdict" else "waiting_for_resident"
    if not awaiting:
        return Problem(409, f"appeal {appeal_id} is {document.get('status')}: it awaits no {purpose}")
    if token is not None and not hmac.compare_digest(awaiting.get("token_hash", ""), token_hash(token)):
        if document.get("status") != wanted:
            return Problem(409, f"appeal {appeal_id} is {document.get('status')}: it awaits no {purpose}")
        return Problem(403, "token: not the token of this appeal's notice")
    if awaiting.get("used_at") is not None:
        return Problem(410, "token: already used; the reply was taken")
    if awaiting["expires_at"] <= now:
        return Problem(410, f"token: expired at {awaiting['expires_at'].isoformat()}")
    if awaiting.get("purpose") != purpose or document.get("status") != wanted:
        return Problem(409, f"appeal {appeal_id} is {document.get('status')}: it awaits no {purpose}")
    return None


# The first word of an SMS reply: 1 / yes, 2 / no, in Ukrainian, Russian and English; the rest is the comment.
FIXED_WORDS = {"1", "так", "да", "yes", "y"}
NOT_FIXED_WORDS = {"2", "ні", "нi", "нет", "no", "n"}
_FIRST_WORD = re.compile(r"^\s*([^\s.,!;:]+)[\s.,!;:]*(.*)$", re.DOTALL)


def read_sms_reply(text: str, purpose: str) -> tuple[Reply, str] | None:
    """The reply an SMS gives to the appeal's question; None when it cannot be read as one."""
    if purpose == "answer":
        return ("answer", text.strip()) if text.strip() else None
    match = _FIRST_WORD.match(text)
    if match is None:
        return None
    word, rest = match.group(1).lower(), match.group(2).strip()
    if word in FIXED_WORDS:
        return "fixed", rest
    if word in NOT_FIXED_WORDS:
        return "not_fixed", rest
    return None


def normalized_phone(value: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, "UA")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def reply_event(
    appeal_id: str, awaiting: dict[str, Any], reply: Reply, text: str, via: str, now: datetime, recorded_by: str = ""
) -> Any:
    # Derived from the question: a repeated publish of the one reply is the same event.
    return ResidentReplied(
        event_id=derived_event_id("reply", awaiting["token_hash"]),
        occurred_at=now,
        correlation_id=f"reply-{appeal_id}",
        appeal_id=appeal_id,
        reply=reply,
        text=text,
        via=via,  # type: ignore[arg-type]
        recorded_by=recorded_by,
    )


# ---- the page a notice's link opens --------------------------------------------------------------------------------

_PAGE = Environment(autoescape=True).from_string(
    """<!doctype html><html lang="uk"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Звернення № {{ appeal_id }}</title></head><body>
<h1>Звернення № {{ appeal_id }}</h1>
{% if message %}<p role="status">{{ message }}</p>{% else %}
<form method="post">
<input type="hidden" name="token" value="{{ token }}">
{% if purpose == "verdict" %}<p>Чи справді проблему вирішено?</p>
<label>Коментар <textarea name="text" maxlength="2000"></textarea></label>
<button name="reply" value="fixed">Так, вирішено</button>
<button name="reply" value="not_fixed">Ні, не вирішено</button>
{% else %}<p>Виконавець чекає на вашу відповідь.</p>
<label>Відповідь <textarea name="text" maxlength="2000" required></textarea></label>
<button name="reply" value="answer">Надіслати</button>{% endif %}
</form>{% endif %}
</body></html>"""
)


# ---- the routes ----------------------------------------------------------------------------------------------------


def build_reply_router(
    replies: ReplyStore,
    publisher: Any,
    clock: Callable[[], datetime],
    gateway_secret: str | None,
    staff: StaffAuth,
) -> APIRouter:
    """The reply routes; `publisher` publishes to appeals.replies on intake's broker."""
    router = APIRouter(tags=["replies"])

    async def take(
        appeal_id: str, token: str | None, purpose: str, reply: Reply, text: str, via: str, recorded_by: str = ""
    ) -> ReplyAccepted:
        now = clock()
        document = await replies.awaiting(appeal_id)
        problem = judge_token(appeal_id, document, token, purpose, now)
        if problem is not None:
            raise HTTPException(problem.status, problem.detail)
        assert document is not None
        await publish_once(appeal_id, document["awaiting_reply"], reply, text, via, now, recorded_by)
        return ReplyAccepted(appeal_id=appeal_id, reply=reply)

    async def publish_once(
        appeal_id: str, awaiting: dict[str, Any], reply: Reply, text: str, via: str, now, recorded_by: str = ""
    ) -> None:
        hashed = awaiting["token_hash"]
        if not await replies.claim(appeal_id, hashed, now):
            raise HTTPException(410, "token: already used; the reply was taken")
        event = reply_event(appeal_id, awaiting, reply, text, via, now, recorded_by)
        try:
            await publisher.publish(event.model_dump(mode="json"), key=event.kafka_key())
        except BaseException:
            await replies.release(appeal_id, hashed)
            raise
        logger.info("resident replied %s on %s (event %s)", reply, appeal_id, event.event_id)

    @router.post("/v1/appeals/{appeal_id}/verdict", response_model=ReplyAccepted)
    async def verdict(
        appeal_id: Annotated[AppealId, Path()],
        body: VerdictIn,
        caller: Annotated[StaffCaller | None, Depends(staff.optional)],
    ) -> ReplyAccepted:
        """The resident says whether the resolved appeal is fixed: `fixed: false` reopens it to its department (a
        second time, a supervisor decides), `true` closes it. 403: not this appeal's token; 410: used or expired;
        409: the appeal is not resolved. Staff (the staff token) record a verdict the resident gave by phone."""
        reply: Reply = "fixed" if body.fixed else "not_fixed"
        if body.token is None and caller is None:
            raise RequestValidationError([{"loc": ("body", "token"), "msg": "required", "type": "missing"}])
        if body.token is not None:
            return await take(appeal_id, body.token, "verdict", reply, body.comment, "link")
        by = (caller.actor if caller else None) or "staff"
        return await take(appeal_id, None, "verdict", reply, body.comment, "console", by)

    @router.post("/v1/appeals/{appeal_id}/answer", response_model=ReplyAccepted)
    async def answer(appeal_id: Annotated[AppealId, Path()], body: AnswerIn) -> ReplyAccepted:
        """The resident answers the department's question: the department gets it and its clock runs again."""
        return await take(appeal_id, body.token, "answer", "answer", body.text, "link")

    @router.get("/v1/appeals/{appeal_id}/reply", response_class=HTMLResponse, include_in_schema=False)
    async def reply_page(appeal_id: Annotated[AppealId, Path()], token: Annotated[str, Query(max_length=64)]) -> Any:
        """The page the notice's link opens: the question and its buttons."""
        document = await replies.awaiting(appeal_id)
        purpose = (document or {}).get("awaiting_reply", {}).get("purpose", "verdict")
        problem = judge_token(appeal_id, document, token, purpose, clock())
        message = problem.detail if problem else ""
        page = _PAGE.render(appeal_id=appeal_id, token=token, purpose=purpose, message=message)
        return HTMLResponse(page, status_code=problem.status if problem else 200)

    @router.post("/v1/appeals/{appeal_id}/reply", response_class=HTMLResponse, include_in_schema=False)
    async def reply_form(
        appeal_id: Annotated[AppealId, Path()],
        token: Annotated[str, Form(max_length=64)],
        reply: Annotated[Reply, Form()],
        text: Annotated[str, Form(max_length=2000)] = "",
    ) -> Any:
        purpose = "answer" if reply == "answer" else "verdict"
        try:
            await take(appeal_id, token, purpose, reply, text, "link")
        except HTTPException as error:
            return HTMLResponse(_PAGE.render(appeal_id=appeal_id, message=error.detail), status_code=error.status_code)
        return HTMLResponse(_PAGE.render(appeal_id=appeal_id, message="Дякуємо, відповідь прийнято."))

    @router.post("/v1/sms/inbound", response_model=InboundSmsOut, include_in_schema=True)
    async def inbound_sms(
        body: InboundSmsIn,
        secret: Annotated[str | None, Header(alias=GATEWAY_SECRET_HEADER)] = None,
    ) -> InboundSmsOut:
        """An SMS reply the gateway passes on (its shared secret in the header). Every message is recorded; one from
        a number with no open question, or that cannot be read as an answer, is ignored (200, with the outcome)."""
        if not gateway_secret:
            raise HTTPException(503, "inbound SMS is not configured (CITYLINE_INTAKE_SMS_INBOUND_SECRET)")
        if not secret or not hmac.compare_digest(secret.encode(), gateway_secret.encode()):
            raise HTTPException(403, f"{GATEWAY_SECRET_HEADER}: not the gateway's secret")
        now = clock()
        phone = normalized_phone(body.sender)
        document = await replies.awaiting_by_phone(phone, now) if phone else None
        outcome, appeal_id = "unknown-number", None
        if document is not None:
            appeal_id = document["_id"]
            awaiting = document["awaiting_reply"]
            read = read_sms_reply(body.text, awaiting["purpose"])
            outcome = "unreadable" if read is None else "accepted"
            if read is not None:
                try:
                    await publish_once(appeal_id, awaiting, read[0], read[1], "sms", now)
                except HTTPException:
                    outcome = "already-answered"
        await replies.record_inbound_sms(
            {
                "_id": body.message_id or str(uuid.uuid4()),
                "from": phone or body.sender,
                "text": body.text,
                "received_at": now,
                "outcome": outcome,
                "appeal_id": appeal_id,
            }
        )
        if outcome != "accepted":
            logger.info("inbound SMS ignored: %s", outcome)
        return InboundSmsOut(outcome=outcome, appeal_id=appeal_id)  # type: ignore[arg-type]

    return router


def declare_reply_publisher(router: Any) -> Any:
    return router.publisher(
        topics.APPEALS_REPLIES,
        title=topics.APPEALS_REPLIES,
        description="A resident's reply: whether a resolved appeal is fixed, or the answer to a department's question.",
        schema=ResidentReplied,
    )
