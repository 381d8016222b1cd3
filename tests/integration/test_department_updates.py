"""The loop back on the real broker and store: departments report on dept.updates and the appeal follows."""

import json
import uuid

import pytest

from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.deadletter import REASON_HEADER
from tests.integration.helpers import publish, read_topic, store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration


def report(appeal_id: str, department: str, status: str, **extra) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": utcnow().isoformat(),
        "appeal_id": appeal_id,
        "department": department,
        "status": status,
        **extra,
    }


async def _assigned_appeal(pipeline, text: str) -> dict:
    body = submission(text, contact={"phone": "+380441234567"})
    await submit_appeals(pipeline.bootstrap, [body])
    client = store_client(pipeline.store_uri)
    try:
        return await wait_until(
            lambda: client[pipeline.database].appeals.find_one(
                {"intake_key": f"web:{body['external_id']}", "status": "assigned"}
            )
        )
    finally:
        await client.close()


async def _status(pipeline, appeal_id: str, wanted: str) -> dict:
    client = store_client(pipeline.store_uri)
    try:
        return await wait_until(
            lambda: client[pipeline.database].appeals.find_one({"_id": appeal_id, "status": wanted}), timeout=20
        )
    finally:
        await client.close()


async def _parked(pipeline, key: bytes) -> dict:
    parked = await read_topic(
        pipeline.bootstrap,
        topics.dead_letter(topics.DEPARTMENT_UPDATES),
        lambda found: any(r.key == key for r in found),
    )
    record = next(r for r in parked if r.key == key)
    return {name: value.decode() for name, value in record.headers}


async def test_accepted_in_progress_resolved_follow_and_repeats_change_nothing(pipeline):
    appeal = await _assigned_appeal(pipeline, "Не працює ліфт, третій день стоїть")
    appeal_id, department = appeal["_id"], appeal["assignment"]["department"]
    accepted = report(appeal_id, department, "accepted")
    reports = [
        accepted,
        report(appeal_id, department, "in_progress"),
        accepted,  # a redelivery
        report(appeal_id, department, "resolved", comment="Ліфт відремонтовано"),
    ]
    await publish(pipeline.bootstrap, topics.DEPARTMENT_UPDATES, reports, key=appeal_id.encode())
    resolved = await _status(pipeline, appeal_id, "resolved")
    statuses = [entry["status"] for entry in resolved["history"]]
    assert statuses == ["registered", "classified", "assigned", "accepted", "in_progress", "resolved"]
    assert resolved["history"][-1]["note"] == "Ліфт відремонтовано"
    assert resolved["history"][-1]["by"] == department

    # Resolved is final: another report is refused with its reason, and the appeal stays as it is.
    late = report(appeal_id, department, "in_progress")
    await publish(pipeline.bootstrap, topics.DEPARTMENT_UPDATES, [late], key=f"late-{appeal_id}".encode())
    headers = await _parked(pipeline, f"late-{appeal_id}".encode())
    assert headers[REASON_HEADER] == "rejected-transition"
    assert "cannot become in_progress" in headers["x-cityline-error"]


async def test_report_from_another_department_is_refused(pipeline):
    appeal = await _assigned_appeal(pipeline, "Яма на дорозі, пробив колесо")
    wrong = report(appeal["_id"], "kyivzelenbud", "resolved")
    key = f"wrong-{appeal['_id']}".encode()
    await publish(pipeline.bootstrap, topics.DEPARTMENT_UPDATES, [wrong], key=key)
    headers = await _parked(pipeline, key)
    assert headers[REASON_HEADER] == "rejected-transition"
    assert f"assigned to {appeal['assignment']['department']}, not to kyivzelenbud" in headers["x-cityline-error"]
    client = store_client(pipeline.store_uri)
    try:
        stored = await client[pipeline.database].appeals.find_one({"_id": appeal["_id"]})
    finally:
        await client.close()
    assert stored["status"] == "assigned"


async def test_misrouted_goes_to_the_suggested_department_which_gets_the_task(pipeline):
    appeal = await _assigned_appeal(pipeline, "Яма на тротуарі біля будинку")
    department = appeal["assignment"]["department"]
    misrouted = report(
        appeal["_id"],
        department,
        "misrouted",
        comment="Це прибудинкова територія",
        suggested_department="housing_obolonskyi",
    )
    await publish(pipeline.bootstrap, topics.DEPARTMENT_UPDATES, [misrouted], key=appeal["_id"].encode())
    rerouted = await wait_until(lambda: _reassigned(pipeline, appeal["_id"]))
    assert rerouted["assignment"]["department"] == "housing_obolonskyi"
    assert "misrouted by" in rerouted["history"][-1]["note"]
    tasks = await read_topic(
        pipeline.bootstrap,
        topics.department_assignments("housing_obolonskyi"),
        lambda found: any(r.key == appeal["_id"].encode() for r in found),
    )
    task = json.loads(next(r for r in tasks if r.key == appeal["_id"].encode()).value)
    assert task["department"] == "housing_obolonskyi" and task["text"] == appeal["text"]
    # The resident hears that the appeal went to another department.
    statuses = await read_topic(
        pipeline.bootstrap,
        topics.APPEALS_STATUS,
        lambda found: any(json.loads(r.value)["caused_by"] == misrouted["event_id"] for r in found),
    )
    status = next(json.loads(r.value) for r in statuses if json.loads(r.value)["caused_by"] == misrouted["event_id"])
    assert (status["status"], status["department"], status["appeal_id"]) == (
        "rerouted",
        "housing_obolonskyi",
        appeal["_id"],
    )


async def _reassigned(pipeline, appeal_id: str):
    client = store_client(pipeline.store_uri)
    try:
        stored = await client[pipeline.database].appeals.find_one({"_id": appeal_id})
    finally:
        await client.close()
    return stored if stored["assignment"]["department"] == "housing_obolonskyi" else None


async def test_bad_report_is_parked(pipeline):
    await publish(
        pipeline.bootstrap, topics.DEPARTMENT_UPDATES, [{"appeal_id": "1000001", "status": "done"}], key=b"bad-report"
    )
    headers = await _parked(pipeline, b"bad-report")
    assert headers[REASON_HEADER] == "invalid-event"
    assert "status" in headers["x-cityline-error"]
