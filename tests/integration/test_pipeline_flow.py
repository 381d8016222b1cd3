"""The whole pipeline on the real broker and store: appeals in through appeals.intake, out assigned."""

import pytest

from shared.contracts import topics
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import cached_taxonomy
from tests.integration.helpers import read_topic, store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration

TEXTS = [
    "Третій день немає гарячої води в квартирі",
    "Батареї холодні, в квартирі +14",
    "Яма на дорозі біля зупинки, вже два колеса пробили",
    "Не працює ліфт у під'їзді, живу на 12 поверсі",
    "Не вывезли мусор, контейнеры переполнены",
    "Не горить ліхтар на вулиці, дуже темно ввечері",
    "Дякую бригаді Київводоканалу за швидкий ремонт!",
    "Пахне газом на сходовій клітці",
    "Не прибирають сніг біля будинку на Оболоні",
    "asdf qwerty zxcv",
]


async def test_fifty_appeals_reach_assigned_with_notifications(pipeline):
    bodies = [
        submission(TEXTS[i % len(TEXTS)], channel="phone" if i % 2 else "web", contact={"phone": "+380441234567"})
        for i in range(50)
    ]
    await submit_appeals(pipeline.bootstrap, bodies)
    keys = [f"{body['channel']}:{body['external_id']}" for body in bodies]
    client = store_client(pipeline.store_uri)
    db = client[pipeline.database]
    try:

        async def all_done():
            done = await db.appeals.count_documents(
                {"intake_key": {"$in": keys}, "status": {"$in": ["assigned", "triage"]}}
            )
            return done == 50

        await wait_until(all_done, timeout=30)
        appeals = await db.appeals.find({"intake_key": {"$in": keys}}).to_list()
        assert len(appeals) == 50
        assert len({appeal["_id"] for appeal in appeals}) == 50
        taxonomy = cached_taxonomy(DEFAULT_TAXONOMY)
        for appeal in appeals:
            assert [entry["status"] for entry in appeal["history"]] == ["registered", "classified", appeal["status"]]
            assert appeal["classification"]["category"] in taxonomy.categories
            assert appeal["assignment"]["department"] in taxonomy.department_codes()
            assert appeal["assignment"]["due_at"] > appeal["registered_at"]

        async def notified():
            return await db.notifications.count_documents({"appeal_id": {"$in": [a["_id"] for a in appeals]}}) == 100

        await wait_until(notified, timeout=15)
        kinds = await db.notifications.distinct("kind", {"appeal_id": {"$in": [a["_id"] for a in appeals]}})
        assert set(kinds) <= {"registered", "assigned", "triage"} and "registered" in kinds

        by_text = {appeal["text"]: appeal for appeal in appeals}
        assert by_text[TEXTS[0]]["classification"]["category"] == "hot_water"
        assert by_text[TEXTS[0]]["assignment"]["department"] == "kyivteploenergo"
        assert by_text[TEXTS[8]]["assignment"]["department"] == "rda_obolonskyi"
        assert by_text[TEXTS[9]]["status"] == "triage"
        assert by_text[TEXTS[9]]["assignment"]["department"] == "contact_center"
    finally:
        await client.close()


async def test_department_receives_its_task(pipeline):
    body = submission("Не працює ліфт, застрягла кабіна між поверхами", contact={"phone": "+380441234567"})
    await submit_appeals(pipeline.bootstrap, [body])
    client = store_client(pipeline.store_uri)
    try:
        appeal = await wait_until(
            lambda: client[pipeline.database].appeals.find_one(
                {"intake_key": f"web:{body['external_id']}", "status": "assigned"}
            )
        )
    finally:
        await client.close()
    department = appeal["assignment"]["department"]
    assert department == "lift_service"
    records = await read_topic(
        pipeline.bootstrap,
        topics.department_assignments(department),
        lambda found: any(r.key == appeal["_id"].encode() for r in found),
    )
    import json

    tasks = [json.loads(r.value) for r in records if r.key == appeal["_id"].encode()]
    assert len(tasks) == 1
    task = tasks[0]
    assert task["category"] == "elevators" and task["urgency"] == "critical"
    # The lift service does not call residents back: the task carries no contact.
    assert task["contact"] is None
