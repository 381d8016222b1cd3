"""The knowledge service on the real broker and store: answers over HTTP (its own and intake's public route), a
consultation recorded in `consultations` and published as ConsultationGiven, bad input refused naming the field, and
an information request from the web answered with an article and closed (the notifier sends the answer)."""

import json
import uuid

import httpx
import pytest

from shared.channel_keys import KEY_HEADER
from shared.contracts.topics import CONSULTATIONS_GIVEN
from shared.settings import ConnectionSettings
from shared.staff_auth import ACTOR_HEADER
from shared.store import Store
from tests.integration.helpers import read_topic, store_client, submission, submit_appeals, wait_until
from tests.integration.test_intake_http_api import add_channel

pytestmark = pytest.mark.integration


# A web channel of its own, with its key: the knowledge service answers its information requests too.
WEB_CHANNEL: dict[str, str] = {}


@pytest.fixture(scope="module")
def knowledge(pipeline):
    if not any(process.name == "knowledge" for process in pipeline.processes):
        name, WEB_CHANNEL["key"] = add_channel(pipeline, "web")
        WEB_CHANNEL["name"] = name
        pipeline.service_env["CITYLINE_KNOWLEDGE_ANSWER_CHANNELS"] = json.dumps(["web", name])
        pipeline.start_services(("knowledge",))
    return pipeline


def _staff(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.staff_token()}"}


def _url(stack, service: str) -> str:
    return f"http://127.0.0.1:{stack.service_port(service)}"


def test_answers_come_from_the_knowledge_service_and_through_intakes_public_route(knowledge):
    own = httpx.get(
        f"{_url(knowledge, 'knowledge')}/v1/answers",
        params={"q": "коли дадуть опалення", "lang": "ru"},
        headers=_staff(knowledge),
        timeout=10,
    )
    assert own.status_code == 200, own.text
    best = own.json()["answers"][0]
    assert best["article"] == "heating-season-start"
    assert best["title"] == "Когда начинается отопительный сезон"
    assert best["url"].endswith("/heating-season-start")
    public = httpx.get(f"{_url(knowledge, 'intake')}/v1/answers", params={"q": "koly dadut opalennia"}, timeout=10)
    assert public.status_code == 200, public.text
    assert public.json()["answers"][0]["article"] == "heating-season-start"


@pytest.mark.parametrize("question", ["", "   ", "а" * 10_000])
def test_an_empty_or_huge_question_is_refused_naming_q(knowledge, question):
    for base, headers in ((_url(knowledge, "intake"), {}), (_url(knowledge, "knowledge"), _staff(knowledge))):
        response = httpx.get(f"{base}/v1/answers", params={"q": question}, headers=headers, timeout=10)
        assert response.status_code == 422, response.text
        assert ["query", "q"] in [issue["loc"] for issue in response.json()["detail"]]


@pytest.mark.parametrize("question", ["قطع الكهرباء", "停电了", "🙂🙂🙂", "\u200b\u200b", "<script>alert(1)</script>"])
def test_a_question_in_any_script_gets_answers_or_an_empty_list(knowledge, question):
    response = httpx.get(f"{_url(knowledge, 'intake')}/v1/answers", params={"q": question}, timeout=10)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["answers"], list)


def test_the_knowledge_service_wants_the_staff_token(knowledge):
    response = httpx.get(f"{_url(knowledge, 'knowledge')}/v1/answers", params={"q": "опалення"}, timeout=10)
    assert response.status_code == 401


async def test_a_consultation_is_stored_once_and_published(knowledge):
    request = {"request_id": str(uuid.uuid4()), "channel": "phone", "article": "idp-registration"}
    headers = {**_staff(knowledge), ACTOR_HEADER: "operator.olena"}
    url = f"{_url(knowledge, 'knowledge')}/v1/consultations"
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        first = await http.post(url, json=request)
        assert first.status_code == 201, first.text
        again = await http.post(url, json=request)
    consultation_id = first.json()["consultation_id"]
    assert (first.json()["created"], again.json()) == (True, {"consultation_id": consultation_id, "created": False})

    client = store_client(knowledge.store_uri)
    try:
        stored = await client[knowledge.database]["consultations"].find({"_id": consultation_id}).to_list()
    finally:
        await client.close()
    assert len(stored) == 1
    assert {key: stored[0][key] for key in ("channel", "category", "article", "given_by", "operator")} == {
        "channel": "phone",
        "category": "social_support",
        "article": "idp-registration",
        "given_by": "operator",
        "operator": "operator.olena",
    }
    assert "contact" not in stored[0]

    def published(records: list) -> list:
        return [
            json.loads(record.value) for record in records if json.loads(record.value)["event_id"] == consultation_id
        ]

    records = await read_topic(knowledge.bootstrap, CONSULTATIONS_GIVEN, lambda found: bool(published(found)))
    event = published(records)[0]
    assert (event["article"], event["given_by"], event["schema_version"]) == ("idp-registration", "operator", 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"article": "no-such-article"}, ["body", "article"]),
        ({"contact": {"phone": "+380671234567"}}, ["body", "contact", "consent"]),
        ({"channel": "Phone!"}, ["body", "channel"]),
    ],
)
def test_a_wrong_consultation_is_refused_naming_the_field(knowledge, change, field):
    request = {"request_id": str(uuid.uuid4()), "channel": "phone", "article": "idp-registration", **change}
    response = httpx.post(
        f"{_url(knowledge, 'knowledge')}/v1/consultations", json=request, headers=_staff(knowledge), timeout=10
    )
    assert response.status_code == 422, response.text
    assert field in [issue["loc"] for issue in response.json()["detail"]]


async def _submit_and_wait(stack, text: str, predicate) -> dict:
    body = submission(text, channel="web", contact={"email": "resident@example.org", "language": "uk"})
    await submit_appeals(stack.bootstrap, [body])
    store = Store.from_settings(
        ConnectionSettings(mongodb_uri=stack.store_uri, mongodb_database=stack.database), app_name="test"
    )
    try:
        appeal_id = await wait_until(lambda: store.appeal_id_for(f"web:{body['external_id']}"), timeout=60)

        async def view() -> dict | None:
            found = await store.appeal_view(appeal_id)
            return found if found and predicate(found) else None

        return await wait_until(view, timeout=60)
    finally:
        await store.close()


async def test_an_information_request_from_the_web_is_answered_with_the_article_and_closed(knowledge):
    view = await _submit_and_wait(
        knowledge,
        "Підкажіть де найближчий ЦНАП і графік роботи",
        lambda found: found["status"] == "resolved" and any(n["kind"] == "answer" for n in found["notifications"]),
    )
    answer = next(notice for notice in view["notifications"] if notice["kind"] == "answer")
    assert "ЦНАП: адреси і графік роботи" in answer["text"] and "/cnap-addresses" in answer["text"]
    client = store_client(knowledge.store_uri)
    try:
        recorded = await client[knowledge.database]["consultations"].find({"appeal_id": view["appeal_id"]}).to_list()
    finally:
        await client.close()
    assert [(doc["article"], doc["given_by"], doc["channel"]) for doc in recorded] == [
        ("cnap-addresses", "automatic", "web")
    ]


async def test_an_information_request_without_a_clear_answer_stays_with_the_operators(knowledge):
    view = await _submit_and_wait(
        knowledge,
        "Підкажіть будь ласка куди звернутися з питанням",
        lambda found: found["status"] == "assigned",
    )
    assert view["assignment"]["department"] == "contact_center"
    assert not [notice for notice in view["notifications"] if notice["kind"] == "answer"]

    async def referred() -> bool:
        async with httpx.AsyncClient(timeout=10) as http:
            metrics = (await http.get(f"{_url(knowledge, 'knowledge')}/metrics")).text
        return 'cityline_knowledge_automatic_answers_total{outcome="referred"}' in metrics

    # The knowledge service decided it (and did not fail on it): counted as referred to the operators.
    assert await wait_until(referred, timeout=30)


async def test_did_not_help_sends_an_answered_appeal_to_the_operators(knowledge):
    base = _url(knowledge, "intake")
    key = {KEY_HEADER: WEB_CHANNEL["key"]}
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        created = await api.post("/v1/appeals", json={"text": "Підкажіть як записатися в ЦНАП онлайн"}, headers=key)
        assert created.status_code == 201, created.text
        appeal_id = created.json()["appeal_id"]
        store = Store.from_settings(
            ConnectionSettings(mongodb_uri=knowledge.store_uri, mongodb_database=knowledge.database), app_name="test"
        )
        try:

            async def status_is(status: str):
                found = await store.appeal_view(appeal_id)
                return found if found and found["status"] == status else None

            await wait_until(lambda: status_is("resolved"), timeout=60)
            other = await api.post(
                f"/v1/appeals/{appeal_id}/feedback",
                json={"helped": False},
                headers={KEY_HEADER: add_channel(knowledge)[1]},
            )
            assert other.status_code == 404, other.text  # another channel's appeal
            unsigned = await api.post(f"/v1/appeals/{appeal_id}/feedback", json={"helped": False})
            assert unsigned.status_code == 401
            said = await api.post(f"/v1/appeals/{appeal_id}/feedback", json={"helped": False}, headers=key)
            assert said.status_code == 200, said.text
            assert said.json() == {"appeal_id": appeal_id, "helped": False, "sent_to_operators": True}
            view = await wait_until(lambda: status_is("triage"), timeout=60)
        finally:
            await store.close()
    assert view["assignment"]["outcome"] == "triage" and view["assignment"]["department"] == "contact_center"
    assert "did not help" in view["assignment"]["reason"]


async def test_the_call_desk_shows_answers_and_closes_the_call_as_a_consultation(knowledge):
    from pydantic import SecretStr

    from services.console.clients import ServiceClients
    from tests.integration.test_console_store import _console, _csrf, _signed_in_operator

    closed = "http://127.0.0.1:9"  # registering is not part of this test
    clients = ServiceClients(
        intake_url=closed,
        classifier_url=closed,
        dispatcher_url=closed,
        knowledge_url=_url(knowledge, "knowledge"),
        intake_key=None,
        staff_token=SecretStr(knowledge.staff_token()),
        timeout_s=10,
    )
    _app, console = _console(knowledge, clients)
    async with console:
        await _signed_in_operator(knowledge, console)
        token = _csrf((await console.get("/desk")).text)
        shown = await console.post("/desk/answers", data={"text": "коли дадуть опалення", "csrf_token": token})
        assert shown.status_code == 200, shown.text
        assert "Коли починається опалювальний сезон" in shown.text
        assert "Закрити як консультацію: «Коли починається опалювальний сезон»" in shown.text
        request_id = str(uuid.uuid4())
        closed_call = await console.post(
            "/desk/consultation",
            data={"article": "heating-season-start", "request_id": request_id, "csrf_token": token},
        )
        assert "Консультацію записано" in closed_call.text, closed_call.text
    client = store_client(knowledge.store_uri)
    try:
        recorded = (
            await client[knowledge.database]["consultations"]
            .find({"article": "heating-season-start", "channel": "phone", "given_by": "operator"})
            .to_list()
        )
    finally:
        await client.close()
    assert [doc["operator"].startswith("op-") for doc in recorded] == [True]
