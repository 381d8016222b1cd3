"""Open311 GeoReport v2 on the running intake service, driven by an Open311 client this project did not write.

`georeport` (PyPI) reads services and requests; it cannot create requests, and the Python clients that can
(`open311`, `three`) are Python 2 only, so the create step is the spec's form-encoded POST sent with `requests`,
the HTTP library georeport itself uses. Then fuzzing: schemathesis against the OpenAPI document finds no 5xx.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
import schemathesis
from georeport import GeoReport
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.integration.test_intake_http_api import add_channel

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def endpoint(pipeline) -> str:
    return f"http://127.0.0.1:{pipeline.service_port('intake')}/open311/v2"


@pytest.fixture(scope="module")
def open311_key(pipeline) -> str:
    return add_channel(pipeline, kind="superapp")[1]


def post_request(endpoint: str, **form: object) -> requests.Response:
    return requests.post(f"{endpoint}/requests.json", data=form, timeout=30)


def test_services_are_the_taxonomy_categories(endpoint):
    services = GeoReport(endpoint).get_service_list()
    codes = {service["service_code"] for service in services}
    assert {"hot_water", "heating", "roads"} <= codes
    assert "unclassified" not in codes
    hot_water = next(service for service in services if service["service_code"] == "hot_water")
    assert hot_water["service_name"] == "Гаряче водопостачання"
    assert hot_water["metadata"] is False and hot_water["type"] == "realtime"


def test_a_request_round_trips_through_an_open311_client(endpoint, open311_key):
    created = post_request(
        endpoint,
        api_key=open311_key,
        service_code="hot_water",
        description="Немає гарячої води в будинку",
        lat="50.4501",
        long="30.5234",
        address_string="вул. Хрещатик, 22, кв. 15",
        first_name="Олена",
        phone="+380 67 123 4567",
        email="olena@example.com",
        media_url="https://example.com/p.jpg",
    )
    assert created.status_code == 201, created.text
    [answer] = created.json()
    request_id = answer["service_request_id"]

    client = GeoReport(endpoint)
    one = client.get_service_request(request_id)
    assert one["service_request_id"] == request_id
    assert one["service_code"] == "hot_water" and one["status"] == "open"
    # The public: no resident's words, the address without its flat, the place to about 100 m.
    assert (one["lat"], one["long"]) == (50.45, 30.523)
    assert one["address"] == "вул. Хрещатик, 22" and one["media_url"] == "https://example.com/p.jpg"
    assert one["description"] is None
    # The channel that submitted it, with its key, sees it whole.
    own = requests.get(f"{endpoint}/requests/{request_id}.json", params={"api_key": open311_key}, timeout=30).json()
    assert own[0]["description"] == "Немає гарячої води в будинку"
    assert own[0]["address"] == "вул. Хрещатик, 22, кв. 15"
    assert own[0]["lat"] == pytest.approx(50.4501) and own[0]["long"] == pytest.approx(30.5234)

    [by_id] = client.get_service_requests(service_request_id=request_id)
    assert by_id["service_request_id"] == request_id
    listed = client.get_service_requests(service_code="hot_water", status="open")
    assert request_id in {item["service_request_id"] for item in listed}
    closed = client.get_service_requests(service_code="hot_water", status="closed")
    assert request_id not in {item["service_request_id"] for item in closed}
    window = datetime.now(UTC) - timedelta(days=30)
    old = client.get_service_requests(
        start_date=(window - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_date=window.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert request_id not in {item["service_request_id"] for item in old}


def test_the_same_idempotency_key_is_the_same_request(endpoint, open311_key):
    form = {"api_key": open311_key, "service_code": "roads", "description": "Яма", "lat": 50.45, "long": 30.5}
    headers = {"Idempotency-Key": f"o311-{uuid.uuid4().hex}"}
    first = requests.post(f"{endpoint}/requests.json", data=form, headers=headers, timeout=30)
    second = requests.post(f"{endpoint}/requests.json", data=form, headers=headers, timeout=30)
    assert first.status_code == second.status_code == 201
    assert first.json()[0]["service_request_id"] == second.json()[0]["service_request_id"]


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({"service_code": "hot_water", "description": "x", "lat": 50.45, "long": 30.5}, 401, "api_key"),
        ({"api_key": "cl_0123456789ab_x", "service_code": "hot_water", "description": "x"}, 401, "unknown"),
        ({"service_code": "teleport", "description": "x", "lat": 50.45, "long": 30.5}, 404, "service_code"),
        ({"service_code": "hot_water", "description": "x"}, 400, "location"),
        ({"service_code": "hot_water", "description": "x", "lat": 48.0, "long": 24.0}, 400, "Kyiv"),
        ({"service_code": "hot_water", "description": "x", "lat": "north", "long": 30.5}, 400, "lat"),
        ({"service_code": "hot_water", "description": "x", "address_string": "a", "phone": "12"}, 400, "phone"),
        ({"service_code": "hot_water", "address_string": "вул. Хрещатик, 1"}, 400, "description"),
    ],
)
def test_errors_come_in_the_spec_shape(endpoint, open311_key, form, status, words):
    form = {"api_key": open311_key, **form} if "api_key" not in form and status != 401 else form
    response = post_request(endpoint, **form)
    assert response.status_code == status, response.text
    [error] = response.json()
    assert error["code"] == status
    assert words in error["description"]


def test_unknown_request_is_404_in_the_spec_shape(endpoint):
    response = requests.get(f"{endpoint}/requests/9999999.json", timeout=30)
    assert response.status_code == 404
    assert response.json() == [{"code": 404, "description": "service_request_id '9999999' not found"}]
    bad_status = requests.get(f"{endpoint}/requests.json", params={"status": "pending"}, timeout=30)
    assert bad_status.status_code == 400 and bad_status.json()[0]["code"] == 400


# ---- fuzzing the whole OpenAPI document -------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_key(pipeline) -> str:
    return add_channel(pipeline, rate=1_000_000)[1]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_fuzzing_the_api_finds_no_server_error(pipeline, fuzz_key, mode):
    """Every operation of the OpenAPI document, with generated valid and invalid requests; no answer is a 5xx.

    (schemathesis' lazy pytest loader does not run under pytest 9, so the operations are driven here.)"""
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{pipeline.service_port('intake')}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/appeals",
        "GET /v1/appeals/{appeal_id}",
        "POST /open311/v2/requests.json",
        "GET /open311/v2/requests.json",
    }
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case):
            # With the channel's key, so that writes get past authentication into validation and registration.
            case.call_and_validate(headers={"X-API-Key": fuzz_key}, checks=[not_a_server_error])

        call()
