"""The console's pure pieces: the call form's checks, the search box's meaning, translations, settings, sign-in."""

from datetime import date

import pytest
from pydantic import ValidationError

from services.console.auth import SignInLimits, hash_password, password_matches
from services.console.clients import CALL_FORM_FIELDS, field_errors
from services.console.forms import CallForm, check
from services.console.i18n import LANGUAGES, load_translations
from services.console.pages import spoken_number
from services.console.repository import UserDoc
from services.console.routes.search import SearchFilters, appeal_query
from services.console.routes.sign_in import _safe_next
from services.console.settings import ConsoleSettings
from shared.contracts.base import utcnow
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import load_taxonomy
from shared.yamlfile import DataFileError

TAXONOMY = load_taxonomy(DEFAULT_TAXONOMY)


def _form(**values: str) -> CallForm:
    return CallForm.from_form(values)


def test_a_good_call_becomes_intakes_body_with_the_phone_normalized():
    body = check(
        _form(
            text="  Немає опалення ",
            phone="067 123 45 67",
            address="вул. Хрещатик, 1",
            district="pecherskyi",
            notify="sms",
            category="heating",
        ),
        TAXONOMY,
    )
    assert body == {
        "text": "Немає опалення",
        "contact": {"phone": "+380671234567", "language": "uk", "notifications": True, "preferred_transport": "sms"},
        "address": {"text": "вул. Хрещатик, 1", "district": "pecherskyi"},
        "category": "heating",
    }


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"text": ""}, {"text": "form.text_required"}),
        ({"text": "x" * 5001}, {"text": "form.text_too_long"}),
        ({"text": "a", "phone": "12"}, {"phone": "form.phone_invalid"}),
        ({"text": "a", "email": "nope"}, {"email": "form.email_invalid"}),
        ({"text": "a", "district": "atlantis"}, {"district": "form.unknown_district"}),
        ({"text": "a", "category": "unclassified"}, {"category": "form.unknown_category"}),
        ({"text": "a", "notify": "sms"}, {"phone": "form.phone_needed"}),
        ({"text": "a", "notify": "pigeon"}, {"notify": "form.invalid"}),
        ({"text": "a", "language": "de"}, {"language": "form.invalid"}),
    ],
)
def test_each_bad_field_gets_its_own_error_and_nothing_is_sent(values, errors):
    form = _form(**values)
    assert check(form, TAXONOMY) is None
    assert form.errors == errors
    assert form.values["text"] == values["text"].strip()  # kept as typed, to be shown again


def test_a_caller_who_does_not_want_news_is_recorded_so():
    body = check(_form(text="Дякую", notify="none"), TAXONOMY)
    assert body["contact"]["notifications"] is False


def test_intakes_422_lands_beside_the_form_fields():
    detail = [
        {"loc": ["body", "contact", "phone"], "msg": "not a valid phone number"},
        {"loc": ["body", "address", "district"], "msg": "bad"},
        {"loc": ["body", "text"], "msg": "too long"},
    ]
    assert field_errors(detail, CALL_FORM_FIELDS) == {
        "phone": "not a valid phone number",
        "district": "bad",
        "text": "too long",
    }
    assert field_errors("Idempotency-Key was already used", CALL_FORM_FIELDS) == {}


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ("1000123", {"appeal_id": "1000123"}),
        ("+380 (67) 123-45-67", {"phone": "+380671234567"}),
        ("067 123 45 67", {"phone": "+380671234567"}),
        ("Немає ГАРЯЧОЇ води", {"words": ("немає", "гарячої", "води")}),
    ],
)
def test_the_search_box_means_a_number_a_phone_or_words(box, expected):
    query = appeal_query(SearchFilters(q=box), None)
    for name, value in expected.items():
        assert getattr(query, name) == value
    assert {"appeal_id", "phone", "words"} - set(expected) == {
        name for name in ("appeal_id", "phone", "words") if not getattr(query, name)
    }


def test_a_department_user_searches_only_their_department_and_dates_are_kyiv_days():
    query = appeal_query(
        SearchFilters(department="kyivgaz", received_from=date(2026, 3, 1), received_to=date(2026, 3, 1)),
        "kyivvodokanal",
    )
    selector = query.selector()
    assert selector["assignment.department"] == "kyivvodokanal"
    # Kyiv is UTC+2 in March: the day runs from 22:00 UTC the evening before, for 24 hours.
    assert selector["received_at"]["$gte"].isoformat() == "2026-03-01T00:00:00+02:00"
    assert (selector["received_at"]["$lt"] - selector["received_at"]["$gte"]).total_seconds() == 86400


def test_every_language_has_the_words_of_the_default_one():
    translations = load_translations()
    assert set(translations.texts) == set(LANGUAGES)
    keys = {language: set(texts) for language, texts in translations.texts.items()}
    assert keys["en"] == keys["uk"]
    assert translations.translator("en")("search.page", page=3) == "Page 3"
    assert translations.translator("uk")("status.some_new_status") == "some_new_status"


def test_a_translation_file_with_a_bad_key_is_refused_naming_file_and_line(tmp_path):
    (tmp_path / "uk.yaml").write_text('app.name: "A"\nBad Key: "B"\n', encoding="utf-8")
    (tmp_path / "en.yaml").write_text('app.name: "A"\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"uk\.yaml:2"):
        load_translations(tmp_path)
    (tmp_path / "uk.yaml").write_text('app.name: "A"\napp.extra: "B"\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"app\.extra.*missing"):
        load_translations(tmp_path)


@pytest.mark.parametrize("secret", [None, "changethis", "short"])
def test_production_refuses_a_missing_default_or_short_session_secret(secret):
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        ConsoleSettings(environment="production", session_secret=secret)
    assert ConsoleSettings(environment="production", session_secret="x" * 40).secure_cookies


def test_appeal_numbers_are_grouped_as_they_are_read_out():
    assert spoken_number("1000123") == "1 000 123"
    assert spoken_number("12345678") == "12 345 678"


def test_sign_in_attempts_are_limited_per_user_and_per_address():
    limits = SignInLimits(per_user=2, per_ip=3, window_s=60)
    assert limits.retry_after_s("olena", "10.0.0.1") is None
    assert limits.retry_after_s("OLENA", "10.0.0.2") is None
    assert limits.retry_after_s("olena", "10.0.0.3") is not None  # the user's third try, from anywhere
    assert limits.retry_after_s("petro", "10.0.0.1") is None
    assert limits.retry_after_s("ivan", "10.0.0.1") is None
    assert limits.retry_after_s("taras", "10.0.0.1") is not None  # the address's fourth try


def test_passwords_are_checked_against_their_argon2_hash_only():
    now = utcnow()
    user = UserDoc.model_validate(
        {
            "_id": "olena",
            "role": "operator",
            "password_hash": hash_password("correct horse"),
            "created_at": now,
            "password_changed_at": now,
        }
    )
    assert user.password_hash.startswith("$argon2")
    assert password_matches(user, "correct horse")
    assert not password_matches(user, "wrong")
    assert not password_matches(None, "correct horse")


@pytest.mark.parametrize(
    ("target", "safe"), [("/search?q=1", "/search?q=1"), ("//evil.example", None), ("https://evil.example", None)]
)
def test_after_sign_in_only_a_path_of_the_console_is_followed(target, safe):
    assert _safe_next(target) == safe


def test_the_command_line_offers_the_consoles_roles():
    from cityline.users import ROLES as COMMAND_LINE_ROLES
    from services.console.repository import ROLES

    assert COMMAND_LINE_ROLES == ROLES
