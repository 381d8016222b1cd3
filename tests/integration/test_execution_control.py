"""Execution control on the real broker and store, the four services running: the resident's verdict on a resolved
appeal (by the notice's link and by SMS reply through the gateway's inbound webhook), reopen, dispute, close; a
department's extension within and beyond 45 days; a pause that stops the overdue clock."""

import asyncio
import json
import re
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from cityline.stack import EMBEDDED_SMS_INBOUND_SECRET
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.deadletter import REASON_HEADER
from tests.integration.helpers import publish, read_topic, store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration

TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


def report(appeal_id: str, department: str, status: str, **extra) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": utcnow().isoformat(),
        "schema_version": 2,
        "appeal_id": appeal_id,
        "department": department,
        "status": status,
        **extra,
    }


class Stack:
    """The running stack as a test drives it: the store, the broker, intake's HTTP API."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.client = store_client(pipeline.store_uri)
        self.db = self.client[pipeline.database]
        self.intake = f"http://127.0.0.1:{pipeline.service_port('intake')}"

    async def assigned(self, text: str, phone: str) -> dict:
        body = submission(text, contact={"phone": phone})
        await submit_appeals(self.pipeline.bootstrap, [body])
        return await wait_until(
            lambda: self.db.appeals.find_one({"intake_key": f"web:{body['external_id']}", "status": "assigned"}),
            timeout=40,
        )

    async def report(self, appeal: dict, status: str, key: str | None = None, **extra) -> dict:
        sent = report(appeal["_id"], appeal["assignment"]["department"], status, **extra)
        await publish(self.pipeline.bootstrap, topics.DEPARTMENT_UPDATES, [sent], key=(key or appeal["_id"]).encode())
        return sent

    async def appeal(self, appeal_id: str, **wanted) -> dict:
        return await wait_until(lambda: self.db.appeals.find_one({"_id": appeal_id, **wanted}), timeout=40)

    async def notice(self, appeal_id: str, kind: str, count: int = 1) -> list[dict]:
        """The notices of that kind the resident got, oldest first, once there are `count`."""

        async def found():
            notices = await self.db.notifications.find({"appeal_id": appeal_id, "kind": kind}).to_list()
            return notices if len(notices) >= count else None

        return sorted(await wait_until(found, timeout=40), key=lambda n: n["created_at"])

    async def token(self, appeal_id: str, count: int = 1) -> str:
        """The reply token as the resident reads it in the resolved notice."""
        notices = await self.notice(appeal_id, "resolved", count)
        return TOKEN.search(notices[-1]["text"]).group(1)

    async def verdict(self, appeal_id: str, **body) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.intake, timeout=30) as http:
            return await http.post(f"/v1/appeals/{appeal_id}/verdict", json=body)

    async def sms(self, sender: str, text: str, secret: str = EMBEDDED_SMS_INBOUND_SECRET) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.intake, timeout=30) as http:
            return await http.post(
                "/v1/sms/inbound", json={"from": sender, "text": text}, headers={"X-CityLine-Gateway-Secret": secret}
            )

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
async def city(pipeline):
    driven = Stack(pipeline)
    yield driven
    await driven.close()


def decoded(records) -> list[dict]:
    return [json.loads(record.value) for record in records]


async def parked_reason(pipeline, key: bytes) -> dict:
    parked = await read_topic(
        pipeline.bootstrap,
        topics.dead_letter(topics.DEPARTMENT_UPDATES),
        lambda found: any(r.key == key for r in found),
    )
    record = next(r for r in parked if r.key == key)
    return {name: value.decode() for name, value in record.headers}


async def test_not_fixed_reopens_to_the_department_and_a_second_dispute_goes_to_the_supervisor(city, pipeline):
    appeal = await city.assigned("Не працює ліфт, третій день стоїть", "+380441110001")
    appeal_id, department = appeal["_id"], appeal["assignment"]["department"]
    await city.report(appeal, "resolved", comment="Ліфт відремонтовано")
    resolved = await city.appeal(appeal_id, status="resolved")
    token = await city.token(appeal_id)
    # Only the token's hash is stored.
    assert token not in json.dumps(resolved, default=str) and len(resolved["awaiting_reply"]["token_hash"]) == 64

    # A wrong token is refused and changes nothing.
    wrong = await city.verdict(appeal_id, token="not-the-token-123", fixed=False)
    assert wrong.status_code == 403 and "token" in wrong.json()["detail"]
    assert (await city.db.appeals.find_one({"_id": appeal_id}))["status"] == "resolved"

    answered = await city.verdict(appeal_id, token=token, fixed=False, comment="Ліфт знову стоїть")
    assert answered.status_code == 200, answered.text
    reopened = await city.appeal(appeal_id, status="reopened")
    entry = reopened["history"][-1]
    assert (entry["status"], entry["by"], entry["note"]) == ("reopened", "resident", "Ліфт знову стоїть")
    assert reopened["assignment"]["due_at"] > resolved["assignment"]["due_at"]
    # Single use: the same token again is gone.
    again = await city.verdict(appeal_id, token=token, fixed=True)
    assert again.status_code == 410

    # The department gets the task again, with the resident's words; the resident is told.
    tasks = await read_topic(
        pipeline.bootstrap,
        topics.department_assignments(department),
        lambda found: any(r.key == appeal_id.encode() and json.loads(r.value).get("reopened") for r in found),
    )
    task = next(t for t in decoded(tasks) if t["appeal_id"] == appeal_id and t.get("reopened"))
    assert (task["reopened"], task["resident_comment"]) == (1, "Ліфт знову стоїть")
    assert datetime.fromisoformat(task["due_at"]) == reopened["assignment"]["due_at"]
    (told,) = await city.notice(appeal_id, "reopened")
    assert appeal_id in told["text"]

    # Resolved again, and "not fixed" again, this time by SMS reply: the supervisor decides.
    await city.report(appeal, "resolved", comment="Тепер точно")
    await city.appeal(appeal_id, status="resolved")
    await city.notice(appeal_id, "resolved", count=2)
    sms = await city.sms("044 111 0001", "2 досі не працює")
    assert sms.status_code == 200 and sms.json() == {"outcome": "accepted", "appeal_id": appeal_id}
    disputed = await city.appeal(appeal_id, status="disputed")
    assert disputed["history"][-1]["note"] == "досі не працює"
    escalated = await read_topic(
        pipeline.bootstrap,
        topics.APPEALS_ESCALATED,
        lambda found: any(r.key == appeal_id.encode() and json.loads(r.value)["reason"] == "disputed" for r in found),
    )
    (escalation,) = [e for e in decoded(escalated) if e["appeal_id"] == appeal_id and e["reason"] == "disputed"]
    assert escalation["resident_comment"] == "досі не працює"
    await city.notice(appeal_id, "disputed")


async def test_fixed_closes_for_good_and_bad_verdicts_change_nothing(city):
    appeal = await city.assigned("Яма на дорозі біля школи", "+380441110002")
    appeal_id = appeal["_id"]
    # Not resolved yet: 409.
    early = await city.verdict(appeal_id, token="some-token-1234", fixed=True)
    assert early.status_code == 409 and "assigned" in early.json()["detail"]
    await city.report(appeal, "resolved")
    await city.appeal(appeal_id, status="resolved")
    token = await city.token(appeal_id)
    assert (await city.verdict(appeal_id, token=token, fixed=True)).status_code == 200
    closed = await city.appeal(appeal_id, status="closed")
    assert closed["history"][-1]["by"] == "resident"
    # A department's late report on it is refused.
    late_key = f"late-{appeal_id}"
    await city.report(appeal, "in_progress", key=late_key)
    headers = await parked_reason(city.pipeline, late_key.encode())
    assert headers[REASON_HEADER] == "rejected-transition"

    # Unknown numbers, unreadable answers and a wrong gateway secret: recorded (or refused) and ignored.
    assert (await city.sms("+380441119999", "2")).json()["outcome"] == "unknown-number"
    assert (await city.sms("+380441110002", "дякую")).json()["outcome"] == "unknown-number"
    assert (await city.sms("+380441110002", "2", secret="wrong")).status_code == 403
    recorded = await city.db.inbound_sms.find({"from": "+380441119999"}).to_list()
    assert [r["outcome"] for r in recorded] == ["unknown-number"]


async def test_an_unreadable_sms_is_recorded_and_no_answer_closes_it(city):
    appeal = await city.assigned("Не вивезли сміття з двору", "+380441110003")
    appeal_id = appeal["_id"]
    await city.report(appeal, "resolved")
    await city.appeal(appeal_id, status="resolved")
    unreadable = await city.sms("+380441110003", "а коли?")
    assert unreadable.json() == {"outcome": "unreadable", "appeal_id": appeal_id}
    assert (await city.db.appeals.find_one({"_id": appeal_id}))["status"] == "resolved"
    # Fourteen days pass without a verdict: the dispatcher's periodic check closes it for good.
    await city.db.appeals.update_one(
        {"_id": appeal_id}, {"$set": {"awaiting_reply.expires_at": utcnow() - timedelta(minutes=1)}}
    )
    closed = await city.appeal(appeal_id, status="closed")
    assert closed["history"][-1]["by"] == "dispatcher"
    token = await city.token(appeal_id)
    assert (await city.verdict(appeal_id, token=token, fixed=False)).status_code == 410


async def test_an_extension_within_45_days_moves_the_due_time_and_beyond_goes_to_the_dead_letters(city):
    appeal = await city.assigned("Не працює ліфт у будинку, тиждень стоїть", "+380441110004")
    appeal_id, registered = appeal["_id"], appeal["registered_at"]
    within = registered + timedelta(days=40)
    await city.report(appeal, "extension_requested", comment="Потрібен підрядник", extend_to=within.isoformat())
    extended = await city.appeal(appeal_id, **{"assignment.due_at": within})
    assert extended["status"] == "assigned" and extended["history"][-1]["status"] == "extended"
    (told,) = await city.notice(appeal_id, "extended")
    assert "Потрібен підрядник" in told["text"]

    beyond_key = f"beyond-{appeal_id}"
    beyond = (registered + timedelta(days=46)).isoformat()
    await city.report(appeal, "extension_requested", key=beyond_key, comment="Ще трохи", extend_to=beyond)
    headers = await parked_reason(city.pipeline, beyond_key.encode())
    assert headers[REASON_HEADER] == "extension-beyond-legal-maximum"
    assert "45 days" in headers["x-cityline-error"]
    # From a department that does not hold the appeal: refused too.
    other_key = f"other-{appeal_id}"
    other = report(appeal_id, "kyivzelenbud", "extension_requested", comment="?", extend_to=within.isoformat())
    await publish(city.pipeline.bootstrap, topics.DEPARTMENT_UPDATES, [other], key=other_key.encode())
    assert (await parked_reason(city.pipeline, other_key.encode()))[REASON_HEADER] == "rejected-transition"
    assert (await city.db.appeals.find_one({"_id": appeal_id}))["assignment"]["due_at"] == within


async def test_a_pause_stops_the_overdue_clock_and_the_answer_restarts_it(city, pipeline):
    paused = await city.assigned("Яма на дорозі, пробив колесо", "+380441110005")
    running = await city.assigned("Глибока яма на дорозі, розбив диск", "+380441110006")
    await city.report(paused, "waiting_for_resident", comment="Який номер квартири?")
    waiting = await city.appeal(paused["_id"], status="waiting_for_resident")
    (question,) = await city.notice(paused["_id"], "question")
    assert "Який номер квартири?" in question["text"]
    # Both are past their due time now; only the one whose clock runs is escalated.
    past = utcnow() - timedelta(hours=1)
    for appeal in (paused, running):
        await city.db.appeals.update_one({"_id": appeal["_id"]}, {"$set": {"assignment.due_at": past}})
    await city.appeal(running["_id"], escalated_due_at={"$exists": True})
    await read_topic(
        pipeline.bootstrap, topics.APPEALS_ESCALATED, lambda found: any(r.key == running["_id"].encode() for r in found)
    )
    assert "escalated_due_at" not in await city.db.appeals.find_one({"_id": paused["_id"]})

    # The resident answers by SMS: the department gets the answer, the due time moves on by the wait.
    answered = await city.sms("+380441110005", "Квартира 12")
    assert answered.json()["outcome"] == "accepted"
    resumed = await city.appeal(paused["_id"], status="assigned")
    assert resumed["history"][-1]["status"] == "resumed"
    waited = resumed["history"][-1]["at"] - waiting["awaiting_reply"]["asked_at"]
    assert resumed["assignment"]["due_at"] == past + waited
    tasks = await read_topic(
        pipeline.bootstrap,
        topics.department_assignments(paused["assignment"]["department"]),
        lambda found: any(json.loads(r.value).get("resident_comment") == "Квартира 12" for r in found),
    )
    assert any(t["appeal_id"] == paused["_id"] for t in decoded(tasks) if t.get("resident_comment") == "Квартира 12")


async def test_the_monthly_report_on_a_known_set(stack):
    """`cityline report departments` reads a known set of appeals from the real store, in a database of its own."""
    import csv
    import io
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.unit.test_quality import KNOWN

    database = f"report_{uuid.uuid4().hex[:8]}"
    client = store_client(stack.store_uri)
    try:
        documents = [{"_id": f"900000{index}", **appeal} for index, appeal in enumerate(KNOWN)]
        await client[database].appeals.insert_many(documents)
    finally:
        await client.close()
    env = {**os.environ, "MONGODB_URI": stack.store_uri, "CITYLINE_MONGODB_DATABASE": database}
    command = [str(Path(sys.executable).parent / "cityline"), "report", "departments", "--month", "2026-11", "--csv"]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {row["department"]: row for row in csv.DictReader(io.StringIO(done.stdout))}
    assert rows["lifts"] == {
        "month": "2026-11",
        "department": "lifts",
        "resolved": "3",
        "on_time_share": "0.667",
        "disputed_share": "0.333",
        "reopens": "1",
        "median_hours_to_resolve": "168.0",
    }
    assert (rows["roads"]["resolved"], rows["roads"]["reopens"], rows["roads"]["on_time_share"]) == ("0", "1", "")
    bad_month = [*command[:4], "--month", "11-2026"]
    bad = await asyncio.to_thread(subprocess.run, bad_month, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr


async def test_the_supervisor_board_shows_the_months_quality_whom_to_call_back_and_the_disputes(stack):
    from services.console.boards import BoardReads
    from services.console.queues import QueueBook
    from services.console.routes.supervisor import board_rows
    from shared.settings import ConnectionSettings
    from shared.store import Store
    from shared.taxonomy import load_taxonomy

    store = Store.from_settings(ConnectionSettings(mongodb_uri=stack.store_uri, mongodb_database=stack.database))
    now = utcnow()
    department = f"test_{uuid.uuid4().hex[:8]}"

    def resolved(number: str, phone: str, status: str = "resolved", **contact) -> dict:
        return {
            "_id": number,
            "intake_key": f"test:{uuid.uuid4()}",
            "channel": "phone",
            "text": "Не працює ліфт",
            "contact": {"phone": phone, **contact},
            "received_at": now - timedelta(hours=30),
            "registered_at": now - timedelta(hours=30),
            "status": status,
            "updated_at": now,
            "assignment": {"department": department, "department_name": department, "due_at": now, "reason": ""},
            "history": [
                {"status": "registered", "at": now - timedelta(hours=30), "event_id": str(uuid.uuid4()), "by": "x"},
                {"status": "resolved", "at": now, "event_id": str(uuid.uuid4()), "by": department, "due_at": now},
            ],
            "awaiting_reply": {
                "purpose": "verdict",
                "token_hash": "0" * 64,
                "asked_at": now,
                "expires_at": now + timedelta(days=14),
                "used_at": None,
            },
        }

    base = 8_100_000 + uuid.uuid4().int % 800_000
    landline = resolved(str(base), "+380442223344")
    mobile = resolved(str(base + 1), "+380672223344")
    with_email = resolved(str(base + 2), "+380442223345", email="r@example.com")
    disputed = resolved(str(base + 3), "+380442223346", status="disputed")
    documents = [landline, mobile, with_email, disputed]
    try:
        await store.db["appeals"].insert_many(documents)
        reads = BoardReads(store, QueueBook())
        reads.queues.reconcile(await reads.open_appeals(), now)  # the queues a console starting now builds
        history = await reads.supervisor_history(now, now.replace(hour=0, minute=0))
        board = await reads.supervisor_board(now, history)
        (quality,) = [line for line in board.quality if line.department == department]
        assert (quality.resolved, quality.on_time, quality.reopens) == (4, 4, 0)
        assert quality.median_hours_to_resolve == pytest.approx(30, abs=0.01)
        called = {appeal.appeal_id for appeal in board.callbacks}
        assert landline["_id"] in called and not called & {mobile["_id"], with_email["_id"], disputed["_id"]}
        assert disputed["_id"] in {appeal.appeal_id for appeal in board.disputed}
        # The board's CSV carries the month's quality as the page shows it.
        exported = list(board_rows(board, load_taxonomy(ConnectionSettings().taxonomy_path)))
        assert (f"quality_{now:%Y-%m}", department, "", "resolved", 4) in exported
    finally:
        await store.db["appeals"].delete_many({"_id": {"$in": [d["_id"] for d in documents]}})
        await store.close()


async def test_staff_record_a_verdict_given_by_phone_and_without_a_token_anyone_else_is_refused(city, pipeline):
    appeal = await city.assigned("Не працює ліфт у під'їзді номер два", "+380441110007")
    appeal_id = appeal["_id"]
    await city.report(appeal, "resolved")
    await city.appeal(appeal_id, status="resolved")
    anonymous = await city.verdict(appeal_id, fixed=True)
    assert anonymous.status_code == 422 and anonymous.json()["detail"][0]["loc"] == ["body", "token"]
    async with httpx.AsyncClient(base_url=city.intake, timeout=30) as http:
        recorded = await http.post(
            f"/v1/appeals/{appeal_id}/verdict",
            json={"fixed": False, "comment": "Сказала по телефону: не працює"},
            headers={"Authorization": f"Bearer {pipeline.staff_token()}"},
        )
    assert recorded.status_code == 200, recorded.text
    reopened = await city.appeal(appeal_id, status="reopened")
    assert reopened["history"][-1]["note"] == "Сказала по телефону: не працює"


async def test_an_operator_records_the_phone_verdict_on_the_console(city, pipeline):
    from pydantic import SecretStr

    from services.console.clients import ServiceClients
    from tests.integration.test_console_store import _console, _csrf, _signed_in_operator

    appeal = await city.assigned("Ліфт не працює, застрягає між поверхами", "+380441110008")
    appeal_id = appeal["_id"]
    await city.report(appeal, "resolved")
    await city.appeal(appeal_id, status="resolved")
    clients = ServiceClients(
        intake_url=city.intake,
        classifier_url=city.intake,
        dispatcher_url=city.intake,
        intake_key=None,
        staff_token=SecretStr(pipeline.staff_token()),
        timeout_s=30,
    )
    _, client = _console(pipeline, clients)
    async with client:
        await _signed_in_operator(pipeline, client)
        page = await client.get(f"/appeals/{appeal_id}")
        assert "Оцінка заявника по телефону" in page.text
        answer = await client.post(
            f"/appeals/{appeal_id}/verdict",
            data={"fixed": "yes", "comment": "Працює, дякує", "csrf_token": _csrf(page.text)},
        )
        assert answer.status_code == 303, answer.text
    closed = await city.appeal(appeal_id, status="closed")
    entry = closed["history"][-1]
    assert entry["note"] == "Працює, дякує" and entry["by"].startswith("resident, by phone to op-")
    await clients.close()
