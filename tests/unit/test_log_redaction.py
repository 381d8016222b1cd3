"""Residents' contacts masked in every log line, whatever part of the record carries them."""

import io
import json
import logging

import pytest

from shared.logging import RedactingJsonFormatter, appeal_fields
from shared.redaction import redact


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+380671234567", "+380*******67"),
        ("call 380671234567 now", "call 380*******67 now"),
        ("067 123 45 67", "067 *** ** 67"),
        ("0671234567", "067*****67"),
        ("olena.k@example.com wrote", "o***@example.com wrote"),
        ("input_value='+380441234567'", "input_value='+380*******67'"),
    ],
)
def test_phones_and_emails_are_masked(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "appeal 1000123 registered",
        "2026-12-01 22:27:10,194",
        "event 6f1d3c1e-51c4-4c8f-9d51-155115510671",
        "rules 2026-11-25.41@36d12813275f",
        "parked appeals.intake/2/1764627000123",
    ],
)
def test_ids_times_and_versions_stay_as_they_are(text):
    assert redact(text) == text


def test_a_log_line_is_masked_in_its_message_arguments_extras_and_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingJsonFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("refused +380671234567")
        except ValueError:
            logger.exception("notice to %s failed", "olena@example.com", extra={"recipient": "0671234567"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "+380671234567" not in line and "olena@example.com" not in line and "0671234567" not in line
    record = json.loads(line)
    assert record["message"] == "notice to o***@example.com failed"
    assert record["recipient"] == "067*****67"


def test_appeal_fields_carry_the_ids_that_are_there():
    document = {"appeal_id": "1000001", "event_id": "e1", "correlation_id": "", "text": "..."}
    assert appeal_fields(document) == {"appeal_id": "1000001", "event_id": "e1"}
