"""The triage desk in memory: its decision (pure) and its HTTP answers, with the dispatcher's own assignment path on
TestKafkaBroker and a fake repository."""

from functools import partial

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pydantic import SecretStr

from services.dispatcher.domain import TriageDecision, TriageProblem, decide_triage, route
from services.dispatcher.handlers import assign, build_router
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.triage import build_triage_app
from shared.contracts import topics
from shared.staff_auth import ACTOR_HEADER, StaffAuth
from tests.unit.fakes import NOW, FakeDispatcherRepository, classified_event, published


def in_triage(routing, repo, category="unclassified", appeal_id="1000001", **kwargs):
    assigned = route(classified_event(category, appeal_id=appeal_id, **kwargs), routing, NOW).assigned
    assert assigned.assignment.outcome == "triage"
    return repo.seed_assigned(assigned)


def decision(**kwargs) -> TriageDecision:
    return TriageDecision(operator="Ірина", **kwargs)


@pytest.mark.parametrize(
    ("given", "kind", "field"),
    [
        ({}, "invalid", "category"),
        ({"category": "teleportation"}, "invalid", "category"),
        ({"category": "unclassified"}, "invalid", "category"),
        ({"department": "ministry_of_magic"}, "invalid", "department"),
        ({"category": "snow_ice"}, "invalid", "department"),  # district-scoped, district unknown
    ],
)
def test_invalid_decisions_name_the_field(routing, given, kind, field):
    repo = FakeDispatcherRepository()
    document = in_triage(routing, repo)
    problem = decide_triage(document, decision(**given), routing, NOW)
    assert isinstance(problem, TriageProblem) and (problem.kind, problem.field) == (kind, field)


def test_unknown_and_not_waiting_appeals(routing):
    repo = FakeDispatcherRepository()
    assert decide_triage(None, decision(category="gas"), routing, NOW).kind == "not-found"
    assigned = route(classified_event("gas", "critical"), routing, NOW).assigned
    document = repo.seed_assigned(assigned)
    problem = decide_triage(document, decision(category="gas"), routing, NOW)
    assert problem.kind == "conflict" and "assigned" in problem.detail


def test_a_category_reenters_routing_and_the_operator_is_recorded(routing):
    repo = FakeDispatcherRepository()
    document = in_triage(routing, repo, address_text="вул. Липська, 5")
    assigned = decide_triage(document, decision(category="snow_ice", comment="Сніг у дворі"), routing, NOW)
    assert assigned.assignment.department == "rda_pecherskyi"  # routed by the street, as any appeal
    assert assigned.classification.decided_by == "operator"
    assert assigned.assignment.reason.startswith("operator Ірина: Сніг у дворі")


def test_a_department_decided_directly(routing):
    repo = FakeDispatcherRepository()
    document = in_triage(routing, repo, "snow_ice")
    assigned = decide_triage(document, decision(department="rda_obolonskyi"), routing, NOW)
    assert (assigned.assignment.department, assigned.assignment.outcome) == ("rda_obolonskyi", "assigned")
    assert assigned.classification.category == "snow_ice"


TOKEN = "a-staff-token-of-enough-length-0123456789"
# The console sends the signed-in person's name percent-encoded (HTTP headers are Latin-1).
IRYNA = {"Authorization": f"Bearer {TOKEN}", ACTOR_HEADER: "%D0%86%D1%80%D0%B8%D0%BD%D0%B0"}


def desk(routing, parked, repo, token=TOKEN):
    router, publishers = build_router(DispatcherSettings(), routing.taxonomy)
    broker = KafkaBroker()
    broker.include_router(router)
    assign_here = partial(assign, repo.dependencies(routing, parked), publishers)
    app = build_triage_app(repo, routing, assign_here, lambda: NOW, StaffAuth(SecretStr(token)), DispatcherSettings())
    by_topic = {p.topic: p for p in router.publishers}
    return broker, app, by_topic


async def test_the_desk_lists_pages_and_decides(routing, parked):
    repo = FakeDispatcherRepository()
    for number in range(1, 4):
        in_triage(routing, repo, appeal_id=f"100000{number}")
    broker, app, by_topic = desk(routing, parked, repo)

    async with (
        TestKafkaBroker(broker),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=IRYNA) as client,
    ):
        first = (await client.get("/v1/triage", params={"limit": 2})).json()
        second = (await client.get("/v1/triage", params={"limit": 2, "after": first["next_after"]})).json()
        decided = await client.post("/v1/triage/1000002", json={"category": "gas"})
        again = await client.post("/v1/triage/1000002", json={"category": "gas", "operator": "Ірина"})
        missing = await client.post("/v1/triage/1000999", json={"category": "gas"})
        invalid = await client.post("/v1/triage/1000001", json={"category": "nope"})
        someone_else = await client.post("/v1/triage/1000001", json={"category": "gas", "operator": "Петро"})
        no_actor = await client.post(
            "/v1/triage/1000001", json={"category": "gas", "operator": "Ірина"}, headers={ACTOR_HEADER: ""}
        )
        tasks = published(by_topic["dept.kyivgaz.assignments"])
        announced = published(by_topic[topics.APPEALS_ASSIGNED])
        after = (await client.get("/v1/triage")).json()

    assert [i["appeal_id"] for i in first["items"]] == ["1000001", "1000002"]
    assert [i["appeal_id"] for i in second["items"]] == ["1000003"] and second["next_after"] is None
    assert decided.status_code == 200 and decided.json()["assignment"]["department"] == "kyivgaz"
    assert again.status_code == 409 and "not waiting in triage" in again.json()["detail"]
    assert missing.status_code == 404
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "category"]
    assert someone_else.status_code == 422 and someone_else.json()["detail"][0]["loc"] == ["body", "operator"]
    assert no_actor.status_code == 400 and ACTOR_HEADER in no_actor.json()["detail"]
    assert repo.documents["1000002"]["assignment"]["reason"].startswith("operator Ірина")
    assert [t["appeal_id"] for t in tasks] == ["1000002"] and [a["appeal_id"] for a in announced] == ["1000002"]
    history = repo.documents["1000002"]["history"]
    assert [(e["status"], e["by"]) for e in history[-2:]] == [("classified", "operator"), ("assigned", "dispatcher")]
    assert [i["appeal_id"] for i in after["items"]] == ["1000001", "1000003"]


async def test_the_desk_refuses_requests_without_the_staff_token_or_with_a_wrong_one(routing, parked):
    repo = FakeDispatcherRepository()
    in_triage(routing, repo)
    broker, app, _ = desk(routing, parked, repo)
    wrong = {"Authorization": "Bearer not-the-token", ACTOR_HEADER: "Ірина".encode()}
    async with (
        TestKafkaBroker(broker),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        anonymous = [await client.get("/v1/triage"), await client.post("/v1/triage/1000001", json={"category": "gas"})]
        wrong_token = [
            await client.get("/v1/triage", headers=wrong),
            await client.post("/v1/triage/1000001", json={"category": "gas"}, headers=wrong),
        ]
        other_scheme = await client.get("/v1/triage", headers={"Authorization": f"Basic {TOKEN}"})
        allowed = await client.get("/v1/triage", headers=IRYNA)
    assert [r.status_code for r in anonymous + wrong_token + [other_scheme]] == [401] * 5
    assert all(r.headers["www-authenticate"].startswith("Bearer") for r in anonymous)
    assert allowed.status_code == 200 and [i["appeal_id"] for i in allowed.json()["items"]] == ["1000001"]
    assert repo.documents["1000001"]["status"] == "triage"
