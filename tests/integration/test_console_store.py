"""The console against the real store: its users, its reads of appeals, sign-in and CSRF, a service that is down,
and the dispatcher's staff actions it writes through."""

import re
import uuid
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from cityline.users import new_user
from services.console.clients import ServiceClients
from services.console.main import create_app
from services.console.repository import AppealQuery, AppealReads, UserExists, UserRepository
from services.console.settings import ConsoleSettings
from shared.contracts.base import utcnow
from shared.settings import ConnectionSettings
from shared.staff_auth import StaffAuth
from shared.store import APPEALS, Store
from shared.taxonomy import cached_taxonomy

pytestmark = pytest.mark.integration


def _store(stack) -> Store:
    return Store.from_settings(ConnectionSettings(mongodb_uri=stack.store_uri, mongodb_database=stack.database))


def _appeal(appeal_id: str, minutes_ago: int, **fields) -> dict:
    now = utcnow()
    return {
        "_id": appeal_id,
        "intake_key": f"test:{uuid.uuid4()}",
        "channel": "phone",
        "text": fields.pop("text", "Немає гарячої води"),
        "received_at": now - timedelta(minutes=minutes_ago),
        "registered_at": now,
        "status": fields.pop("status", "assigned"),
        "history": [{"status": "registered", "at": now, "event_id": str(uuid.uuid4()), "by": "intake"}],
        **fields,
    }


async def test_users_are_added_once_read_back_and_disabled(stack):
    store = _store(stack)
    repo = UserRepository(store)
    try:
        name = f"op-{uuid.uuid4().hex[:8]}"
        user, password = new_user(
            name, "operator", None, cached_taxonomy(ConnectionSettings().taxonomy_path).department_codes()
        )
        await repo.add(user)
        with pytest.raises(UserExists):
            await repo.add(user)
        stored = await repo.get(name)
        assert stored is not None and stored.must_change_password and stored.active
        assert password not in stored.password_hash
        disabled = await repo.disable(name, utcnow())
        assert disabled is not None and not disabled.active
    finally:
        await store.close()


async def test_search_finds_by_phone_words_and_department_newest_first_in_pages(stack):
    store = _store(stack)
    reads = AppealReads(store)
    phone = f"+38067{uuid.uuid4().int % 10_000_000:07d}"
    base = 7_000_000 + uuid.uuid4().int % 1_000_000 * 10
    ids = [str(base + n) for n in range(3)]
    try:
        await store.db[APPEALS].insert_many(
            [
                _appeal(
                    ids[0],
                    30,
                    contact={"phone": phone},
                    text="Прорвало трубу у підвалі",
                    assignment={"department": "kyivvodokanal", "department_name": "Водоканал"},
                ),
                _appeal(ids[1], 20, contact={"phone": phone}, status="resolved", text="Не світить ліхтар"),
                _appeal(
                    ids[2],
                    10,
                    contact={"phone": phone},
                    text="Прорвало трубу знову",
                    assignment={"department": "kyivvodokanal", "department_name": "Водоканал"},
                ),
            ]
        )
        found, more = await reads.search(AppealQuery(phone=phone), page=1, page_size=2)
        assert [a.appeal_id for a in found] == [ids[2], ids[1]] and more
        found, more = await reads.search(AppealQuery(phone=phone), page=2, page_size=2)
        assert [a.appeal_id for a in found] == [ids[0]] and not more
        found, _ = await reads.search(AppealQuery(phone=phone, words=("прорвало", "трубу")), page=1, page_size=10)
        assert [a.appeal_id for a in found] == [ids[2], ids[0]]
        found, _ = await reads.search(AppealQuery(phone=phone, department="kyivvodokanal"), page=1, page_size=10)
        assert {a.appeal_id for a in found} == {ids[0], ids[2]}
        callers = await reads.callers_appeals(phone)
        assert [a.appeal_id for a in callers] == [ids[2], ids[0], ids[1]]  # open ones first, then the resolved one
    finally:
        await store.db[APPEALS].delete_many({"_id": {"$in": ids}})
        await store.close()


def _console(stack, clients: ServiceClients | None = None):
    settings = ConsoleSettings(
        mongodb_uri=stack.store_uri, mongodb_database=stack.database, sign_in_attempts_per_user=3
    )
    app = create_app(settings, clients=clients)
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console", timeout=60)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def _signed_in_operator(stack, client: httpx.AsyncClient, role: str = "operator", department=None) -> None:
    store = _store(stack)
    try:
        user, password = new_user(f"op-{uuid.uuid4().hex[:8]}", role, department, [department])
        await UserRepository(store).add(user)
    finally:
        await store.close()
    token = _csrf((await client.get("/login")).text)
    await client.post("/login", data={"name": user.name, "password": password, "csrf_token": token})
    token = _csrf((await client.get("/password")).text)
    answer = await client.post(
        "/password",
        data={"current": password, "new": "a-new-long-password", "repeat": "a-new-long-password", "csrf_token": token},
    )
    assert answer.status_code == 303, answer.text


async def test_sign_in_refuses_wrong_passwords_missing_csrf_and_too_many_attempts(stack):
    _app, client = _console(stack)
    async with client:
        token = _csrf((await client.get("/login")).text)
        refused = await client.post("/login", data={"name": "nobody", "password": "x"})
        assert refused.status_code == 403
        wrong = await client.post("/login", data={"name": "nobody", "password": "x", "csrf_token": token})
        assert wrong.status_code == 401 and "Неправильне ім&#39;я або пароль" in wrong.text
        for _ in range(2):
            await client.post("/login", data={"name": "nobody", "password": "x", "csrf_token": token})
        limited = await client.post("/login", data={"name": "nobody", "password": "x", "csrf_token": token})
        assert limited.status_code == 429 and limited.headers["Retry-After"]
        assert (await client.get("/desk")).status_code == 303  # not signed in: to the sign-in page


async def test_desk_with_intake_down_says_so_and_keeps_what_was_typed(stack):
    closed = "http://127.0.0.1:9"  # nothing listens on the discard port
    clients = ServiceClients(
        intake_url=closed, classifier_url=closed, dispatcher_url=closed, intake_key=None, staff_token=None, timeout_s=2
    )
    _app, client = _console(stack, clients)
    async with client:
        await _signed_in_operator(stack, client)
        page = (await client.get("/desk")).text
        form = {
            "csrf_token": _csrf(page),
            "idempotency_key": "k" * 16,
            "text": "Немає світла в під'їзді",
            "phone": "067 123 45 67",
        }
        answer = await client.post("/desk", data=form)
        assert answer.status_code == 503
        assert "НЕ зареєстровано" in answer.text and "Немає світла в під&#39;їзді" in answer.text
        assert 'value="kkkkkkkkkkkkkkkk"' in answer.text  # the same key: a retry cannot register it twice
        preview = await client.post(
            "/desk/preview", data={"text": "Немає світла"}, headers={"X-CSRF-Token": form["csrf_token"]}
        )
        assert "Попередній перегляд недоступний" in preview.text


async def test_desk_errors_sit_beside_their_fields_and_nothing_is_sent(stack):
    _app, client = _console(stack)
    async with client:
        await _signed_in_operator(stack, client)
        token = _csrf((await client.get("/desk")).text)
        answer = await client.post(
            "/desk", data={"csrf_token": token, "text": " ", "phone": "12", "email": "not-mail", "district": "atlantis"}
        )
        assert answer.status_code == 422
        for field in ("text", "phone", "email", "district"):
            assert f'aria-describedby="{field}-error"' in answer.text and f'id="{field}-error"' in answer.text


async def test_staff_actions_are_recorded_once_in_the_history_with_the_name(stack):
    from services.dispatcher.domain import load_routing
    from services.dispatcher.repository import MongoTriageDesk
    from services.dispatcher.settings import DispatcherSettings
    from services.dispatcher.triage import build_triage_app

    store = _store(stack)
    appeal_id = str(8_000_000 + uuid.uuid4().int % 1_000_000)
    settings = DispatcherSettings()
    routing = load_routing(settings.routing_path, cached_taxonomy(settings.taxonomy_path), settings.deadlines())

    async def no_assign(events):
        raise AssertionError("a staff action routes nothing")

    token = "a-staff-token-of-enough-length-0123456789"
    desk = build_triage_app(MongoTriageDesk(store), routing, no_assign, utcnow, StaffAuth(SecretStr(token)), settings)
    try:
        await store.db[APPEALS].insert_one(_appeal(appeal_id, 5))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=desk),
            base_url="http://dispatcher",
            headers={"Authorization": f"Bearer {token}", "X-CityLine-Actor": "olena"},
        ) as api:
            action = {"kind": "callback", "text": "Пояснили строки", "by": "olena", "request_id": "req-12345678"}
            first = await api.post(f"/v1/appeals/{appeal_id}/actions", json=action)
            again = await api.post(f"/v1/appeals/{appeal_id}/actions", json=action)
            assert first.json()["recorded"] and not again.json()["recorded"]
            empty = await api.post(f"/v1/appeals/{appeal_id}/actions", json={**action, "kind": "note", "text": ""})
            assert empty.status_code == 422
            missing = await api.post("/v1/appeals/9999999/actions", json=action)
            assert missing.status_code == 404
            impostor = await api.post(f"/v1/appeals/{appeal_id}/actions", json={**action, "by": "somebody-else"})
            assert impostor.status_code == 422 and impostor.json()["detail"][0]["loc"] == ["body", "by"]
        document = await store.db[APPEALS].find_one({"_id": appeal_id})
        assert document["status"] == "assigned"  # a call-back changes no status
        assert [(e["status"], e["by"], e.get("note")) for e in document["history"][1:]] == [
            ("callback", "olena", "Пояснили строки")
        ]
    finally:
        await store.db[APPEALS].delete_one({"_id": appeal_id})
        await store.close()


async def test_a_department_user_sees_only_their_departments_appeals(stack):
    store = _store(stack)
    base = 6_000_000 + uuid.uuid4().int % 1_000_000 * 10
    theirs, other = str(base), str(base + 1)
    word = f"слово{uuid.uuid4().hex[:6]}"
    await store.db[APPEALS].insert_many(
        [
            _appeal(
                theirs, 3, text=f"Запах газу {word}", assignment={"department": "kyivgaz", "department_name": "Газ"}
            ),
            _appeal(
                other,
                2,
                text=f"Прорвало трубу {word}",
                assignment={"department": "kyivvodokanal", "department_name": "Водоканал"},
            ),
        ]
    )
    _app, client = _console(stack)
    try:
        async with client:
            await _signed_in_operator(stack, client, role="department", department="kyivgaz")
            assert (await client.get(f"/appeals/{theirs}")).status_code == 200
            refused = await client.get(f"/appeals/{other}", headers={"Accept": "text/html"})
            assert refused.status_code == 404 and "Прорвало трубу" not in refused.text
            found = await client.get("/search", params={"q": word, "department": "kyivvodokanal"})
            assert f">{theirs}<" in found.text and f">{other}<" not in found.text
            assert (await client.get("/desk")).status_code == 403  # the call desk is for operators
    finally:
        await store.db[APPEALS].delete_many({"_id": {"$in": [theirs, other]}})
        await store.close()
