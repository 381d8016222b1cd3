"""The call desk's form checked with the same models intake's API uses (shared.contracts.intake), field by field,
so an error sits beside its field and nothing is sent that intake would refuse. Pure: no I/O."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.contracts.intake import Address, AppealText, Language, SubmittedContact
from shared.taxonomy import Taxonomy

FIELDS = ("text", "address", "district", "phone", "email", "name", "language", "notify", "category")
NOTIFY_CHOICES = ("default", "sms", "email", "none")
LANGUAGE_CHOICES = ("uk", "ru", "en")
_TEXT = TypeAdapter(AppealText)
_LANGUAGE = TypeAdapter(Language)

# The words of an error, by field and pydantic's error type: an i18n key of translations/*.yaml.
MESSAGES = {
    ("text", "string_too_short"): "form.text_required",
    ("text", "string_too_long"): "form.text_too_long",
    ("phone", "value_error"): "form.phone_invalid",
    ("email", "value_error"): "form.email_invalid",
    ("name", "string_too_long"): "form.too_long",
    ("address", "string_too_long"): "form.too_long",
}


@dataclass
class CallForm:
    """What the operator typed (kept as typed, to show again) and, once checked, the errors by field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> "CallForm":
        return cls({name: str(form.get(name) or "").strip() for name in FIELDS})

    def value(self, name: str) -> str | None:
        return self.values.get(name) or None

    def address(self) -> dict[str, Any] | None:
        if not (self.value("address") or self.value("district")):
            return None
        return {"text": self.value("address"), "district": self.value("district")}


def _message(name: str, error: ValidationError) -> str:
    issue = error.errors()[0]
    return MESSAGES.get((name, issue["type"]), "form.invalid")


def check(form: CallForm, taxonomy: Taxonomy) -> dict[str, Any] | None:
    """The body for intake's POST /v1/appeals, or None with `form.errors` filled in."""
    errors: dict[str, str] = {}
    text = None
    try:
        text = _TEXT.validate_python(form.values["text"])
    except ValidationError as error:
        errors["text"] = _message("text", error)
    language = form.values["language"] or "uk"
    try:
        _LANGUAGE.validate_python(language)
    except ValidationError:
        errors["language"] = "form.invalid"
    notify = form.values["notify"] or "default"
    if notify not in NOTIFY_CHOICES:
        errors["notify"] = "form.invalid"
    district = form.value("district")
    if district is not None and district not in taxonomy.districts:
        errors["district"] = "form.unknown_district"
    category = form.value("category")
    if category is not None and (category not in taxonomy.categories or category == "unclassified"):
        errors["category"] = "form.unknown_category"
    if notify in ("sms",) and not form.value("phone"):
        errors["phone"] = "form.phone_needed"
    if notify == "email" and not form.value("email"):
        errors["email"] = "form.email_needed"

    contact = None
    contact_fields = {
        "name": form.value("name"),
        "phone": form.value("phone"),
        "email": form.value("email"),
        "language": language if "language" not in errors else "uk",
        "notifications": notify != "none",
        "preferred_transport": notify if notify in ("sms", "email") else None,
    }
    for name in ("name", "phone", "email"):
        try:
            SubmittedContact.model_validate({name: contact_fields[name]})
        except ValidationError as error:
            errors.setdefault(name, _message(name, error))
    given = any(contact_fields[name] for name in ("name", "phone", "email"))
    if not errors and (given or notify != "default" or language != "uk"):
        contact = SubmittedContact.model_validate(contact_fields).model_dump(mode="json", exclude_none=True)
    address = form.address()
    if address is not None:
        try:
            address = Address.model_validate(address).model_dump(mode="json", exclude_none=True)
        except ValidationError as error:
            errors.setdefault("address", _message("address", error))
    form.errors = errors
    if errors:
        return None
    body: dict[str, Any] = {"text": text}
    if contact:
        body["contact"] = contact
    if address:
        body["address"] = address
    if category:
        body["category"] = category
    return body
