"""services/notifier/domain.py: what is said in three languages, over which transport, the template file's
validation, SMS length, the idempotency keys and what happens after a delivery attempt."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from services.notifier.domain import (
    KINDS,
    LANGUAGES,
    SAMPLE_VALUES,
    NoticeContext,
    RetryPolicy,
    Route,
    TemplatesError,
    after_attempt,
    assignment_notice,
    choose_transport,
    load_templates,
    registration_notice,
    sms_segments,
    status_notice,
)
from services.notifier.settings import DEFAULT_TEMPLATES
from shared.contracts.dispatcher import AppealStatusChanged
from shared.contracts.intake import ResidentContact
from tests.unit.fakes import NOW, PHONE, assigned_event, registered_event

HINT = "1551 або kyiv1551.gov.ua"
# 09:30 UTC on 18 January is 11:30 in Kyiv (UTC+2 in winter).
DUE = "18.01.2026 11:30"
WEBHOOK = "https://app.example/hooks/cityline"


@pytest.fixture
def context(templates, taxonomy) -> NoticeContext:
    return NoticeContext(templates, taxonomy, HINT, {"mobile": WEBHOOK}, NOW)


def contact(language: str = "uk", **overrides) -> ResidentContact:
    return ResidentContact(**{"phone": PHONE, "language": language, **overrides})


def status_event(status: str, *, category: str = "heating", comment: str = "", **overrides) -> AppealStatusChanged:
    values = {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"status/{status}/{overrides.get('department', 'x')}"),
        "appeal_id": "1000001",
        "correlation_id": "corr-1000001",
        "status": status,
        "department": "kyivteploenergo",
        "department_name": "КП «Київтеплоенерго»",
        "category": category,
        "comment": comment,
        "contact": contact("uk"),
        "channel": "web",
    }
    return AppealStatusChanged(**(values | overrides))


# --- what is said ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_renders_in_every_language_with_subject_text_and_email_body(templates, kind, language):
    rendered = templates.render(kind, language, SAMPLE_VALUES[kind])

    for part in (rendered.subject, rendered.text, rendered.email_body):
        assert "1000001" in part
        assert "{{" not in part and "{%" not in part
    assert "\n" not in rendered.subject


def test_the_languages_differ(templates):
    texts = {language: templates.render("resolved", language, SAMPLE_VALUES["resolved"]).text for language in LANGUAGES}

    link = SAMPLE_VALUES["resolved"]["reply_link"]
    assert texts == {
        "uk": f"Звернення № 1000001 виконано (КП). Коментар: Виконано Вирішено? Відповідь 1 — так, 2 — ні: {link}",
        "ru": f"Обращение № 1000001 выполнено (КП). Комментарий: Виконано Решено? Ответ 1 — да, 2 — нет: {link}",
        "en": f"Appeal No. 1000001 is resolved (КП). Comment: Виконано Fixed? Reply 1 for yes, 2 for no: {link}",
    }


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("uk", f"Ваше звернення № 1000001 зареєстровано. Статус: {HINT}"),
        ("ru", f"Ваше обращение № 1000001 зарегистрировано. Статус: {HINT}"),
        ("en", f"Your appeal No. 1000001 is registered. Status: {HINT}"),
    ],
)
def test_registration_notice_tells_the_number_and_how_to_check(context, language, text):
    notice = registration_notice(registered_event(contact=contact(language)), context)

    assert notice.rendered.text == text
    assert "1000001" in notice.rendered.subject
    assert "1000001" in notice.rendered.email_body and HINT in notice.rendered.email_body
    assert (notice.kind, notice.language, notice.route, notice.state) == (
        "registered",
        language,
        Route("sms", PHONE),
        "pending",
    )


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("uk", f"Звернення № 1000001 (Опалення) передано: КП «Київтеплоенерго». Строк виконання — до {DUE}."),
        ("ru", f"Обращение № 1000001 (Опалення) передано: КП «Київтеплоенерго». Срок выполнения — до {DUE}."),
        ("en", f"Appeal No. 1000001 (Опалення) was passed to КП «Київтеплоенерго». Due by {DUE}."),
    ],
)
def test_assignment_notice_tells_the_department_and_due_date(context, language, text):
    notice = assignment_notice(assigned_event(contact=contact(language)), context)

    assert (notice.kind, notice.key) == ("assigned", "1000001:assigned")
    assert notice.rendered.text == text


def test_triage_notice(context):
    event = assigned_event(
        outcome="triage", department="contact_center", department_name="КЦ", category="unclassified", contact=contact()
    )

    notice = assignment_notice(event, context)

    assert (notice.kind, notice.key) == ("triage", "1000001:triage")
    assert (
        notice.rendered.text
        == f"Звернення № 1000001 опрацьовує оператор Контактного центру. Строк відповіді — до {DUE}."
    )


def test_summer_due_date_is_in_kyiv_summer_time(context):
    event = assigned_event(contact=contact("en"), due_at=datetime(2026, 7, 1, 21, 15, tzinfo=UTC))

    assert "Due by 02.07.2026 00:15." in assignment_notice(event, context).rendered.text


@pytest.mark.parametrize(
    ("status", "comment", "kind", "key", "text"),
    [
        (
            "resolved",
            "Подачу відновлено",
            "resolved",
            "1000001:resolved",
            "Звернення № 1000001 виконано (КП «Київтеплоенерго»). Коментар: Подачу відновлено",
        ),
        ("resolved", "", "resolved", "1000001:resolved", "Звернення № 1000001 виконано (КП «Київтеплоенерго»)."),
        (
            "rejected",
            "Не в компетенції",
            "rejected",
            "1000001:rejected",
            "Звернення № 1000001 відхилено (КП «Київтеплоенерго»). Причина: Не в компетенції Довідки: 1551.",
        ),
        (
            "rerouted",
            "",
            "rerouted",
            "1000001:rerouted:kyivteploenergo",
            "Звернення № 1000001 (Опалення) передано іншому виконавцю: КП «Київтеплоенерго».",
        ),
    ],
)
def test_a_departments_outcome_is_told_with_its_comment(context, status, comment, kind, key, text):
    notice = status_notice(status_event(status, comment=comment), context)

    assert notice is not None
    assert (notice.kind, notice.key, notice.rendered.text) == (kind, key, text)


def test_an_information_request_resolved_is_the_answer_itself(context):
    event = status_event("resolved", category="information_request", comment="ЦНАП працює з 8:00 до 20:00")

    notice = status_notice(event, context)

    assert (notice.kind, notice.key) == ("answer", "1000001:answer")
    assert notice.rendered.text == "Відповідь на звернення № 1000001: ЦНАП працює з 8:00 до 20:00"


@pytest.mark.parametrize("status", ["accepted", "in_progress"])
def test_intermediate_statuses_are_not_told(context, status):
    assert status_notice(status_event(status), context) is None


def test_a_second_reroute_is_a_new_notice_but_a_redelivered_one_is_not(context):
    first = status_notice(status_event("rerouted", department="kyivvodokanal"), context)
    again = status_notice(status_event("rerouted", department="kyivvodokanal"), context)
    second = status_notice(status_event("rerouted", department="kyivenergo"), context)

    assert first.key == again.key == "1000001:rerouted:kyivvodokanal"
    assert second.key == "1000001:rerouted:kyivenergo"


def test_an_outcome_repeated_by_another_report_keeps_its_key(context):
    one = status_notice(status_event("resolved", event_id=uuid.uuid4()), context)
    other = status_notice(status_event("resolved", event_id=uuid.uuid4()), context)

    assert one.key == other.key


# --- over which transport --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resident", "webhook", "route"),
    [
        (None, None, Route(None, "", "no-contact")),
        (None, WEBHOOK, Route(None, "", "no-contact")),
        (ResidentContact(name="Олена"), None, Route(None, "", "no-contact")),
        (ResidentContact(phone=PHONE, notifications=False), WEBHOOK, Route(None, "", "opt-out")),
        (ResidentContact(email="olena@example.com", notifications=False), None, Route(None, "", "opt-out")),
        (ResidentContact(phone=PHONE), None, Route("sms", PHONE)),
        (ResidentContact(email="olena@example.com"), None, Route("email", "olena@example.com")),
        (ResidentContact(phone=PHONE, email="olena@example.com"), None, Route("sms", PHONE)),
        (ResidentContact(phone=PHONE), WEBHOOK, Route("webhook", WEBHOOK)),
        (ResidentContact(name="Олена"), WEBHOOK, Route("webhook", WEBHOOK)),
        (
            ResidentContact(phone=PHONE, email="olena@example.com", preferred_transport="email"),
            WEBHOOK,
            Route("email", "olena@example.com"),
        ),
        (ResidentContact(phone=PHONE, preferred_transport="sms"), WEBHOOK, Route("sms", PHONE)),
        # A preference that cannot be met falls back to the usual order.
        (ResidentContact(phone=PHONE, preferred_transport="email"), None, Route("sms", PHONE)),
        (
            ResidentContact(email="olena@example.com", preferred_transport="webhook"),
            None,
            Route("email", "olena@example.com"),
        ),
    ],
    ids=[
        "nothing",
        "app-without-contact",
        "name-only",
        "opt-out-app",
        "opt-out-email",
        "phone",
        "email",
        "phone-before-email",
        "app-before-phone",
        "app-name-only",
        "prefers-email",
        "prefers-sms-over-app",
        "prefers-missing-email",
        "prefers-missing-app",
    ],
)
def test_choose_transport(resident, webhook, route):
    assert choose_transport(resident, webhook) == route


def test_an_app_channel_goes_to_its_webhook(context):
    event = registered_event(contact=contact()).model_copy(update={"channel": "mobile"})

    assert registration_notice(event, context).route == Route("webhook", WEBHOOK)


@pytest.mark.parametrize(
    ("resident", "reason"),
    [(None, "no-contact"), (ResidentContact(name="Олена"), "no-contact"), (contact(notifications=False), "opt-out")],
    ids=["no-contact", "name-only", "opt-out"],
)
def test_a_resident_who_cannot_be_told_gets_a_skipped_notice_with_the_reason(context, resident, reason):
    notices = [
        registration_notice(registered_event(contact=resident), context),
        assignment_notice(assigned_event(contact=resident), context),
        status_notice(status_event("resolved", contact=resident), context),
    ]

    for notice in notices:
        document = notice.document().to_document()
        assert (document["transport"], document["state"], document["reason"]) == ("none", "skipped", reason)
        assert "next_attempt_at" not in document  # never due: nothing is sent
        assert "1000001" in document["text"]  # the text the resident would have got is kept


def test_notice_document(context):
    event = registered_event(contact=contact())

    document = registration_notice(event, context).document().to_document()

    assert document["_id"] == "1000001:registered"
    assert document["event_id"] == str(event.event_id)
    assert (document["state"], document["attempts"], document["created_at"], document["next_attempt_at"]) == (
        "pending",
        0,
        NOW,
        NOW + timedelta(seconds=60),  # the recorder sends it now; the delivery job takes over only after that
    )
    assert (document["recipient"], document["sms_encoding"], document["sms_segments"]) == (PHONE, "ucs-2", 2)
    assert document["correlation_id"] == "corr-1000001"


def test_an_email_notice_keeps_its_longer_body(context):
    notice = registration_notice(registered_event(contact=ResidentContact(email="o@example.com")), context)
    document = notice.document().to_document()

    assert document["transport"] == "email"
    assert document["email_body"].startswith("Добрий день!")
    assert "sms_segments" not in document


# --- SMS length ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, ("gsm-7", 1)),
        ("a" * 161, ("gsm-7", 2)),
        ("a" * 306, ("gsm-7", 2)),
        ("a" * 307, ("gsm-7", 3)),
        ("€" * 80, ("gsm-7", 1)),  # extension characters count twice
        ("€" * 81, ("gsm-7", 2)),
        ("ї" * 70, ("ucs-2", 1)),
        ("ї" * 71, ("ucs-2", 2)),
        ("ї" * 134, ("ucs-2", 2)),
        ("ї" * 135, ("ucs-2", 3)),
        ("Appeal No. 1000001 ✓", ("ucs-2", 1)),
    ],
)
def test_sms_segments(text, expected):
    assert sms_segments(text) == expected


# --- after a delivery attempt ----------------------------------------------------------------------


def test_backoff_is_exponential_and_bounded():
    policy = RetryPolicy(base_s=2, factor=2, cap_s=60, max_attempts=8)

    assert policy.schedule_s() == [2, 4, 8, 16, 32, 60, 60]


def test_default_policy_keeps_trying_for_about_half_an_hour():
    assert 20 * 60 < sum(RetryPolicy().schedule_s()) < 40 * 60


def test_success_is_sent():
    assert after_attempt(RetryPolicy(), 3, NOW).state == "sent"


def test_a_transient_failure_waits_for_the_backoff():
    outcome = after_attempt(RetryPolicy(base_s=2), 3, NOW, error="http-503", detail="busy")

    assert (outcome.state, outcome.next_attempt_at, outcome.reason, outcome.dead_letter) == (
        "pending",
        NOW + timedelta(seconds=8),
        "http-503",
        False,
    )


def test_a_permanent_failure_fails_at_once_with_a_dead_letter():
    outcome = after_attempt(RetryPolicy(), 1, NOW, error="http-400", permanent=True, detail="bad number")

    assert (outcome.state, outcome.reason, outcome.detail, outcome.dead_letter) == (
        "failed",
        "http-400",
        "bad number",
        True,
    )


def test_the_last_attempt_fails_with_a_dead_letter():
    outcome = after_attempt(RetryPolicy(max_attempts=5), 5, NOW, error="unreachable", detail="refused")

    assert (outcome.state, outcome.reason, outcome.dead_letter) == ("failed", "retries-exhausted", True)
    assert "unreachable" in outcome.detail


# --- the template file -----------------------------------------------------------------------------


def _shipped() -> dict:
    return yaml.safe_load(DEFAULT_TEMPLATES.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "templates.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _changed(kind: str, part: str, texts: dict | None) -> dict:
    data = _shipped()
    if texts is None:
        del data[kind][part]
    else:
        data[kind][part] = texts
    return data


def _without(kind: str) -> dict:
    data = _shipped()
    del data[kind]
    return data


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_without("answer"), "answer"),
        (_changed("assigned", "text", {"ru": "x", "en": "y"}), "assigned.text.uk"),
        (_changed("resolved", "subject", {"uk": "x", "ru": "y"}), "resolved.subject.en"),
        (_changed("registered", "text", {"uk": "x", "ru": "y", "en": "z", "de": "w"}), "de"),
        (_changed("registered", "subject", None), "registered.subject"),
        (_changed("registered", "sms", {"uk": "x", "ru": "y", "en": "z"}), "sms"),
        (
            _changed("registered", "text", {"uk": "Звернення {{ appeal_id ", "ru": "y", "en": "z"}),
            "registered.text.uk: ",
        ),
        (_shipped() | {"reminder": _shipped()["registered"]}, "reminder"),
        ("registered: [unclosed\n", "templates.yaml"),
    ],
    ids=[
        "missing-kind",
        "missing-uk",
        "missing-en",
        "unknown-language",
        "missing-subject",
        "unknown-part",
        "jinja-syntax",
        "unknown-kind",
        "broken-yaml",
    ],
)
def test_invalid_templates_are_refused_with_the_problem_named(tmp_path, data, problem):
    path = _write(tmp_path, data)

    with pytest.raises(TemplatesError) as caught:
        load_templates(path)

    assert re.match(rf"{re.escape(str(path))}:\d+: ", str(caught.value))  # the file and the line
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "part", "language", "text", "variable"),
    [
        ("registered", "text", "uk", "Звернення № {{ apeal_id }} зареєстровано", "apeal_id"),
        ("assigned", "subject", "ru", "Обращение № {{ appeal_id }}: {{ departmen_name }}", "departmen_name"),
        ("answer", "email", "en", "Appeal No. {{ appeal_id }}: {{ comment }}", "comment"),
        # A variable another kind has: a registration notice knows no department and no due date.
        ("registered", "text", "en", "Appeal {{ appeal_id }} goes to {{ department_name }}", "department_name"),
        ("resolved", "text", "uk", "Звернення {{ appeal_id }} до {{ due_date }}", "due_date"),
    ],
)
def test_a_misspelt_variable_is_refused_on_load_naming_kind_part_and_language(
    tmp_path, kind, part, language, text, variable
):
    data = _shipped()
    data[kind].setdefault(part, dict(data[kind]["text"]))[language] = text
    path = _write(tmp_path, data)

    with pytest.raises(TemplatesError) as caught:
        load_templates(path)

    message = str(caught.value)
    assert re.match(rf"{re.escape(str(path))}:\d+: {kind}\.{part}\.{language}: ", message)  # file, line, entry
    assert f"'{variable}' is undefined" in message


def test_an_unknown_filter_is_refused_on_load(tmp_path):
    path = _write(tmp_path, _changed("assigned", "text", {"uk": "{{ appeal_id | shout }}", "ru": "x", "en": "y"}))

    with pytest.raises(TemplatesError, match=r"assigned\.text\.uk: .*shout"):
        load_templates(path)


@pytest.mark.parametrize("kind", KINDS)
def test_every_variable_of_a_kind_may_be_used(tmp_path, kind):
    text = " ".join(f"{{{{ {name} }}}}" for name in SAMPLE_VALUES[kind])
    path = _write(tmp_path, _changed(kind, "text", {"uk": text, "ru": text, "en": text}))

    templates = load_templates(path)

    values = {name: f"<{name}>" for name in SAMPLE_VALUES[kind]}
    assert templates.render(kind, "uk", values).text == " ".join(values.values())


def test_the_sample_values_are_what_the_notices_pass(templates, taxonomy):
    # Each notice renders with exactly the variables checked at load: a template that loads cannot fail later.
    class Recording:
        def __init__(self) -> None:
            self.seen: dict[str, set[str]] = {}

        def render(self, kind: str, language: str, values: dict):
            self.seen[kind] = set(values)
            return templates.render(kind, language, values)

    recording = Recording()
    context = NoticeContext(recording, taxonomy, HINT, {}, NOW)
    registration_notice(registered_event(contact=contact()), context)
    assignment_notice(assigned_event(contact=contact()), context)
    assignment_notice(assigned_event(outcome="triage", category="unclassified"), context)
    for status in ("resolved", "rejected", "rerouted", "reopened", "disputed", "extended", "waiting_for_resident"):
        status_notice(status_event(status), context)
    status_notice(status_event("resolved", category="information_request"), context)

    assert recording.seen == {kind: set(values) for kind, values in SAMPLE_VALUES.items()}


def test_an_unknown_language_falls_back_to_ukrainian(templates):
    rendered = templates.render("registered", "de", SAMPLE_VALUES["registered"])

    assert rendered.text.startswith("Ваше звернення № 1000001")


def test_a_missing_template_file_is_refused(tmp_path):
    with pytest.raises(TemplatesError, match=r"absent\.yaml"):
        load_templates(tmp_path / "absent.yaml")


def test_a_resolved_notice_asks_with_the_reply_link_and_each_round_is_told(templates, taxonomy):
    context = NoticeContext(templates, taxonomy, HINT, {}, NOW, reply_url="https://1551.example/")
    first = status_notice(status_event("resolved", reply_token="tok123456"), context)
    assert "https://1551.example/v1/appeals/1000001/reply?token=tok123456" in first.rendered.text
    again = status_notice(status_event("resolved", round=1), context)
    assert first.key != again.key and "reply?token" not in again.rendered.text


def test_a_reopened_appeal_and_an_extension_tell_the_new_due_date(templates, taxonomy):
    context = NoticeContext(templates, taxonomy, HINT, {}, NOW)
    due = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    reopened = status_notice(status_event("reopened", due_at=due, round=1), context)
    extended = status_notice(status_event("extended", due_at=due, comment="Чекаємо деталі", caused_by="u1"), context)
    assert "01.02.2026 12:00" in reopened.rendered.text and reopened.kind == "reopened"
    assert "Чекаємо деталі" in extended.rendered.text and "01.02.2026" in extended.rendered.text
    question = status_notice(
        status_event("waiting_for_resident", comment="Який поверх?", reply_token="t1234567"), context
    )
    assert question.kind == "question" and "Який поверх?" in question.rendered.text
    assert status_notice(status_event("closed"), context) is None
