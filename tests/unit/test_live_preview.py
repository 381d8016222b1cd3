"""The live preview the operator console shows, through the real service apps (classifier and dispatcher) over ASGI:
what each would decide, the street suggestions, the staff token, and bad input named by its field."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from services.classifier.main import create_app as classifier_app
from services.classifier.settings import ClassifierSettings
from services.dispatcher.main import create_app as dispatcher_app
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.streets import StreetIndex, parse_query

TOKEN = "a-staff-token-of-enough-length-0123456789"
STAFF = {"Authorization": f"Bearer {TOKEN}"}
RECEIVED = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture(scope="module")
def classifier():
    return classifier_app(ClassifierSettings(staff_token=SecretStr(TOKEN)))


@pytest.fixture(scope="module")
def dispatcher():
    return dispatcher_app(DispatcherSettings(staff_token=SecretStr(TOKEN)))


async def test_the_classifier_previews_its_decision_with_the_explanation(classifier):
    async with client(classifier) as http:
        response = await http.post(
            "/v1/preview",
            json={"text": "Третій день немає опалення, батареї холодні", "language": "uk"},
            headers=STAFF,
        )
    assert response.status_code == 200, response.text
    classification = response.json()["classification"]
    assert classification["category"] == "heating"
    assert classification["ruleset"] and classification["scores"]["heating"] > 0
    fired = [rule for rule in classification["fired"] if rule["rule"].startswith("heating.")]
    assert fired and any(rule["words"] for rule in fired)
    assert classification["decided_by"] == "rules" and classification["decision_id"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"language": "uk"}, "text"),
        ({"text": "   ", "language": "uk"}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"text": "Немає світла", "language": "de"}, "language"),
        ({"text": "Немає світла", "colour": "red"}, "colour"),
    ],
)
async def test_the_classifier_names_the_bad_field(classifier, body, field):
    async with client(classifier) as http:
        response = await http.post("/v1/preview", json=body, headers=STAFF)
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": TOKEN}, 401)],
)
async def test_both_previews_want_the_staff_token(classifier, dispatcher, headers, status):
    async with client(classifier) as c, client(dispatcher) as d:
        assert (await c.post("/v1/preview", json={"text": "Немає світла"}, headers=headers)).status_code == status
        assert (await d.get("/v1/streets", params={"q": "Липс"}, headers=headers)).status_code == status
        assert (await d.post("/v1/preview", json={}, headers=headers)).status_code == status


async def test_without_a_configured_token_the_previews_refuse_everyone():
    async with client(classifier_app(ClassifierSettings(profile="development"))) as http:
        response = await http.post("/v1/preview", json={"text": "Немає світла"}, headers=STAFF)
    assert response.status_code == 401


def classification(category: str, urgency: str = "normal") -> dict:
    return {"category": category, "urgency": urgency, "confidence": 0.9, "ruleset": "test"}


async def test_the_dispatcher_previews_department_district_and_due_date(dispatcher):
    async with client(dispatcher) as http:
        by_street = await http.post(
            "/v1/preview",
            json={
                "classification": classification("snow_ice", "high"),
                "address": {"text": "вул. Липська, 5"},
                "channel": "phone",
                "received_at": RECEIVED.isoformat(),
            },
            headers=STAFF,
        )
        unknown_district = await http.post(
            "/v1/preview",
            json={"classification": classification("snow_ice"), "address": None, "received_at": RECEIVED.isoformat()},
            headers=STAFF,
        )
        by_text = await http.post(
            "/v1/preview",
            json={
                "classification": classification("snow_ice"),
                "received_at": RECEIVED.isoformat(),
                "text": "Не прибрано сніг на вул. Липська, 5",
            },
            headers=STAFF,
        )
    assert by_street.status_code == 200, by_street.text
    assignment = by_street.json()["assignment"]
    assert (assignment["department"], assignment["district"], assignment["outcome"]) == (
        "rda_pecherskyi",
        "pecherskyi",
        "assigned",
    )
    assert datetime.fromisoformat(assignment["due_at"]) == RECEIVED + timedelta(days=3)
    assert assignment["reason"] and assignment["department_name"]
    triage = unknown_district.json()["assignment"]
    assert (triage["department"], triage["outcome"]) == ("contact_center", "triage")
    assert "district" in triage["reason"]
    assert by_text.json()["assignment"]["department"] == "rda_pecherskyi"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"received_at": RECEIVED.isoformat()}, ["body", "classification"]),
        ({"classification": classification("gas")}, ["body", "received_at"]),
        (
            {"classification": classification("gas"), "received_at": "2026-01-15T09:00:00"},
            ["body", "received_at"],
        ),
        (
            {"classification": classification("teleportation"), "received_at": RECEIVED.isoformat()},
            ["body", "classification", "category"],
        ),
        (
            {"classification": {**classification("gas"), "urgency": "soon"}, "received_at": RECEIVED.isoformat()},
            ["body", "classification", "urgency"],
        ),
        (
            {
                "classification": classification("gas"),
                "received_at": RECEIVED.isoformat(),
                "address": {"lat": 10.0, "lon": 10.0},
            },
            ["body", "address"],
        ),
    ],
)
async def test_the_dispatcher_names_the_bad_field(dispatcher, body, loc):
    async with client(dispatcher) as http:
        response = await http.post("/v1/preview", json=body, headers=STAFF)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [loc]


async def test_street_suggestions_from_the_gazetteer(dispatcher):
    async with client(dispatcher) as http:
        prefix = (await http.get("/v1/streets", params={"q": "Липс"}, headers=STAFF)).json()["items"]
        russian = (await http.get("/v1/streets", params={"q": "Большая Васил"}, headers=STAFF)).json()["items"]
        typo = (await http.get("/v1/streets", params={"q": "Хрешатик"}, headers=STAFF)).json()["items"]
        limited = (await http.get("/v1/streets", params={"q": "в", "limit": 3}, headers=STAFF)).json()["items"]
        empty = await http.get("/v1/streets", params={"q": ""}, headers=STAFF)
        too_many = await http.get("/v1/streets", params={"q": "Липс", "limit": 500}, headers=STAFF)
    assert prefix[0] == {
        "name": "вулиця Липська",
        "district": "pecherskyi",
        "district_name": "Печерський",
        "matched": "Липська",
    }
    assert russian[0]["name"] == "вулиця Велика Васильківська" and russian[0]["district"] is None
    assert russian[0]["matched"] == "Большая Васильковская"
    assert typo[0]["name"] == "вулиця Хрещатик"
    assert len(limited) == 3
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["query", "q"]
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["query", "limit"]


def test_a_query_splits_into_name_type_and_house(routing):
    query = parse_query("просп. Оболонський, буд. 22")
    assert (query.words, query.street_type, query.house) == (("оболонский",), "проспект", 22)
    assert parse_query("пр").words == ("пр",)  # a type word alone is the start of a name


def test_words_in_any_order_and_the_type_ranks(routing):
    index = StreetIndex(routing.gazetteer, routing.taxonomy.districts)
    assert index.suggest("васильківська велика")[0].name == "вулиця Велика Васильківська"
    assert index.suggest("просп Оболон")[0].name == "проспект Оболонський"
    assert index.suggest("12345") == [] and index.suggest("zzzzzz") == []
