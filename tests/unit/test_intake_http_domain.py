"""The pure parts of intake's HTTP API: channel keys, the Kafka channel header, idempotency, the resident's view,
Open311's mapping and filters, the per-channel token bucket."""

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.dependencies import RateLimits
from services.intake.domain import (
    check_channel,
    check_channel_header,
    check_channel_matches,
    idempotent_event_id,
    request_fingerprint,
    resident_view,
)
from services.intake.open311 import (
    Open311Error,
    ServiceRequestForm,
    request_service_code,
    requests_query,
    service_code_query,
    service_definition,
    service_request,
    services,
    submission_from_form,
)
from shared.channel_keys import key_hash, key_matches, key_prefix, new_key
from shared.contracts.intake import AppealSubmitted
from shared.errors import PermanentError
from tests.unit.fakes import NOW, RECEIVED, submission_payload


def submission(**overrides) -> AppealSubmitted:
    return AppealSubmitted.model_validate(submission_payload(**overrides))


# ---- keys ----


def test_a_new_key_is_found_by_its_prefix_and_matches_only_its_hash():
    key, prefix = new_key()
    other, _ = new_key()
    assert key_prefix(key) == prefix
    assert key_matches(key, key_hash(key))
    assert not key_matches(other, key_hash(key))
    assert key != other and len(key) > 50


@pytest.mark.parametrize("key", ["", "nope", "cl_short_x", "xx_0123456789ab_secret", "cl_0123456789ab"])
def test_a_key_not_of_our_shape_has_no_prefix(key):
    assert key_prefix(key) is None


# ---- Kafka channels ----


def test_the_kafka_header_names_a_channel_kind_or_an_api_channel(channels):
    with pytest.raises(PermanentError) as missing:
        check_channel_header(None, channels, {"kyiv_portal"})
    assert missing.value.reason == "missing-channel"
    assert check_channel_header(b"web", channels, set()) == "web"
    assert check_channel_header(b"kyiv_portal", channels, {"kyiv_portal"}) == "kyiv_portal"
    with pytest.raises(PermanentError) as refused:
        check_channel_header(b"kyiv_portal", channels, set())
    assert refused.value.reason == "unknown-channel"


def test_an_api_channel_may_submit_over_kafka_and_the_body_must_match_the_header(channels):
    portal = submission(channel="kyiv_portal")
    assert check_channel(portal, channels, {"kyiv_portal"}) is None
    with pytest.raises(PermanentError):
        check_channel(portal, channels, set())
    assert check_channel_matches(portal, "kyiv_portal") is None
    assert check_channel_matches(portal, None) is None
    with pytest.raises(PermanentError) as mismatch:
        check_channel_matches(portal, "web")
    assert mismatch.value.reason == "channel-mismatch"


# ---- idempotency ----


def test_one_idempotency_key_is_one_event_id_per_channel():
    assert idempotent_event_id("web", "k-1") == idempotent_event_id("web", "k-1")
    assert idempotent_event_id("web", "k-1") != idempotent_event_id("mobile", "k-1")
    assert idempotent_event_id("web", "k-1") != idempotent_event_id("web", "k-2")


def test_the_fingerprint_ignores_key_order_and_sees_every_value():
    assert request_fingerprint({"a": 1, "b": [1, 2]}) == request_fingerprint({"b": [1, 2], "a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})


# ---- what a resident sees ----


def test_the_resident_view_has_progress_but_no_contact_or_text():
    view = {
        "appeal_id": "1000001",
        "status": "resolved",
        "channel": "web",
        "received_at": RECEIVED,
        "history": [
            {"status": "registered", "at": RECEIVED, "event_id": "e1", "by": "intake"},
            {"status": "resolved", "at": NOW, "event_id": "e2", "by": "kyivteploenergo", "note": "Відновлено"},
            {"status": "resolved", "at": NOW, "event_id": "e3", "by": "kyivteploenergo", "note": "Олена, кв. 15: ок"},
        ],
        "classification": {"category": "hot_water", "urgency": "high", "confidence": 0.9},
        "assignment": {"department": "kyivteploenergo", "department_name": "КТЕ", "due_at": NOW},
        "notifications": [{"text": "Шановна Олено", "recipient": "+380671234567"}],
        "contact": {"phone": "+380671234567", "name": "Олена"},
        "text": "Немає води",
    }
    public = resident_view(view)
    assert public["history"][2]["note"] == "[ім'я], [квартира]: ок"
    assert resident_view(view, whole=True)["history"][2]["note"] == "Олена, кв. 15: ок"
    assert public["closed"] is True
    assert public["department"] == {"code": "kyivteploenergo", "name": "КТЕ"}
    assert public["due_at"] == NOW and public["category"] == "hot_water"
    assert public["history"][1] == {"status": "resolved", "at": NOW, "note": "Відновлено"}
    assert "event_id" not in public["history"][0] and "by" not in public["history"][0]
    flat = repr(public)
    assert "+380671234567" not in flat and "Немає води" not in flat and "Олено" not in flat


# ---- Open311 ----


def test_services_are_the_categories_but_unclassified(taxonomy):
    listed = services(taxonomy)
    assert {service["service_code"] for service in listed} == set(taxonomy.categories) - {"unclassified"}
    assert all(service["metadata"] is False and service["type"] == "realtime" for service in listed)
    assert service_definition(taxonomy, "heating") == {"service_code": "heating", "attributes": []}
    with pytest.raises(Open311Error) as missing:
        service_definition(taxonomy, "unclassified")
    assert missing.value.code == 404


def form(**overrides) -> ServiceRequestForm:
    values = {"service_code": "roads", "description": "Яма на дорозі", "lat": 50.45, "long": 30.52}
    return ServiceRequestForm(**{**values, **overrides})


def test_a_form_becomes_a_submission_of_the_keys_channel(taxonomy):
    made = submission_from_form(
        form(first_name="Олена", last_name="К", phone="0671234567", media_url="https://example.com/a.jpg"),
        taxonomy,
        channel="kyiv_portal",
        event_id=idempotent_event_id("kyiv_portal", "k"),
        received_at=NOW,
    )
    assert made.channel == "kyiv_portal" and made.requested_category == "roads"
    assert made.contact.name == "Олена К" and made.contact.phone == "+380671234567"
    assert made.address.lat == 50.45 and made.address.lon == 30.52
    assert [str(url) for url in made.attachments] == ["https://example.com/a.jpg"]


@pytest.mark.parametrize(
    ("overrides", "code", "words"),
    [
        ({"service_code": "teleport"}, 404, "service_code"),
        ({"lat": None, "long": None}, 400, "location"),
        ({"description": None}, 400, "description"),
        ({"lat": 10.0, "long": 10.0}, 400, "lat: "),
        ({"lat": 50.45, "long": None}, 400, "lat and lon go together"),
        ({"phone": "12"}, 400, "phone: "),
        ({"email": "nope"}, 400, "email: "),
        ({"media_url": "ftp:/x"}, 400, "media_url: "),
        ({"description": "x" * 5001}, 400, "description: "),
    ],
)
def test_a_bad_form_is_refused_naming_the_spec_field(taxonomy, overrides, code, words):
    with pytest.raises(Open311Error) as refused:
        submission_from_form(form(**overrides), taxonomy, channel="web", event_id=None, received_at=NOW)
    assert refused.value.code == code
    assert words in refused.value.description


def test_an_appeal_as_a_service_request(taxonomy):
    document = {
        "_id": "1000003",
        "channel": "web",
        "text": "Яма біля під'їзду, дзвоніть Олені 067-123-45-67",
        "status": "rejected",
        "requested_category": "roads",
        "classification": {"category": "roads"},
        "assignment": {"department_name": "Київавтодор", "due_at": NOW + timedelta(days=15)},
        "address": {"text": "вул. Хрещатик, 1, кв. 15", "lat": 50.450123, "lon": 30.523456},
        "contact": {"name": "Олена Петренко", "phone": "+380671234567"},
        "attachments": ["https://example.com/a.jpg"],
        "history": [
            {"status": "rejected", "at": NOW, "note": "Не підтвердилось: дзвонили Олені за 067-123-45-67, кв. 15"}
        ],
        "received_at": RECEIVED,
        "updated_at": NOW,
    }
    public = service_request(document, taxonomy, whole=False)
    assert public["status"] == "closed"
    assert public["status_notes"] == "Не підтвердилось: дзвонили [ім'я] за [телефон], [квартира]"
    assert public["service_code"] == "roads" and public["agency_responsible"] == "Київавтодор"
    assert public["requested_datetime"] == "2026-01-15T09:00:00Z"
    assert public["address"] == "вул. Хрещатик, 1"
    assert public["lat"] == 50.45 and public["long"] == 30.523 and public["media_url"] == "https://example.com/a.jpg"
    # Every reader gets the resident's words, with their private details masked.
    assert public["description"] == "Яма біля під'їзду, дзвоніть [ім'я] [телефон]"
    whole = service_request(document, taxonomy, whole=True)
    assert whole["description"] == document["text"] and whole["address"] == "вул. Хрещатик, 1, кв. 15"
    assert (whole["lat"], whole["long"]) == (50.450123, 30.523456) and "067-123-45-67" in whole["status_notes"]


def test_request_filters_default_to_the_last_90_days():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    ids, query = requests_query(
        service_request_id=None,
        service_code="roads,heating",
        start_date=None,
        end_date=None,
        status="open",
        now=lambda: now,
    )
    assert ids is None
    assert query["received_at"] == {"$gte": now - timedelta(days=90), "$lte": now}
    assert query["status"] == {"$nin": ["rejected", "resolved"]}
    assert query["$or"] == service_code_query(["roads", "heating"])["$or"]


def _matches(document: dict, query: dict) -> bool:
    """The subset of the store's query language service_code_query uses: $or of {dotted field: {$in: [...]}}."""

    def value(path: str):
        current = document
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return current

    return any(all(value(field) in cond["$in"] for field, cond in clause.items()) for clause in query["$or"])


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"classification": {"category": "heating"}, "requested_category": "roads"}, "heating"),
        ({"classification": {"category": "unclassified"}, "requested_category": "roads"}, "roads"),
        ({"requested_category": "roads"}, "roads"),
        ({"classification": {"category": "waste"}}, "waste"),
    ],
)
def test_one_service_code_for_display_and_for_filtering(document, code):
    assert request_service_code(document) == code
    for other in ("heating", "roads", "waste"):
        assert _matches(document, service_code_query([other])) == (other == code)


def test_ids_override_every_other_filter():
    ids, query = requests_query(
        service_request_id="1000001, 1000002", service_code="roads", start_date=None, end_date=None, status="bogus"
    )
    assert ids == ["1000001", "1000002"] and query == {"_id": {"$in": ids}}


@pytest.mark.parametrize(
    ("start", "end", "status", "words"),
    [
        (None, None, "pending", "status"),
        (datetime(2026, 1, 1), datetime(2026, 6, 1), None, "90 days"),
        (datetime(2026, 6, 1), datetime(2026, 1, 1), None, "before"),
    ],
)
def test_bad_filters_are_400(start, end, status, words):
    with pytest.raises(Open311Error) as refused:
        requests_query(service_request_id=None, service_code=None, start_date=start, end_date=end, status=status)
    assert refused.value.code == 400 and words in refused.value.description


# ---- rate limits ----


def test_a_client_gets_its_burst_then_a_retry_after():
    limits = RateLimits()
    assert [limits.retry_after_s("channel:kyiv_portal", 3) for _ in range(3)] == [None, None, None]
    wait = limits.retry_after_s("channel:kyiv_portal", 3)
    assert wait is not None and 1 <= wait <= 20


def test_clients_have_their_own_buckets_and_the_oldest_are_forgotten():
    limits = RateLimits(max_buckets=2)
    assert limits.retry_after_s("channel:kyiv_portal", 1) is None
    assert limits.retry_after_s("channel:kyiv_portal", 1) is not None
    assert limits.retry_after_s("address:10.0.0.1", 1) is None
    assert limits.retry_after_s("address:10.0.0.2", 1) is None  # the portal's bucket, least recently used, goes
    assert len(limits.buckets) == 2
    assert limits.retry_after_s("channel:kyiv_portal", 1) is None


def test_open311_answers_in_the_specs_xml():
    import xml.etree.ElementTree as ET

    from services.intake.open311_formats import to_xml

    services_xml = ET.fromstring(to_xml("/services", 200, [{"service_code": "roads", "metadata": False}]))
    assert services_xml.tag == "services"
    assert services_xml.find("service/service_code").text == "roads"
    assert services_xml.find("service/metadata").text == "false"
    definition = ET.fromstring(to_xml("/services/roads", 200, {"service_code": "roads", "attributes": []}))
    assert definition.tag == "service_definition" and definition.find("attributes") is not None
    requests_xml = ET.fromstring(to_xml("/requests", 200, [{"service_request_id": "0000001", "lat": None}]))
    assert requests_xml.tag == "service_requests" and requests_xml.find("request/service_request_id").text == "0000001"
    assert requests_xml.find("request/lat").text is None
    token = ET.fromstring(to_xml("/tokens/0000001", 200, [{"service_request_id": "0000001", "token": "0000001"}]))
    assert token.find("request/token").text == "0000001"
    errors = ET.fromstring(to_xml("/requests", 403, [{"code": 403, "description": "unknown API key"}]))
    assert errors.tag == "errors" and errors.find("error/code").text == "403"
