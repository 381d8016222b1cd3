"""The decide step of the notifier: what the resident is told, over which transport, and what happens after a
delivery attempt. Pure: no I/O, no clock."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined, Template, TemplateError
from pydantic import BaseModel, ConfigDict

from services.notifier.documents import NoticeDoc
from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged
from shared.contracts.intake import AppealRegistered, ResidentContact
from shared.taxonomy import Taxonomy
from shared.yamlfile import load_model_located

Kind = Literal[
    "registered",
    "assigned",
    "triage",
    "rerouted",
    "resolved",
    "rejected",
    "answer",
    "reopened",
    "disputed",
    "extended",
    "question",
]
KINDS: tuple[str, ...] = get_args(Kind)
Language = Literal["uk", "ru", "en"]
LANGUAGES: tuple[str, ...] = get_args(Language)
Transport = Literal["sms", "email", "webhook"]
State = Literal["pending", "sending", "sent", "failed", "skipped"]
KYIV = ZoneInfo("Europe/Kyiv")
# The category whose resolution is an answer to a question rather than work done.
INFORMATION_REQUEST = "information_request"


class TemplatesError(ValueError):
    """The template file is not valid; the message names the file, kind, part and language."""


class PerLanguage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    uk: str
    ru: str
    en: str


class KindTemplates(BaseModel):
    """`text` goes by SMS and webhook and is the e-mail's body unless `email` is given; `subject` heads the e-mail."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    subject: PerLanguage
    text: PerLanguage
    email: PerLanguage | None = None


class TemplateFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    registered: KindTemplates
    assigned: KindTemplates
    triage: KindTemplates
    rerouted: KindTemplates
    resolved: KindTemplates
    rejected: KindTemplates
    answer: KindTemplates
    reopened: KindTemplates
    disputed: KindTemplates
    extended: KindTemplates
    question: KindTemplates


# What each kind of notice may use; every template is rendered with these at load, so a misspelt variable is
# refused on load, naming the kind and the language, instead of failing every notice later.
_ASSIGNMENT = {"appeal_id": "1000001", "category_name": "Ліфти", "department_name": "КП", "due_date": "01.12.2026"}
_OUTCOME = {"appeal_id": "1000001", "category_name": "Ліфти", "department_name": "КП", "comment": "Виконано"}
_REPLY = {"reply_link": "http://127.0.0.1:8000/v1/appeals/1000001/reply?token=abc"}
_NEW_DUE = {**_OUTCOME, "due_date": "01.12.2026"}
SAMPLE_VALUES: dict[str, dict[str, str]] = {
    "registered": {"appeal_id": "1000001", "status_hint": "1551"},
    "assigned": _ASSIGNMENT,
    "triage": _ASSIGNMENT,
    "rerouted": _OUTCOME,
    "resolved": {**_OUTCOME, **_REPLY},
    "rejected": _OUTCOME,
    "reopened": _NEW_DUE,
    "disputed": _OUTCOME,
    "extended": _NEW_DUE,
    "question": {**_OUTCOME, **_REPLY},
    "answer": {"appeal_id": "1000001", "category_name": "Довідка", "answer": "Графік: з 8:00 до 20:00"},
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    email_body: str


@dataclass(frozen=True)
class Templates:
    by_kind: dict[str, dict[str, dict[str, Template]]]  # kind -> part -> language -> template

    def render_part(self, kind: str, part: str, language: str, values: dict[str, Any]) -> str:
        per_language = self.by_kind[kind][part]
        return per_language.get(language, per_language["uk"]).render(**values).strip()

    def render(self, kind: str, language: str, values: dict[str, Any]) -> Rendered:
        parts = self.by_kind[kind]
        text = self.render_part(kind, "text", language, values)
        body = self.render_part(kind, "email", language, values) if "email" in parts else text
        return Rendered(self.render_part(kind, "subject", language, values), text, body)


def load_templates(path: Path) -> Templates:
    environment = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    raw, locator = load_model_located(path, TemplateFile, TemplatesError)
    compiled: dict[str, dict[str, dict[str, Template]]] = {}
    for kind, parts in raw.model_dump(exclude_none=True).items():
        compiled[kind] = {}
        for part, texts in parts.items():
            compiled[kind][part] = {}
            for language, text in texts.items():
                try:
                    template = environment.from_string(text)
                    template.render(**SAMPLE_VALUES[kind])
                except TemplateError as error:
                    raise TemplatesError(locator.error((kind, part, language), str(error))) from error
                compiled[kind][part][language] = template
    return Templates(compiled)


# --- SMS length ------------------------------------------------------------------------------------

# GSM 03.38 basic character set; the extension characters count twice. Anything else (Cyrillic) means UCS-2.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(text: str) -> tuple[Literal["gsm-7", "ucs-2"], int]:
    """How the text is encoded and how many SMS segments it costs (concatenated parts carry a header)."""
    if all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in text):
        length = sum(2 if char in _GSM_EXTENDED else 1 for char in text)
        return "gsm-7", 1 if length <= 160 else -(-length // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs-2", 1 if units <= 70 else -(-units // 67)


# --- where the notice goes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    transport: Transport | None
    recipient: str
    reason: str = ""  # why nothing is sent: no-contact, opt-out


def choose_transport(contact: ResidentContact | None, webhook_url: str | None) -> Route:
    """The resident's preference if it can be met; else the channel's app (webhook), SMS, e-mail; else nothing."""
    if contact is None:
        return Route(None, "", "no-contact")
    if not contact.notifications:
        return Route(None, "", "opt-out")
    available: dict[str, str] = {}
    if webhook_url:
        available["webhook"] = webhook_url
    if contact.phone:
        available["sms"] = contact.phone
    if contact.email:
        available["email"] = str(contact.email)
    if contact.preferred_transport in available:
        return Route(contact.preferred_transport, available[contact.preferred_transport])
    for transport in ("webhook", "sms", "email"):
        if transport in available:
            return Route(transport, available[transport])  # type: ignore[arg-type]
    return Route(None, "", "no-contact")


# --- the notice ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A notification as recorded before anything is sent. `key` is its idempotency key: a redelivered event yields
    the same key and is refused by the unique `_id`, so it is never sent twice."""

    key: str
    appeal_id: str
    kind: Kind
    route: Route
    language: str
    rendered: Rendered
    event_id: str
    correlation_id: str
    channel: str | None
    created_at: datetime
    # The process that records the notice sends it at once; if it has not settled it by then (it died), the delivery
    # job takes it over. Longer than any transport's timeout, so the two never send the same notice.
    takeover_at: datetime

    @property
    def state(self) -> State:
        return "pending" if self.route.transport else "skipped"

    def document(self) -> NoticeDoc:
        """The notice as recorded: due at its takeover time if there is something to send."""
        sms = sms_segments(self.rendered.text) if self.route.transport == "sms" else (None, None)
        keeps_body = self.route.transport == "email" and self.rendered.email_body != self.rendered.text
        return NoticeDoc(
            key=self.key,
            appeal_id=self.appeal_id,
            kind=self.kind,
            transport=self.route.transport or "none",
            state=self.state,
            reason=self.route.reason,
            recipient=self.route.recipient,
            subject=self.rendered.subject,
            text=self.rendered.text,
            email_body=self.rendered.email_body if keeps_body else None,
            language=self.language,
            event_id=self.event_id,
            correlation_id=self.correlation_id,
            channel=self.channel,
            sms_encoding=sms[0],
            sms_segments=sms[1],
            attempts=0,
            created_at=self.created_at,
            next_attempt_at=self.takeover_at if self.route.transport else None,
        )


@dataclass(frozen=True)
class NoticeContext:
    """What every notice needs besides its event: templates, the category names, the channels' webhooks, the time."""

    templates: Templates
    taxonomy: Taxonomy
    status_hint: str
    webhooks: Mapping[str, str]
    now: datetime
    takeover_after: timedelta = timedelta(seconds=60)
    # Intake's public address, where a notice's reply link points.
    reply_url: str = ""


def _notice(
    event: AppealRegistered | AppealStatusChanged,
    kind: Kind,
    key: str,
    values: dict[str, Any],
    context: NoticeContext,
) -> Notice:
    contact, channel = event.contact, event.channel
    language = contact.language if contact else "uk"
    return Notice(
        key=key,
        appeal_id=event.appeal_id,
        kind=kind,
        route=choose_transport(contact, context.webhooks.get(channel) if channel else None),
        language=language,
        rendered=context.templates.render(kind, language, values),
        event_id=str(event.event_id),
        correlation_id=event.correlation_id,
        channel=channel,
        created_at=context.now,
        takeover_at=context.now + context.takeover_after,
    )


def registration_notice(event: AppealRegistered, context: NoticeContext) -> Notice:
    values = {"appeal_id": event.appeal_id, "status_hint": context.status_hint}
    return _notice(event, "registered", f"{event.appeal_id}:registered", values, context)


def assignment_notice(event: AppealAssigned, context: NoticeContext) -> Notice:
    assignment = event.assignment
    kind: Kind = "assigned" if assignment.outcome == "assigned" else "triage"
    values = {
        "appeal_id": event.appeal_id,
        "category_name": context.taxonomy.category(event.classification.category).name,
        "department_name": assignment.department_name,
        "due_date": assignment.due_at.astimezone(KYIV).strftime("%d.%m.%Y %H:%M"),
    }
    return _notice(event, kind, f"{event.appeal_id}:{kind}", values, context)


def status_notice(event: AppealStatusChanged, context: NoticeContext) -> Notice | None:
    """A department's outcome, told to the resident; `accepted` and `in_progress` are not worth a message.

    Keys: an outcome is told once per appeal, whatever reports repeat it; a reroute once per new department, so a
    second reroute is told but a redelivered one is not.
    """
    category_name = context.taxonomy.category(event.category).name
    if event.status == "resolved" and event.category == INFORMATION_REQUEST:
        values = {"appeal_id": event.appeal_id, "category_name": category_name, "answer": event.comment}
        return _notice(event, "answer", f"{event.appeal_id}:answer", values, context)
    kind = TOLD.get(event.status)
    if kind is None:
        return None
    values = {
        "appeal_id": event.appeal_id,
        "category_name": category_name,
        "department_name": event.department_name,
        "comment": event.comment,
    }
    if kind in ("resolved", "question"):
        values["reply_link"] = reply_link(event, context)
    if kind in ("reopened", "extended"):
        values["due_date"] = event.due_at.astimezone(KYIV).strftime("%d.%m.%Y %H:%M") if event.due_at else ""
    key = f"{event.appeal_id}:{event.status}"
    if event.status == "rerouted":
        key += f":{event.department}"
    if event.status in ("extended", "waiting_for_resident"):
        # Each extension and each question is its own news.
        key += f":{event.caused_by}"
    elif event.round:
        # Each round of a reopened appeal is told its own outcome.
        key += f":{event.round}"
    return _notice(event, kind, key, values, context)


# Which status changes the resident is told of, by which kind of notice (`closed`, `resumed`, `accepted`,
# `in_progress` are not worth a message).
TOLD: dict[str, Kind] = {
    "resolved": "resolved",
    "rejected": "rejected",
    "rerouted": "rerouted",
    "reopened": "reopened",
    "disputed": "disputed",
    "extended": "extended",
    "waiting_for_resident": "question",
}


def reply_link(event: AppealStatusChanged, context: NoticeContext) -> str:
    """Where the resident answers the notice's question: the single-use token in a link (empty: nothing asked)."""
    if not event.reply_token:
        return ""
    return f"{context.reply_url.rstrip('/')}/v1/appeals/{event.appeal_id}/reply?token={event.reply_token}"


@dataclass(frozen=True)
class Progress:
    """A batch's accepted events, by topic: what the notices of one batch are decided from."""

    registered: Sequence[AppealRegistered] = ()
    assigned: Sequence[AppealAssigned] = ()
    status: Sequence[AppealStatusChanged] = ()


def decide_notices(progress: Progress, context: NoticeContext) -> list[Notice]:
    """The notices of a batch (the decide step: pure): one per event worth telling, keyed for idempotency."""
    notices = [registration_notice(event, context) for event in progress.registered]
    notices += [assignment_notice(event, context) for event in progress.assigned]
    notices += [notice for event in progress.status if (notice := status_notice(event, context)) is not None]
    return notices


# --- after a delivery attempt ----------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff: base, base·factor, … up to cap; after max_attempts the notice has failed."""

    base_s: float = 2.0
    factor: float = 2.0
    cap_s: float = 300.0
    max_attempts: int = 12

    def delay_s(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt (1-based)."""
        return min(self.cap_s, self.base_s * self.factor ** max(attempts - 1, 0))

    def schedule_s(self) -> list[float]:
        return [self.delay_s(attempt) for attempt in range(1, self.max_attempts)]


@dataclass(frozen=True)
class Outcome:
    """What a delivery attempt's result means for the notice."""

    state: State
    next_attempt_at: datetime | None = None
    reason: str = ""
    detail: str = ""
    dead_letter: bool = False


def after_attempt(
    policy: RetryPolicy,
    attempts: int,
    now: datetime,
    *,
    error: str | None = None,
    permanent: bool = False,
    detail: str = "",
) -> Outcome:
    """`attempts` counts the one just made. Success -> sent; a permanent refusal or the last attempt -> failed and a
    dead letter; otherwise pending again after the backoff."""
    if error is None:
        return Outcome("sent")
    if permanent:
        return Outcome("failed", reason=error, detail=detail, dead_letter=True)
    if attempts >= policy.max_attempts:
        return Outcome("failed", reason="retries-exhausted", detail=f"{error}: {detail}", dead_letter=True)
    return Outcome("pending", now + timedelta(seconds=policy.delay_s(attempts)), reason=error, detail=detail)
