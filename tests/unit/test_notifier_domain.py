"""services/notifier/domain.py: notices in three languages, skipped notices, the template file's validation."""

from pathlib import Path

import pytest
import yaml

from services.notifier.domain import (
    SAMPLE_VALUES,
    TemplatesError,
    assignment_notice,
    choose_transport,
    load_templates,
    registration_notice,
)
from services.notifier.settings import DEFAULT_TEMPLATES
from shared.contracts.intake import ResidentContact
from tests.unit.fakes import NOW, PHONE, assigned_event, registered_event

HINT = "1551 або kyiv1551.gov.ua"
# 09:30 UTC on 18 January is 11:30 in Kyiv (UTC+2 in winter).
DUE = "18.01.2026 11:30"


def contact(language: str = "uk", **overrides) -> ResidentContact:
    return ResidentContact(**{"phone": PHONE, "language": language, **overrides})


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("uk", f"Ваше звернення № 1000001 зареєстровано. Статус: {HINT}"),
        ("ru", f"Ваше обращение № 1000001 зарегистрировано. Статус: {HINT}"),
        ("en", f"Your appeal No. 1000001 is registered. Status: {HINT}"),
    ],
)
def test_registration_notice_in_the_residents_language(templates, language, text):
    notice = registration_notice(registered_event(contact=contact(language)), templates, HINT, NOW)

    assert notice.text == text
    assert (notice.kind, notice.language, notice.transport, notice.state, notice.reason) == (
        "registered",
        language,
        "sms",
        "recorded",
        "",
    )


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("uk", f"Звернення № 1000001 (Опалення) передано: КП «Київтеплоенерго». Строк виконання — до {DUE}."),
        ("ru", f"Обращение № 1000001 (Опалення) передано: КП «Київтеплоенерго». Срок выполнения — до {DUE}."),
        ("en", f"Appeal No. 1000001 (Опалення) was passed to КП «Київтеплоенерго». Due by {DUE}."),
    ],
)
def test_assignment_notice_in_the_residents_language(templates, taxonomy, language, text):
    notice = assignment_notice(assigned_event(contact=contact(language)), templates, taxonomy, NOW)

    assert notice.kind == "assigned"
    assert notice.text == text


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("uk", f"Звернення № 1000001 опрацьовує оператор Контактного центру. Строк відповіді — до {DUE}."),
        ("ru", f"Обращение № 1000001 обрабатывает оператор Контактного центра. Срок ответа — до {DUE}."),
        ("en", f"Appeal No. 1000001 is being handled by a contact-center operator. Answer due by {DUE}."),
    ],
)
def test_triage_notice_in_the_residents_language(templates, taxonomy, language, text):
    event = assigned_event(
        outcome="triage",
        department="contact_center",
        department_name="КЦ",
        category="unclassified",
        contact=contact(language),
    )

    notice = assignment_notice(event, templates, taxonomy, NOW)

    assert notice.kind == "triage"
    assert notice.text == text


def test_summer_due_date_is_in_kyiv_summer_time(templates, taxonomy):
    from datetime import UTC, datetime

    event = assigned_event(contact=contact("en"), due_at=datetime(2026, 7, 1, 21, 15, tzinfo=UTC))

    assert "Due by 02.07.2026 00:15." in assignment_notice(event, templates, taxonomy, NOW).text


def test_an_unknown_language_falls_back_to_ukrainian(templates):
    text = templates.render("registered", "de", {"appeal_id": "1000001", "status_hint": HINT})

    assert text.startswith("Ваше звернення № 1000001")


@pytest.mark.parametrize(
    ("resident", "transport", "reason"),
    [
        (None, "none", "no-contact"),
        (ResidentContact(name="Олена"), "none", "no-contact"),
        (ResidentContact(phone=PHONE, notifications=False), "none", "opt-out"),
        (ResidentContact(email="olena@example.com", notifications=False), "none", "opt-out"),
        (ResidentContact(phone=PHONE), "sms", ""),
        (ResidentContact(email="olena@example.com"), "email", ""),
        (ResidentContact(phone=PHONE, email="olena@example.com"), "sms", ""),
    ],
    ids=["none", "name-only", "opt-out-phone", "opt-out-email", "phone", "email", "phone-and-email"],
)
def test_choose_transport(resident, transport, reason):
    assert choose_transport(resident) == (transport, reason)


@pytest.mark.parametrize(
    ("resident", "reason"),
    [(None, "no-contact"), (ResidentContact(name="Олена"), "no-contact"), (contact(notifications=False), "opt-out")],
    ids=["no-contact", "name-only", "opt-out"],
)
def test_a_resident_who_cannot_be_told_gets_a_skipped_notice_with_the_reason(templates, taxonomy, resident, reason):
    registered = registration_notice(registered_event(contact=resident), templates, HINT, NOW)
    assigned = assignment_notice(assigned_event(contact=resident), templates, taxonomy, NOW)

    for notice in (registered, assigned):
        assert (notice.transport, notice.state, notice.reason) == ("none", "skipped", reason)
        # The decision is recorded with the text the resident would have got.
        assert "1000001" in notice.text


def test_notice_document_is_keyed_by_appeal_and_kind(templates):
    event = registered_event(contact=contact())

    document = registration_notice(event, templates, HINT, NOW).document()

    assert document["_id"] == "1000001:registered"
    assert document["event_id"] == str(event.event_id)
    assert document["created_at"] == NOW
    assert set(document) == {
        "_id",
        "appeal_id",
        "kind",
        "transport",
        "state",
        "reason",
        "text",
        "language",
        "event_id",
        "created_at",
    }


# --- the template file -------------------------------------------------------------------------


def _shipped() -> dict:
    return yaml.safe_load(DEFAULT_TEMPLATES.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "templates.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _without(kind: str) -> dict:
    data = _shipped()
    del data[kind]
    return data


def _with(kind: str, texts: dict) -> dict:
    return _shipped() | {kind: texts}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_without("triage"), "triage"),
        (_with("assigned", {"ru": "x", "en": "y"}), "assigned has no Ukrainian (uk) text"),
        (_with("registered", {"uk": "x", "de": "y"}), "de"),
        (_with("registered", {"uk": "Звернення {{ appeal_id "}), "registered.uk: "),
        (_shipped() | {"reminder": {"uk": "x"}}, "reminder"),
        ("registered: [unclosed\n", "templates.yaml"),
    ],
    ids=["missing-kind", "missing-uk", "unknown-language", "jinja-syntax", "unknown-kind", "broken-yaml"],
)
def test_invalid_templates_are_refused_with_the_problem_named(tmp_path, data, problem):
    path = _write(tmp_path, data)

    with pytest.raises(TemplatesError) as caught:
        load_templates(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_a_jinja_syntax_error_names_the_kind_the_language_and_the_error(tmp_path):
    path = _write(tmp_path, _with("triage", {"uk": "Звернення {{ appeal_id }}", "en": "Appeal {% if %}"}))

    with pytest.raises(TemplatesError) as caught:
        load_templates(path)

    assert str(caught.value).startswith(f"{path}: triage.en: ")
    assert "Expected an expression" in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "language", "text", "variable"),
    [
        ("registered", "uk", "Звернення № {{ apeal_id }} зареєстровано", "apeal_id"),
        ("assigned", "ru", "Обращение № {{ appeal_id }} передано: {{ departmen_name }}", "departmen_name"),
        ("triage", "en", "Appeal No. {{ appeal_id }} due by {{ due }}", "due"),
        # A variable another kind has: a registration notice knows no department and no due date.
        ("registered", "en", "Appeal {{ appeal_id }} goes to {{ department_name }}", "department_name"),
        ("registered", "ru", "Обращение {{ appeal_id }} до {{ due_date }}", "due_date"),
    ],
    ids=["registered-uk-typo", "assigned-ru-typo", "triage-en-typo", "registered-department", "registered-due-date"],
)
def test_a_misspelt_variable_is_refused_on_load_naming_kind_and_language(tmp_path, kind, language, text, variable):
    data = _shipped()
    data[kind] = data[kind] | {language: text}
    path = _write(tmp_path, data)

    with pytest.raises(TemplatesError) as caught:
        load_templates(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: {kind}.{language}: ")
    assert f"'{variable}' is undefined" in message


def test_an_unknown_filter_is_refused_on_load(tmp_path):
    path = _write(tmp_path, _with("assigned", {"uk": "Звернення {{ appeal_id | shout }}"}))

    with pytest.raises(TemplatesError, match=r"assigned\.uk: .*shout"):
        load_templates(path)


@pytest.mark.parametrize("kind", ["registered", "assigned", "triage"])
def test_every_variable_of_a_kind_may_be_used(tmp_path, kind):
    text = " ".join(f"{{{{ {name} }}}}" for name in SAMPLE_VALUES[kind])
    path = _write(tmp_path, _with(kind, {"uk": text}))

    templates = load_templates(path)

    values = {name: f"<{name}>" for name in SAMPLE_VALUES[kind]}
    assert templates.render(kind, "uk", values) == " ".join(values.values())


def test_the_sample_values_are_what_the_notices_pass(templates, taxonomy):
    # Each notice renders with exactly the variables checked at load: a template that loads cannot fail later.
    class Recording:
        def __init__(self) -> None:
            self.seen: dict[str, set[str]] = {}

        def render(self, kind: str, language: str, values: dict) -> str:
            self.seen[kind] = set(values)
            return templates.render(kind, language, values)

    recording = Recording()
    registration_notice(registered_event(contact=contact()), recording, HINT, NOW)
    assignment_notice(assigned_event(contact=contact()), recording, taxonomy, NOW)
    assignment_notice(assigned_event(outcome="triage", category="unclassified"), recording, taxonomy, NOW)

    assert recording.seen == {kind: set(values) for kind, values in SAMPLE_VALUES.items()}


def test_a_missing_template_file_is_refused(tmp_path):
    with pytest.raises(TemplatesError, match=r"absent\.yaml"):
        load_templates(tmp_path / "absent.yaml")


def test_ukrainian_only_templates_load(tmp_path):
    data = {kind: {"uk": f"{kind} {{{{ appeal_id }}}}"} for kind in ("registered", "assigned", "triage")}

    templates = load_templates(_write(tmp_path, data))

    assert templates.render("triage", "en", {"appeal_id": "1000009"}) == "triage 1000009"
