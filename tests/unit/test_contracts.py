"""shared/contracts: what events accept and refuse, and that samples of every event still parse."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.contracts.base import EVENT_NAMESPACE, derived_event_id, utcnow
from shared.contracts.classifier import AppealClassified
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import AppealAssigned, DepartmentTask
from shared.contracts.intake import Address, AppealRegistered, AppealSubmitted, ResidentContact, SubmittedContact
from shared.deadletter import describe
from tests.unit.fakes import PHONE, RECEIVED, submission_payload


@pytest.mark.parametrize(
    ("given", "e164"),
    [
        ("067 123 45 67", "+380671234567"),
        ("(050) 123-45-67", "+380501234567"),
        ("0441234567", "+380441234567"),
        ("+380 44 123 45 67", "+380441234567"),
        ("380671234567", "+380671234567"),
        ("+48 601 234 567", "+48601234567"),
    ],
)
def test_phone_is_normalized_to_e164(given, e164):
    assert SubmittedContact(phone=given).phone == e164


@pytest.mark.parametrize("given", ["12345", "abc", "+380 67 123", "067 123 45 67 89 10"])
def test_invalid_phone_is_refused(given):
    with pytest.raises(ValidationError, match="phone"):
        SubmittedContact(phone=given)


def test_contact_defaults_to_ukrainian_and_notifications_on():
    contact = ResidentContact(email="olena@example.com")

    assert (contact.language, contact.notifications, contact.phone) == ("uk", True, None)


@pytest.mark.parametrize("email", ["not-an-email", "olena@", "@example.com"])
def test_invalid_email_is_refused(email):
    with pytest.raises(ValidationError, match="email"):
        ResidentContact(email=email)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(50.4501, 30.5234), (50.2, 30.2), (50.65, 30.95), (50.52, 30.49)],
    ids=["maidan", "south-west-corner", "north-east-corner", "obolon"],
)
def test_coordinates_inside_kyiv_are_accepted(lat, lon):
    assert (Address(lat=lat, lon=lon).lat, Address(lat=lat, lon=lon).lon) == (lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(49.8397, 24.0297), (50.1999, 30.5), (50.66, 30.5), (50.45, 30.19), (50.45, 31.0), (0.0, 0.0)],
    ids=["lviv", "just-south", "just-north", "just-west", "just-east", "null-island"],
)
def test_coordinates_outside_kyiv_are_refused(lat, lon):
    with pytest.raises(ValidationError, match="outside the Kyiv area"):
        Address(lat=lat, lon=lon)


@pytest.mark.parametrize(("lat", "lon"), [(50.45, None), (None, 30.52)])
def test_half_a_coordinate_is_refused(lat, lon):
    with pytest.raises(ValidationError, match="lat and lon go together"):
        Address(lat=lat, lon=lon)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text):
    with pytest.raises(ValidationError) as caught:
        AppealSubmitted.model_validate(submission_payload(text=text))

    assert caught.value.errors()[0]["loc"] == ("text",)


def test_text_up_to_5000_characters_is_accepted_and_stripped():
    text = "я" * 5000

    assert AppealSubmitted.model_validate(submission_payload(text=f"  {text}\n")).text == text


def test_text_over_5000_characters_is_refused():
    with pytest.raises(ValidationError) as caught:
        AppealSubmitted.model_validate(submission_payload(text="я" * 5001))

    assert caught.value.errors()[0]["type"] == "string_too_long"


def test_unknown_fields_of_an_event_are_ignored():
    submitted = AppealSubmitted.model_validate(submission_payload(priority="vip", source_ip="10.0.0.1"))

    assert not hasattr(submitted, "priority")
    assert "priority" not in submitted.model_dump()


def test_unknown_fields_of_a_contact_are_ignored():
    contact = SubmittedContact.model_validate({"phone": "067 123 45 67", "telegram": "@olena", "viber": True})

    assert contact == SubmittedContact(phone=PHONE)
    assert not hasattr(contact, "telegram")
    assert set(contact.model_dump()) == {"name", "phone", "email", "language", "notifications", "preferred_transport"}


def test_unknown_fields_of_an_address_are_ignored():
    address = Address.model_validate({"text": "вул. Хрещатик, 1", "district": "pecherskyi", "floor": 3, "entrance": 2})

    assert address == Address(text="вул. Хрещатик, 1", district="pecherskyi")
    assert set(address.model_dump()) == {"text", "district", "lat", "lon"}


def test_an_unknown_field_does_not_switch_off_the_checks_of_the_known_ones():
    with pytest.raises(ValidationError, match="phone"):
        SubmittedContact.model_validate({"phone": "12345", "telegram": "@olena"})
    with pytest.raises(ValidationError, match="outside the Kyiv area"):
        Address.model_validate({"lat": 0.0, "lon": 0.0, "floor": 3})


def test_nested_unknown_fields_pass_through_every_event_that_carries_the_registration():
    contact = _REGISTERED["contact"] | {"telegram": "@olena"}
    address = _REGISTERED["address"] | {"floor": 3}

    submitted = AppealSubmitted.model_validate(submission_payload(contact=contact, address=address))
    assigned = AppealAssigned.model_validate(_ASSIGNED | {"contact": contact, "address": address})

    for event in (submitted, assigned):
        assert event.contact.model_dump() == ResidentContact(name="Олена", phone=PHONE).model_dump()
        assert event.address == Address(text="вул. Героїв Дніпра, 5", district="obolonskyi", lat=50.52, lon=30.49)
        assert "telegram" not in event.model_dump()["contact"]
        assert "floor" not in event.model_dump()["address"]


def test_a_submission_without_event_id_or_external_id_is_refused():
    payload = submission_payload()
    del payload["external_id"]

    with pytest.raises(ValidationError, match="event_id or external_id is required") as caught:
        AppealSubmitted.model_validate(payload)

    # It reaches the dead-letter topic as an invalid event, the problem named.
    reason, detail = describe(caught.value)
    assert reason == "invalid-event"
    assert "event_id or external_id is required" in detail


def test_a_submission_with_a_null_external_id_and_no_event_id_is_refused():
    with pytest.raises(ValidationError, match="event_id or external_id is required"):
        AppealSubmitted.model_validate(submission_payload(external_id=None))
    with pytest.raises(ValidationError, match="event_id or external_id is required"):
        AppealSubmitted.model_validate_json(json.dumps(submission_payload(external_id=None)))


def test_a_submission_with_only_its_event_id_is_accepted_and_keyed_on_it():
    event_id = "0b6a5a8e-6b0a-4f2f-9d1f-1f5a2a7f7c11"

    submitted = AppealSubmitted.model_validate(submission_payload(external_id=None, event_id=event_id))

    assert str(submitted.event_id) == event_id
    assert submitted.intake_key() == f"event:{event_id}"
    # A redelivery of the same message is the same appeal.
    again = AppealSubmitted.model_validate(submission_payload(external_id=None, event_id=event_id))
    assert again.intake_key() == submitted.intake_key()


def test_a_submission_with_only_its_channel_id_is_accepted_and_keyed_on_it():
    first = AppealSubmitted.model_validate(submission_payload(external_id="req-7"))
    again = AppealSubmitted.model_validate(submission_payload(external_id="req-7"))

    assert "event_id" not in first.model_fields_set
    assert first.event_id != again.event_id
    assert first.intake_key() == again.intake_key() == "web:req-7"


def test_an_empty_external_id_is_refused():
    with pytest.raises(ValidationError, match="external_id"):
        AppealSubmitted.model_validate(submission_payload(external_id=""))


def test_occurred_at_must_carry_a_timezone():
    with pytest.raises(ValidationError, match="timezone"):
        AppealSubmitted.model_validate(submission_payload(occurred_at="2026-01-15T09:00:00"))


def test_events_are_frozen():
    submitted = AppealSubmitted.model_validate(submission_payload())

    with pytest.raises(ValidationError):
        submitted.text = "інший текст"


@pytest.mark.parametrize("appeal_id", ["123", "12345678901234", "A000001", ""])
def test_appeal_id_is_7_to_12_digits(appeal_id):
    with pytest.raises(ValidationError, match="appeal_id"):
        DepartmentUpdate(appeal_id=appeal_id, department="kyivgaz", status="accepted")


def test_kafka_key_is_the_appeal_id():
    assert DepartmentUpdate(appeal_id="1000001", department="kyivgaz", status="accepted").kafka_key() == b"1000001"


def test_intake_key_prefers_the_channels_own_id():
    event_id = uuid.uuid4()

    assert AppealSubmitted.model_validate(submission_payload()).intake_key() == "web:web-1"
    anonymous = AppealSubmitted.model_validate(submission_payload(external_id=None, event_id=str(event_id)))
    assert anonymous.intake_key() == f"event:{event_id}"


def test_derived_event_id_is_deterministic():
    source = uuid.UUID("0b6a5a8e-6b0a-4f2f-9d1f-1f5a2a7f7c11")

    first = derived_event_id("classified", source)

    assert first == derived_event_id("classified", str(source))
    assert first == uuid.uuid5(EVENT_NAMESPACE, f"classified:{source}")
    assert first.version == 5
    assert first != derived_event_id("assigned", source)
    assert first != derived_event_id("classified", uuid.UUID(int=source.int + 1))


def test_utcnow_is_aware_and_to_the_millisecond_as_the_store_keeps_it():
    now = utcnow()

    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0


# --- samples of every event, as a producer writes them -----------------------------------------

_REGISTERED = {
    "event_id": "2f0f3f7e-5b6c-5d57-9c59-3f1a0a35c2b2",
    "occurred_at": "2026-01-15T09:30:00Z",
    "schema_version": 1,
    "correlation_id": "chan-1",
    "appeal_id": "1000001",
    "channel": "phone",
    "text": "Немає опалення",
    "contact": {"name": "Олена", "phone": PHONE, "email": None, "language": "uk", "notifications": True},
    "address": {"text": "вул. Героїв Дніпра, 5", "district": "obolonskyi", "lat": 50.52, "lon": 30.49},
    "received_at": "2026-01-15T09:00:00Z",
    "registered_at": "2026-01-15T09:30:00Z",
}
_CLASSIFIED = _REGISTERED | {
    "classification": {
        "category": "heating",
        "urgency": "high",
        "confidence": 1.0,
        "matched_rules": ["heating:2"],
        "matched_terms": ["опаленн", "немає"],
        "ruleset": "2026-11-25.1",
        "decided_by": "rules",
    }
}
_ASSIGNED = _CLASSIFIED | {
    "assignment": {
        "department": "kyivteploenergo",
        "department_name": "КП «Київтеплоенерго»",
        "district": "obolonskyi",
        "due_at": "2026-01-18T09:30:00Z",
        "outcome": "assigned",
        "reason": "heating -> kyivteploenergo (obolonskyi)",
    }
}
SAMPLES = [
    (AppealSubmitted, submission_payload() | {"event_id": "0b6a5a8e-6b0a-4f2f-9d1f-1f5a2a7f7c11"}),
    (AppealRegistered, _REGISTERED),
    (AppealClassified, _CLASSIFIED),
    (AppealAssigned, _ASSIGNED),
    (
        DepartmentTask,
        {
            "event_id": "7d6f0b1e-3b0c-5e0e-8f5a-9f0e4c1d2a3b",
            "occurred_at": "2026-01-15T09:30:00Z",
            "appeal_id": "1000001",
            "department": "kyivteploenergo",
            "category": "heating",
            "category_name": "Опалення",
            "urgency": "high",
            "text": "Немає опалення",
            "address": _REGISTERED["address"],
            "district": "obolonskyi",
            "due_at": "2026-01-18T09:30:00Z",
        },
    ),
    (
        DepartmentUpdate,
        {
            "appeal_id": "1000001",
            "department": "kyivgaz",
            "status": "misrouted",
            "suggested_department": "kyivvodokanal",
        },
    ),
]


@pytest.mark.parametrize(("model", "sample"), SAMPLES, ids=[model.__name__ for model, _ in SAMPLES])
def test_samples_parse_and_survive_a_round_trip(model, sample):
    event = model.model_validate_json(json.dumps(sample, ensure_ascii=False))

    assert model.model_validate_json(event.model_dump_json()) == event
    if "event_id" in sample:
        assert str(event.event_id) == sample["event_id"]
    assert event.occurred_at.tzinfo is not None


def test_classified_and_assigned_events_carry_the_registration():
    assigned = AppealAssigned.model_validate(_ASSIGNED)

    assert isinstance(assigned, AppealClassified) and isinstance(assigned, AppealRegistered)
    assert assigned.contact == ResidentContact(name="Олена", phone=PHONE)
    assert assigned.received_at == RECEIVED
    assert assigned.assignment.due_at == datetime(2026, 1, 18, 9, 30, tzinfo=UTC)


def test_a_task_refuses_an_unknown_status():
    sample = dict(SAMPLES[4][1]) | {"status": "done"}

    with pytest.raises(ValidationError, match="status"):
        DepartmentTask.model_validate(sample)


def test_events_carry_the_phone_as_intake_normalized_it():
    # Downstream stages trust intake's check: only the E.164 shape is verified, no second parse.
    assert ResidentContact(phone="+380441234567").phone == "+380441234567"
    with pytest.raises(ValidationError, match="phone"):
        ResidentContact(phone="044 123 45 67")
