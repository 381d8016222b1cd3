"""The console's boards against the real store and broker: the triage queue oldest first with its reasons, a
department's open tasks by due date with the overdue marked, the supervisor's figures and CSV, a department's report
published on dept.updates as a department would, and another department's appeal refused."""

import csv
import io
import json
import re
import uuid
from datetime import timedelta

import httpx
import pytest

from cityline.users import new_user
from services.console.boards import BoardReads, ensure_board_indexes
from services.console.department_updates import DepartmentUpdates
from services.console.main import create_app
from services.console.queues import QueueBook
from services.console.repository import UserRepository
from services.console.routes.supervisor import LatestBoard
from services.console.settings import ConsoleSettings
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.settings import ConnectionSettings
from shared.store import APPEALS, Store
from shared.taxonomy import cached_taxonomy
from tests.integration.helpers import read_topic

pytestmark = pytest.mark.integration

TAXONOMY = cached_taxonomy(ConnectionSettings().taxonomy_path)


def _store(stack) -> Store:
    return Store.from_settings(ConnectionSettings(mongodb_uri=stack.store_uri, mongodb_database=stack.database))


def _number() -> str:
    return str(6_000_000 + uuid.uuid4().int % 3_000_000)


def _appeal(status: str, department: str, *, hours_ago: float, due_in_hours: float, **extra) -> dict:
    now = utcnow()
    received = now - timedelta(hours=hours_ago)
    return {
        "_id": _number(),
        "intake_key": f"test:{uuid.uuid4()}",
        "correlation_id": f"corr-{uuid.uuid4().hex[:8]}",
        "channel": extra.pop("channel", "phone"),
        "text": extra.pop("text", "Немає гарячої води"),
        "contact": {"phone": "+380671234567"},
        "received_at": received,
        "registered_at": received,
        "status": status,
        "updated_at": extra.pop("updated_at", received),
        "classification": {"category": extra.pop("category", "hot_water"), "urgency": "normal"},
        "assignment": {
            "department": department,
            "department_name": department,
            "due_at": now + timedelta(hours=due_in_hours),
            "reason": extra.pop("reason", ""),
        },
        "history": [{"status": "registered", "at": received, "event_id": str(uuid.uuid4()), "by": "intake"}],
        **extra,
    }


async def test_the_boards_read_queue_tasks_and_figures(stack):
    store = _store(stack)
    reads = BoardReads(store, QueueBook())
    department = f"test_{uuid.uuid4().hex[:10]}"
    now = utcnow()
    queue = [
        _appeal("triage", "contact_center", hours_ago=3000, due_in_hours=1, category="unclassified"),
        _appeal("triage", "contact_center", hours_ago=2999, due_in_hours=1, reason="misrouted by kyivgaz: не наше"),
        _appeal("triage", "contact_center", hours_ago=2998, due_in_hours=1, category="snow_ice"),
    ]
    late, soon, later = (
        _appeal("accepted", department, hours_ago=50, due_in_hours=-2),
        _appeal("assigned", department, hours_ago=5, due_in_hours=10),
        _appeal("in_progress", department, hours_ago=6, due_in_hours=40, channel="web"),
    )
    closed = [
        _appeal("resolved", department, hours_ago=30, due_in_hours=10, updated_at=now - timedelta(hours=1)),
        _appeal("resolved", department, hours_ago=300, due_in_hours=-100, updated_at=now - timedelta(hours=2)),
        _appeal("rejected", department, hours_ago=30, due_in_hours=10),
    ]
    documents = [*queue, late, soon, later, *closed]
    try:
        await ensure_board_indexes(store)
        await store.db[APPEALS].insert_many(documents)
        reads.queues.reconcile(await reads.open_appeals(), now)  # the queues a console starting now builds
        entries, waiting = await reads.triage_queue(limit=500)
        ours = [entry for entry in entries if entry.appeal.appeal_id in {d["_id"] for d in queue}]
        assert [(entry.appeal.appeal_id, entry.reason) for entry in ours] == [
            (queue[0]["_id"], "unclassified"),
            (queue[1]["_id"], "misrouted"),
            (queue[2]["_id"], "no_district"),
        ]
        assert waiting >= 3

        tasks, total = await reads.department_tasks(department, limit=10)
        assert [task.appeal_id for task in tasks] == [late["_id"], soon["_id"], later["_id"]] and total == 3

        board = await reads.supervisor_board(now, await reads.supervisor_history(now, now - timedelta(hours=24)))
        (line,) = [line for line in board.departments if line.department == department]
        assert (line.open, line.overdue, line.closed, line.on_time) == (3, 1, 2, 1)
        assert line.on_time_share == 0.5
        assert late["_id"] in [appeal.appeal_id for appeal in board.overdue]
        assert board.intake_by_channel.get("web", 0) >= 1 and board.intake_today >= 2
    finally:
        await store.db[APPEALS].delete_many({"_id": {"$in": [d["_id"] for d in documents]}})
        await store.close()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def _signed_in(stack, client: httpx.AsyncClient, role: str, department: str | None = None) -> str:
    """A user of the role who has set their password already, signed in on `client`."""
    store = _store(stack)
    try:
        user, password = new_user(f"{role[:4]}-{uuid.uuid4().hex[:8]}", role, department, TAXONOMY.department_codes())
        await UserRepository(store).add(user.model_copy(update={"must_change_password": False}))
    finally:
        await store.close()
    token = _csrf((await client.get("/login")).text)
    signed = await client.post("/login", data={"name": user.name, "password": password, "csrf_token": token})
    assert signed.status_code == 303, signed.text
    return user.name


def _console(stack):
    settings = ConsoleSettings(
        mongodb_uri=stack.store_uri, mongodb_database=stack.database, kafka_bootstrap_servers=stack.bootstrap
    )
    app = create_app(settings)
    # The routers' lifespans are not run by the ASGI transport: what they would open, opened here.
    app.state.department_updates = DepartmentUpdates(settings)
    app.state.supervisor_board = LatestBoard(BoardReads(app.state.store, app.state.queues))
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console", timeout=60)


async def test_a_department_reports_on_dept_updates_and_cannot_open_another_departments_appeal(stack):
    store = _store(stack)
    ours = _appeal("assigned", "kyivvodokanal", hours_ago=50, due_in_hours=-1, text="Прорвало трубу в підвалі")
    theirs = _appeal("assigned", "kyivgaz", hours_ago=5, due_in_hours=10, text="Пахне газом")
    app, client = _console(stack)
    try:
        await store.db[APPEALS].insert_many([ours, theirs])
        await app.state.queue_feed.reconcile()  # the queues as a console starting now reads them
        async with client:
            await _signed_in(stack, client, "department", "kyivvodokanal")
            board = await client.get("/department")
            assert board.status_code == 200 and ours["_id"] in board.text and theirs["_id"] not in board.text
            assert "прострочено" in board.text
            assert (await client.get(f"/department/appeals/{theirs['_id']}")).status_code == 403
            assert (await client.get("/department", params={"department": "kyivgaz"})).status_code == 403

            page = await client.get(f"/department/appeals/{ours['_id']}")
            token, key = _csrf(page.text), re.search(r'name="form_key" value="([^"]+)"', page.text).group(1)
            form = {"csrf_token": token, "form_key": key}
            refused = await client.post(f"/department/appeals/{theirs['_id']}/resolve", data={**form, "comment": "x"})
            assert refused.status_code == 403
            empty = await client.post(f"/department/appeals/{ours['_id']}/resolve", data={**form, "comment": " "})
            assert empty.status_code == 422 and 'id="comment-error"' in empty.text
            unknown = await client.post(
                f"/department/appeals/{ours['_id']}/misrouted",
                data={**form, "comment": "не наше", "suggested_department": "ministry_of_magic"},
            )
            assert unknown.status_code == 422 and 'id="suggested_department-error"' in unknown.text
            comment = "Трубу замінено, воду подано"
            sent = await client.post(f"/department/appeals/{ours['_id']}/resolve", data={**form, "comment": comment})
            assert sent.status_code == 303, sent.text
            again = await client.post(f"/department/appeals/{ours['_id']}/resolve", data={**form, "comment": comment})
            assert again.status_code == 303
        records = await read_topic(
            stack.bootstrap,
            topics.DEPARTMENT_UPDATES,
            lambda found: sum(r.key == ours["_id"].encode() for r in found) >= 2,
        )
        reports = [json.loads(r.value) for r in records if r.key == ours["_id"].encode()]
        assert {(r["department"], r["status"], r["comment"]) for r in reports} == {
            ("kyivvodokanal", "resolved", comment)
        }
        # The same form sent twice is one report: the dispatcher applies an event id once.
        assert len({r["event_id"] for r in reports}) == 1 and reports[0]["correlation_id"] == ours["correlation_id"]
    finally:
        await app.state.department_updates.close()
        await store.db[APPEALS].delete_many({"_id": {"$in": [ours["_id"], theirs["_id"]]}})
        await store.close()


async def test_the_supervisor_sees_the_overdue_and_exports_what_is_shown(stack):
    store = _store(stack)
    late = _appeal("accepted", "kyivavtodor", hours_ago=500, due_in_hours=-300, text="Яма на дорозі")
    app, client = _console(stack)
    try:
        await store.db[APPEALS].insert_one(late)
        await app.state.queue_feed.reconcile()
        async with client:
            await _signed_in(stack, client, "supervisor")
            computing = await client.get("/supervisor")
            assert "обчислюються" in computing.text and late["_id"] not in computing.text
            assert (await client.get("/supervisor/export.csv")).status_code == 503
            await app.state.supervisor_board.refresh()  # what the background job does every supervisor_refresh_s
            board = await client.get("/supervisor")
            assert board.status_code == 200 and late["_id"] in board.text
            exported = await client.get("/supervisor/export.csv")
            assert exported.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
            assert {"section", "code", "name", "measure", "value"} == set(rows[0])
            assert {"section": "overdue", "code": late["_id"]}.items() <= next(
                row for row in rows if row["code"] == late["_id"]
            ).items()
            overdue = next(r for r in rows if r["code"] == "kyivavtodor" and r["measure"] == "overdue")
            assert int(overdue["value"]) >= 1
            await client.post("/logout", data={"csrf_token": _csrf(board.text)})
            await _signed_in(stack, client, "operator")
            assert (await client.get("/supervisor")).status_code == 403
    finally:
        await app.state.department_updates.close()
        await store.db[APPEALS].delete_one({"_id": late["_id"]})
        await store.close()
