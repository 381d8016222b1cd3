"""The dispatcher on the real broker and store: routing of every category across all ten districts, unknown district,
mass incidents and their resolution told to every resident, overdue escalation, and the triage desk over HTTP.

Appeals are written into the store as intake and the classifier leave them and published on appeals.classified, so
each test decides the category and place the dispatcher sees.
"""

import json
import random
import uuid
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest

from services.intake.domain import Registration, register
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.contracts.classifier import AppealClassified, Classification
from shared.contracts.intake import Address, AppealSubmitted
from shared.settings import DEFAULT_TAXONOMY
from shared.staff_auth import ACTOR_HEADER
from shared.taxonomy import load_taxonomy
from tests.integration.helpers import publish, read_topic, read_topics, store_client, wait_until

pytestmark = pytest.mark.integration

TAXONOMY = load_taxonomy(DEFAULT_TAXONOMY)


def new_appeal_id() -> str:
    # Nine digits starting with 9: never a number intake hands out in a test session.
    return f"9{random.randrange(10**7, 10**8)}"


def appeal(
    category: str,
    *,
    urgency: str = "normal",
    text: str = "Звернення",
    address_text: str | None = None,
    district: str | None = None,
) -> Registration:
    """An appeal as intake registers it (its own `register`), to be classified as `category`."""
    submission = AppealSubmitted(
        channel="web",
        external_id=uuid.uuid4().hex,
        text=text,
        contact={"name": "Олена", "phone": "+380671234567"},
        address=Address(text=address_text, district=district) if (address_text or district) else None,
        received_at=utcnow(),
    )
    registration = register(submission, new_appeal_id(), utcnow())
    classification = Classification(category=category, urgency=urgency, confidence=0.9, ruleset="test")
    classified = AppealClassified(**registration.event.model_dump(exclude={"event_id"}), classification=classification)
    # Status classified, as the classifier leaves it: out of intake's redrive of appeals stalled in `registered`.
    return Registration(document=registration.document.model_copy(update={"status": "classified"}), event=classified)


async def send(pipeline, appeals: list[Registration]) -> list[AppealClassified]:
    """Store the appeals, then publish each on appeals.classified keyed by its number."""
    client = store_client(pipeline.store_uri)
    try:
        await client[pipeline.database].appeals.insert_many([a.document.to_document() for a in appeals])
    finally:
        await client.close()
    for item in appeals:
        await publish(
            pipeline.bootstrap, topics.APPEALS_CLASSIFIED, [item.event.model_dump(mode="json")], item.event.kafka_key()
        )
    return [item.event for item in appeals]


async def stored(pipeline, appeal_id: str, **conditions) -> dict:
    client = store_client(pipeline.store_uri)
    try:
        return await wait_until(
            lambda: client[pipeline.database].appeals.find_one({"_id": appeal_id, **conditions}), timeout=40
        )
    finally:
        await client.close()


def decoded(records) -> list[dict]:
    return [json.loads(record.value) for record in records]


async def test_every_category_reaches_its_department_and_district_units_in_all_ten_districts(pipeline):
    expected: dict[str, str] = {}  # appeal id -> department topic
    events = []
    for code, category in TAXONOMY.categories.items():
        districts = list(TAXONOMY.districts) if category.scope == "district" else [None]
        for district in districts:
            item = appeal(code, district=district)
            department = TAXONOMY.department_for(code, district) or "contact_center"
            events.append(item)
            expected[item.event.appeal_id] = topics.department_assignments(department)
    assert len(events) == 24 + 3 * 10
    await send(pipeline, events)

    department_topics = sorted({topics.department_assignments(code) for code in TAXONOMY.department_codes()})

    def all_arrived(records) -> bool:
        return set(expected) <= {json.loads(r.value)["appeal_id"] for r in records}

    records = await read_topics(pipeline.bootstrap, department_topics, all_arrived, timeout=60)
    arrived = {
        json.loads(r.value)["appeal_id"]: r.topic for r in records if json.loads(r.value)["appeal_id"] in expected
    }
    assert arrived == expected
    # Every district unit of both district-scoped departments received work.
    units = {topic for topic in arrived.values() if ".housing_" in topic or ".rda_" in topic}
    assert len(units) == 20


async def test_a_district_scoped_appeal_without_its_district_goes_to_the_contact_center(pipeline):
    (event,) = await send(pipeline, [appeal("snow_ice", text="Не прибрано сніг біля під'їзду")])
    document = await stored(pipeline, event.appeal_id, status="triage")
    assert document["assignment"]["department"] == "contact_center"
    assert "district is unknown" in document["assignment"]["reason"]
    tasks = await read_topic(
        pipeline.bootstrap,
        topics.department_assignments("contact_center"),
        lambda found: any(r.key == event.kafka_key() for r in found),
    )
    task = next(json.loads(r.value) for r in tasks if r.key == event.kafka_key())
    assert task["status"] == "triage" and task["contact"]["phone"] == "+380671234567"


async def test_a_street_of_the_gazetteer_routes_to_the_district_unit(pipeline):
    (event,) = await send(
        pipeline, [appeal("building_maintenance", text="Протікає дах", address_text="Драгоманова, 31б")]
    )
    document = await stored(pipeline, event.appeal_id, status="assigned")
    assert document["assignment"]["department"] == "housing_darnytskyi"


async def test_a_mass_incident_goes_to_the_department_once_and_every_resident_hears_it_resolved(pipeline):
    building = f"вул. Липська, {random.randrange(100, 999)}"
    events = await send(
        pipeline,
        [appeal("elevators", urgency="high", text=f"Не працює ліфт ({n})", address_text=building) for n in range(3)],
    )
    appeal_ids = [e.appeal_id for e in events]
    lead = await stored(pipeline, appeal_ids[0], status="assigned")
    incident_id = lead["assignment"]["incident_id"]
    for appeal_id in appeal_ids:
        document = await stored(pipeline, appeal_id, status="assigned")
        assert document["assignment"]["incident_id"] == incident_id

    def grown(records) -> bool:
        return any(i["incident_id"] == incident_id and i["count"] == 3 for i in decoded(records))

    incidents = await read_topic(pipeline.bootstrap, topics.department_incidents("lift_service"), grown, timeout=40)
    latest = max((i for i in decoded(incidents) if i["incident_id"] == incident_id), key=lambda i: i["count"])
    assert sorted(latest["appeal_ids"]) == sorted(appeal_ids)
    assert latest["location"] == f"вулиця Липська, {building.rsplit(' ', 1)[1]}"
    # The department got one task (the first appeal), the others came as the incident.
    tasks = await read_topic(
        pipeline.bootstrap,
        topics.department_assignments("lift_service"),
        lambda found: any(json.loads(r.value)["appeal_id"] in appeal_ids for r in found),
        timeout=20,
    )
    assert len([t for t in decoded(tasks) if t["appeal_id"] in appeal_ids]) == 1

    report = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": utcnow().isoformat(),
        "appeal_id": latest["lead_appeal_id"],
        "department": "lift_service",
        "status": "resolved",
        "comment": "Ліфт відремонтовано",
    }
    await publish(pipeline.bootstrap, topics.DEPARTMENT_UPDATES, [report], key=report["appeal_id"].encode())

    def all_told(records) -> bool:
        told = {
            s["appeal_id"]
            for s in decoded(records)
            if s["status"] == "resolved" and s["caused_by"] == report["event_id"]
        }
        return set(appeal_ids) <= told

    statuses = await read_topic(pipeline.bootstrap, topics.APPEALS_STATUS, all_told, timeout=40)
    resolved = [s for s in decoded(statuses) if s["caused_by"] == report["event_id"]]
    assert sorted(s["appeal_id"] for s in resolved) == sorted(appeal_ids)
    assert {(s["incident_id"], s["comment"], s["contact"]["phone"]) for s in resolved} == {
        (incident_id, "Ліфт відремонтовано", "+380671234567")
    }
    for appeal_id in appeal_ids:
        await stored(pipeline, appeal_id, status="resolved")


async def test_an_overdue_appeal_is_escalated_and_counted(pipeline):
    (event,) = await send(pipeline, [appeal("gas", urgency="critical", text="Запах газу в під'їзді")])
    await stored(pipeline, event.appeal_id, status="assigned")
    # Time passes: the appeal's due time is now an hour ago.
    client = store_client(pipeline.store_uri)
    try:
        await client[pipeline.database].appeals.update_one(
            {"_id": event.appeal_id}, {"$set": {"assignment.due_at": utcnow() - timedelta(hours=1)}}
        )
    finally:
        await client.close()

    escalated = await read_topic(
        pipeline.bootstrap,
        topics.APPEALS_ESCALATED,
        lambda found: any(r.key == event.kafka_key() for r in found),
        timeout=40,
    )
    (escalation,) = [e for e in decoded(escalated) if e["appeal_id"] == event.appeal_id]
    assert (escalation["department"], escalation["urgency"]) == ("kyivgaz", "critical")
    assert escalation["overdue_s"] >= 3600
    await stored(pipeline, event.appeal_id, escalated_due_at={"$exists": True})

    port = pipeline.service_port("dispatcher")

    async def gauge() -> float:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        line = next(
            (
                ln
                for ln in text.splitlines()
                if ln.startswith('cityline_dispatcher_overdue_appeals{department="kyivgaz"}')
            ),
            "x 0",
        )
        return float(line.rsplit(" ", 1)[1])

    assert await wait_until(gauge, timeout=20) >= 1


async def test_the_triage_desk_over_http_sends_the_appeal_on(pipeline):
    (event,) = await send(pipeline, [appeal("unclassified", text="Незрозуміле звернення про щось у дворі")])
    await stored(pipeline, event.appeal_id, status="triage")
    base = f"http://127.0.0.1:{pipeline.service_port('dispatcher')}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as anonymous:
        # Staff only: no token, a wrong token, a wrong scheme.
        refusals = [
            await anonymous.get("/v1/triage"),
            await anonymous.post(f"/v1/triage/{event.appeal_id}", json={"category": "gas", "operator": "Хтось"}),
            await anonymous.get("/v1/triage", headers={"Authorization": "Bearer wrong"}),
            await anonymous.post(
                f"/v1/triage/{event.appeal_id}", json={"category": "gas"}, headers={"Authorization": "Bearer wrong"}
            ),
            await anonymous.get("/v1/triage", headers={"Authorization": f"Basic {pipeline.staff_token()}"}),
        ]
    assert [response.status_code for response in refusals] == [401] * 5
    staff = {"Authorization": f"Bearer {pipeline.staff_token()}", ACTOR_HEADER: quote("Ірина")}
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=staff) as http:
        listed, after = [], None
        while True:
            page = (await http.get("/v1/triage", params={"limit": 200, **({"after": after} if after else {})})).json()
            listed += [item["appeal_id"] for item in page["items"]]
            after = page["next_after"]
            if after is None:
                break
        assert event.appeal_id in listed

        refused = await http.post(f"/v1/triage/{event.appeal_id}", json={"category": "nope"})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "category"]
        decided = await http.post(
            f"/v1/triage/{event.appeal_id}",
            json={"category": "water_supply", "comment": "Йдеться про прорив труби"},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["assignment"]["department"] == "kyivvodokanal"
        again = await http.post(f"/v1/triage/{event.appeal_id}", json={"category": "gas"})
        assert again.status_code == 409

    document = await stored(pipeline, event.appeal_id, status="assigned")
    assert document["classification"]["decided_by"] == "operator"
    assert document["assignment"]["reason"].startswith("operator Ірина")  # the name the console signed in
    assert [entry["by"] for entry in document["history"][-2:]] == ["operator", "dispatcher"]
    tasks = await read_topic(
        pipeline.bootstrap,
        topics.department_assignments("kyivvodokanal"),
        lambda found: any(r.key == event.kafka_key() for r in found),
    )
    assert any(json.loads(r.value)["appeal_id"] == event.appeal_id for r in tasks)
