"""Intake's side of the resident's replies, the pure part (services/intake/verdicts.py): which token answers what,
and how an SMS reply is read."""

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.verdicts import judge_token, normalized_phone, read_sms_reply, token_hash

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def appeal(status="resolved", purpose="verdict", used_at=None, expires_in=timedelta(days=14), token="good-token-1"):
    awaiting = {"purpose": purpose, "token_hash": token_hash(token), "expires_at": NOW + expires_in, "used_at": used_at}
    return {"_id": "1000001", "status": status, "awaiting_reply": awaiting}


@pytest.mark.parametrize(
    ("document", "token", "purpose", "status"),
    [
        (None, "good-token-1", "verdict", 404),
        (appeal(), "wrong-token-1", "verdict", 403),
        (appeal(used_at=NOW), "good-token-1", "verdict", 410),
        (appeal(expires_in=-timedelta(seconds=1)), "good-token-1", "verdict", 410),
        (appeal(status="reopened"), "wrong-token-1", "verdict", 409),
        (appeal(status="waiting_for_resident", purpose="answer"), "good-token-1", "verdict", 409),
        ({"_id": "1000001", "status": "resolved"}, "good-token-1", "verdict", 409),
        ({"_id": "1000001", "status": "assigned"}, None, "verdict", 409),
    ],
)
def test_a_reply_that_may_not_be_taken_says_why(document, token, purpose, status):
    problem = judge_token("1000001", document, token, purpose, NOW)
    assert problem is not None and problem.status == status


def test_the_right_token_or_staff_may_answer():
    assert judge_token("1000001", appeal(), "good-token-1", "verdict", NOW) is None
    assert judge_token("1000001", appeal(), None, "verdict", NOW) is None
    answer = appeal(status="waiting_for_resident", purpose="answer")
    assert judge_token("1000001", answer, "good-token-1", "answer", NOW) is None


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("1", ("fixed", "")),
        ("Так, дякую", ("fixed", "дякую")),
        ("да", ("fixed", "")),
        ("2 досі не працює", ("not_fixed", "досі не працює")),
        ("НІ! нічого не зроблено", ("not_fixed", "нічого не зроблено")),
        ("нет", ("not_fixed", "")),
        ("а коли?", None),
        ("   ", None),
    ],
)
def test_an_sms_verdict_is_read_from_its_first_word(text, read):
    assert read_sms_reply(text, "verdict") == read


def test_an_sms_answer_is_the_whole_text_and_numbers_are_normalized():
    assert read_sms_reply(" Квартира 12 ", "answer") == ("answer", "Квартира 12")
    assert read_sms_reply("  ", "answer") is None
    assert normalized_phone("044 111 0001") == "+380441110001"
    assert normalized_phone("not a number") is None
