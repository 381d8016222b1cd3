"""The decide step of the notifier: what the resident is told, and over which transport. Pure."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, StrictUndefined, Template, TemplateError
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.contracts.dispatcher import AppealAssigned
from shared.contracts.intake import AppealRegistered, ResidentContact
from shared.taxonomy import Taxonomy

Kind = Literal["registered", "assigned", "triage"]
Language = Literal["uk", "ru", "en"]
KYIV = ZoneInfo("Europe/Kyiv")


class TemplatesError(ValueError):
    """The template file is not valid; the message names the file, kind and language."""


class TemplateFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    registered: dict[Language, str]
    assigned: dict[Language, str]
    triage: dict[Language, str]


@dataclass(frozen=True)
class Templates:
    by_kind: dict[str, dict[str, Template]]

    def render(self, kind: str, language: str, values: dict[str, Any]) -> str:
        per_language = self.by_kind[kind]
        return per_language.get(language, per_language["uk"]).render(**values)


# What each kind of notice may use; a template is rendered with these at load, so a misspelt variable is
# refused on load, naming the kind and the language, instead of failing every notice later.
SAMPLE_VALUES = {
    "registered": {"appeal_id": "1000001", "status_hint": "1551"},
    "assigned": {"appeal_id": "1000001", "category_name": "Ліфти", "department_name": "КП", "due_date": "01.12.2026"},
    "triage": {"appeal_id": "1000001", "category_name": "Ліфти", "department_name": "КП", "due_date": "01.12.2026"},
}


def load_templates(path: Path) -> Templates:
    environment = Environment(undefined=StrictUndefined, autoescape=False)
    try:
        raw = TemplateFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise TemplatesError(f"{path}: {error}") from error
    compiled: dict[str, dict[str, Template]] = {}
    for kind, texts in raw.model_dump().items():
        if "uk" not in texts:
            raise TemplatesError(f"{path}: {kind} has no Ukrainian (uk) text, the default")
        compiled[kind] = {}
        for language, text in texts.items():
            try:
                template = environment.from_string(text)
                template.render(**SAMPLE_VALUES[kind])
            except TemplateError as error:
                raise TemplatesError(f"{path}: {kind}.{language}: {error}") from error
            compiled[kind][language] = template
    return Templates(compiled)


@dataclass(frozen=True)
class Notice:
    """A notification as recorded: `_id` is appeal id and kind, so each is recorded once."""

    appeal_id: str
    kind: Kind
    transport: Literal["sms", "email", "none"]
    state: Literal["recorded", "skipped"]
    reason: str
    text: str
    language: str
    event_id: str
    created_at: datetime

    def document(self) -> dict[str, Any]:
        return {
            "_id": f"{self.appeal_id}:{self.kind}",
            "appeal_id": self.appeal_id,
            "kind": self.kind,
            "transport": self.transport,
            "state": self.state,
            "reason": self.reason,
            "text": self.text,
            "language": self.language,
            "event_id": self.event_id,
            "created_at": self.created_at,
        }


def choose_transport(contact: ResidentContact | None) -> tuple[Literal["sms", "email", "none"], str]:
    if contact is None or not (contact.phone or contact.email):
        return "none", "no-contact"
    if not contact.notifications:
        return "none", "opt-out"
    return ("sms", "") if contact.phone else ("email", "")


def _notice(event: AppealRegistered, kind: Kind, text: str, now: datetime) -> Notice:
    transport, reason = choose_transport(event.contact)
    language = event.contact.language if event.contact else "uk"
    return Notice(
        appeal_id=event.appeal_id,
        kind=kind,
        transport=transport,
        state="skipped" if transport == "none" else "recorded",
        reason=reason,
        text=text,
        language=language,
        event_id=str(event.event_id),
        created_at=now,
    )


def registration_notice(event: AppealRegistered, templates: Templates, status_hint: str, now: datetime) -> Notice:
    language = event.contact.language if event.contact else "uk"
    text = templates.render("registered", language, {"appeal_id": event.appeal_id, "status_hint": status_hint})
    return _notice(event, "registered", text, now)


def assignment_notice(event: AppealAssigned, templates: Templates, taxonomy: Taxonomy, now: datetime) -> Notice:
    assignment = event.assignment
    kind: Kind = "assigned" if assignment.outcome == "assigned" else "triage"
    language = event.contact.language if event.contact else "uk"
    text = templates.render(
        kind,
        language,
        {
            "appeal_id": event.appeal_id,
            "category_name": taxonomy.category(event.classification.category).name,
            "department_name": assignment.department_name,
            "due_date": assignment.due_at.astimezone(KYIV).strftime("%d.%m.%Y %H:%M"),
        },
    )
    return _notice(event, kind, text, now)
