"""services/intake/domain.py: registering a submission, deduplication, the channel check, appeal numbers."""

import re
import uuid

import pytest

from services.intake.documents import AppealDoc as IntakeAppealDoc
from services.intake.domain import (
    appeal_number,
    check_channel,
    deduplicate,
    register,
    registered_event_id,
    registration_from_document,
)
from shared.contracts.base import derived_event_id
from shared.contracts.intake import AppealRegistered, AppealSubmitted
from shared.errors import PermanentError
from tests.unit.fakes import NOW, PHONE, RECEIVED, submission_payload


def submission(**overrides) -> AppealSubmitted:
    return AppealSubmitted.model_validate(submission_payload(**overrides))


@pytest.mark.parametrize(
    ("sequence", "number"),
    [(0, "1000000"), (1, "1000001"), (42, "1000042"), (8_999_999, "9999999"), (9_000_000, "10000000")],
)
def test_appeal_number(sequence, number):
    assert appeal_number(sequence) == number
    assert re.fullmatch(r"\d{7,12}", number)


def test_register_builds_the_event_and_the_document():
    sub = submission(correlation_id="chan-42")

    registration = register(sub, "1000007", NOW)
    event, document = registration.event, registration.document.to_document()

    assert isinstance(event, AppealRegistered)
    assert event.appeal_id == "1000007"
    assert event.event_id == derived_event_id("registered", "web:web-1")
    assert event.correlation_id == "chan-42"
    assert (event.occurred_at, event.registered_at, event.received_at) == (NOW, NOW, RECEIVED)
    assert (event.channel, event.text, event.address) == ("web", sub.text, sub.address)
    assert event.contact.model_dump() == sub.contact.model_dump()

    assert document["_id"] == "1000007"
    assert document["intake_key"] == "web:web-1"
    assert document["status"] == "registered"
    assert document["contact"]["phone"] == PHONE
    assert document["address"] == {"text": "вул. Героїв Дніпра, 5", "district": "obolonskyi", "lat": None, "lon": None}
    assert document["history"] == [{"status": "registered", "at": NOW, "event_id": str(event.event_id), "by": "intake"}]
    assert document["correlation_id"] == "chan-42"


def test_register_correlates_on_the_submission_id_when_the_channel_gives_none():
    event_id = uuid.uuid4()
    sub = submission(event_id=str(event_id))

    assert register(sub, "1000001", NOW).event.correlation_id == str(event_id)


def test_register_without_contact_or_address_stores_none():
    registration = register(submission(contact=None, address=None), "1000001", NOW)

    assert registration.document.contact is None
    assert registration.document.address is None
    assert registration.event.contact is None


def test_resubmission_is_announced_with_the_same_event_id():
    first = submission(event_id=str(uuid.uuid4()), text="Перша спроба")
    again = submission(event_id=str(uuid.uuid4()), text="Друга спроба")

    assert first.intake_key() == again.intake_key() == "web:web-1"
    assert registered_event_id(first.intake_key()) == registered_event_id(again.intake_key())
    assert register(first, "1000001", NOW).event.event_id == register(again, "1000002", NOW).event.event_id


def test_registered_event_id_is_derived_from_the_intake_key():
    assert registered_event_id("web:web-1") == derived_event_id("registered", "web:web-1")
    assert registered_event_id("web:web-1") != registered_event_id("phone:web-1")
    assert registered_event_id("web:web-1") != registered_event_id("web:web-2")


def test_anonymous_submissions_get_the_event_id_of_their_own_key():
    first = submission(external_id=None, event_id=str(uuid.uuid4()))
    again = submission(external_id=None, event_id=str(first.event_id))
    other = submission(external_id=None, event_id=str(uuid.uuid4()))

    assert register(first, "1000001", NOW).event.event_id == registered_event_id(f"event:{first.event_id}")
    assert register(again, "1000002", NOW).event.event_id == register(first, "1000001", NOW).event.event_id
    assert register(other, "1000003", NOW).event.event_id != register(first, "1000001", NOW).event.event_id


def test_without_external_id_the_intake_key_is_the_submission_id():
    event_id = uuid.uuid4()
    sub = submission(external_id=None, event_id=str(event_id))

    assert sub.intake_key() == f"event:{event_id}"
    assert register(sub, "1000001", NOW).document.intake_key == f"event:{event_id}"


def test_registration_from_document_repeats_the_original_event():
    sub = submission()
    registration = register(sub, "1000003", NOW)

    assert registration_from_document(registration.document) == registration.event


@pytest.mark.parametrize(
    "overrides",
    [{}, {"external_id": None, "event_id": "0b6a5a8e-6b0a-4f2f-9d1f-1f5a2a7f7c11"}, {"contact": None, "address": None}],
    ids=["channel-id", "anonymous", "no-contact-no-address"],
)
def test_registration_from_document_needs_only_the_stored_document(overrides):
    registration = register(submission(correlation_id="chan-7", **overrides), "1000004", NOW)
    # What the store gives back: a copy, with nothing of the submission at hand.
    stored = IntakeAppealDoc.model_validate({**registration.document.to_document(), "status": "registered"})

    event = registration_from_document(stored)

    assert event == registration.event
    assert event.event_id == registered_event_id(stored.intake_key)


def test_registration_from_document_takes_the_event_id_from_the_stored_intake_key():
    document = register(submission(), "1000005", NOW).document.model_copy(update={"intake_key": "phone:other-request"})

    assert registration_from_document(document).event_id == derived_event_id("registered", "phone:other-request")


def test_registration_from_document_without_a_correlation_id_has_an_empty_one():
    document = register(submission(), "1000006", NOW).document.model_copy(update={"correlation_id": None})

    assert registration_from_document(document).correlation_id == ""


def test_deduplicate_keeps_the_first_submission_of_each_key_in_order():
    a1 = submission(external_id="a", text="перша")
    b = submission(external_id="b")
    a2 = submission(external_id="a", text="друга")
    phone_a = submission(channel="phone", external_id="a")
    anonymous_1 = submission(external_id=None, event_id=str(uuid.uuid4()))
    anonymous_2 = submission(external_id=None, event_id=str(uuid.uuid4()))

    kept = deduplicate([a1, b, a2, phone_a, anonymous_1, anonymous_2, anonymous_1])

    assert kept == [a1, b, phone_a, anonymous_1, anonymous_2]
    assert kept[0].text == "перша"


def test_deduplicate_of_nothing_is_nothing():
    assert deduplicate([]) == []


@pytest.mark.parametrize("channel", ["phone", "web", "mobile", "superapp", "gov_contact_center", "tv"])
def test_check_channel_accepts_registered_channels(channels, channel):
    assert check_channel(submission(channel=channel), channels) is None


def test_check_channel_refuses_an_unknown_channel_permanently(channels):
    with pytest.raises(PermanentError) as caught:
        check_channel(submission(channel="fax"), channels)

    assert caught.value.reason == "unknown-channel"
    assert "'fax'" in caught.value.detail
