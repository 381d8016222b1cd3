"""The notifier on the real broker and store, delivering to a real HTTP SMS gateway / webhook receiver and a real
SMTP server (aiosmtpd): the embedded stack's sinks, which write each message they accept to a file in the outbox.

Proves: each kind over each transport, in the resident's language; a redelivered event sends nothing twice; a gateway
answering 503 and a mail server down for a while lose nothing; an opt-out sends nothing; a refused address fails
with a dead letter."""

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
import random
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from cityline.stack import EMBEDDED_WEBHOOK_SECRET, port_open
from shared.contracts import topics
from shared.contracts.dispatcher import AppealStatusChanged
from shared.contracts.intake import ResidentContact
from shared.deadletter import REASON_HEADER
from shared.store import NOTIFICATION_DELIVERIES, notices_as_they_stand
from tests.integration.helpers import publish, read_topic, store_client, submission, submit_appeals, wait_until
from tests.unit.fakes import assigned_event

pytestmark = pytest.mark.integration

SYNTHETIC_KINDS = ("triage", "rerouted", "resolved", "rejected", "answer")
ALL_KINDS = {"registered", "assigned", *SYNTHETIC_KINDS}


def new_appeal_id() -> str:
    return str(random.randint(10**10, 10**11 - 1))


def outbox(pipeline) -> list[dict[str, Any]]:
    """Every message the sinks accepted so far: transport, notice key, kind, recipient and text."""
    found = []
    for path in sorted((pipeline.outbox / "sms").glob("*.json")):
        record = json.loads(path.read_text())
        payload = record["payload"]
        found.append(
            {"transport": "sms", "key": payload["reference"], "to": payload["to"], "text": payload["text"], **record}
        )
    for path in sorted((pipeline.outbox / "webhook").glob("*/*.json")):
        record = json.loads(path.read_text())
        payload = record["payload"]
        found.append(
            {"transport": "webhook", "key": payload["notification_id"], "to": path.parent.name, "text": payload["text"]}
            | record
        )
    for path in sorted((pipeline.outbox / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(
            {
                "transport": "email",
                "key": message["X-CityLine-Notification"],
                "to": message["To"],
                "subject": message["Subject"],
                "text": message.get_content(),
            }
        )
    return found


def messages_of(pipeline, appeal_id: str) -> list[dict[str, Any]]:
    return [message for message in outbox(pipeline) if message["key"].split(":")[0] == appeal_id]


def status_changed(appeal_id: str, status: str, contact: dict, channel: str, **extra: Any) -> dict:
    values = {
        "event_id": uuid.uuid4(),
        "appeal_id": appeal_id,
        "status": status,
        "department": "kyivteploenergo",
        "department_name": "КП «Київтеплоенерго»",
        "category": "hot_water",
        "comment": "Роботи виконано",
        "contact": contact,
        "channel": channel,
    }
    return AppealStatusChanged(**(values | extra)).model_dump(mode="json")


def synthetic_events(appeal_id: str, contact: dict, channel: str) -> list[tuple[str, dict]]:
    """What the dispatcher would publish after assignment: a triage, a reroute, the outcomes and an answer."""
    triage = assigned_event(appeal_id=appeal_id, outcome="triage", contact=ResidentContact(**contact))
    return [
        (topics.APPEALS_ASSIGNED, triage.model_copy(update={"channel": channel}).model_dump(mode="json")),
        (topics.APPEALS_STATUS, status_changed(appeal_id, "rerouted", contact, channel, department="kyivvodokanal")),
        (topics.APPEALS_STATUS, status_changed(appeal_id, "resolved", contact, channel)),
        (topics.APPEALS_STATUS, status_changed(appeal_id, "rejected", contact, channel, comment="Не в компетенції")),
        (
            topics.APPEALS_STATUS,
            status_changed(
                appeal_id, "resolved", contact, channel, category="information_request", comment="Прийом з 8:00"
            ),
        ),
    ]


async def publish_events(pipeline, events: list[tuple[str, dict]]) -> None:
    for topic, body in events:
        await publish(pipeline.bootstrap, topic, [body], key=body["appeal_id"].encode())


async def submit(pipeline, text: str, channel: str, contact: dict) -> str:
    body = submission(text, channel=channel, contact=contact)
    await submit_appeals(pipeline.bootstrap, [body])
    client = store_client(pipeline.store_uri)
    try:
        appeal = await wait_until(
            lambda: client[pipeline.database].appeals.find_one({"intake_key": f"{channel}:{body['external_id']}"})
        )
    finally:
        await client.close()
    return appeal["_id"]


async def notices_of(pipeline, appeal_ids: list[str]) -> list[dict]:
    client = store_client(pipeline.store_uri)
    try:
        # As the status shows them: a notice joined with its delivery batch's outcome.
        return await notices_as_they_stand(client[pipeline.database], {"appeal_id": {"$in": appeal_ids}})
    finally:
        await client.close()


async def notifier_counted(pipeline, metric: str, label: str = "") -> float:
    """The notifier's counter `metric`, summed over the series whose labels include `label`."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{pipeline.service_port('notifier')}/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if line.startswith((f"{metric} ", f"{metric}{{")) and label in line
    )


async def duplicates_counted(pipeline) -> float:
    return await notifier_counted(pipeline, "cityline_notifier_notifications_total", 'state="duplicate"')


RESIDENTS = [
    # transport, channel, contact, a word every message in the resident's language has
    ("sms", "web", {"phone": "+380671112233", "language": "uk"}, "вернення"),
    ("email", "phone", {"email": "olena@example.com", "language": "en"}, "ppeal"),
    ("webhook", "mobile", {"phone": "+380671112244", "language": "ru"}, "бращени"),
]


async def test_each_kind_over_each_transport_once_even_when_redelivered(pipeline):
    appeals: dict[str, tuple[str, dict, str]] = {}
    for transport, channel, contact, _word in RESIDENTS:
        appeal_id = await submit(pipeline, "Третій день немає гарячої води, Оболонь", channel, contact)
        appeals[transport] = (appeal_id, contact, channel)
        await publish_events(pipeline, synthetic_events(appeal_id, contact, channel))

    async def all_delivered():
        return all(len({m["key"] for m in messages_of(pipeline, a[0])}) == 7 for a in appeals.values())

    await wait_until(all_delivered, timeout=45)

    for transport, _channel, contact, word in RESIDENTS:
        appeal_id = appeals[transport][0]
        messages = messages_of(pipeline, appeal_id)
        assert {m["transport"] for m in messages} == {transport}
        assert {m["key"].split(":")[1] for m in messages} == ALL_KINDS
        assert all(word in m["text"] for m in messages), [m["text"] for m in messages]
        texts = {m["key"].split(":")[1]: m["text"] for m in messages}
        assert appeal_id in texts["registered"]
        assert "Прийом з 8:00" in texts["answer"]
        assert "Не в компетенції" in texts["rejected"]
        if transport == "sms":
            assert {m["to"] for m in messages} == {contact["phone"]}
            # In batches, the default against the sink: each message carries its notice key as its reference.
            assert all(m["path"] == "/sms/batch" and m["batch"] for m in messages)
        if transport == "email":
            assert {m["to"] for m in messages} == {contact["email"]}
            assert all(appeal_id in m["subject"] for m in messages)
        if transport == "webhook":
            for message in messages:
                body = json.dumps(message["payload"], ensure_ascii=False).encode()
                expected = "sha256=" + hmac.new(EMBEDDED_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
                assert message["headers"]["x-cityline-signature"] == expected

    stored = await notices_of(pipeline, [a[0] for a in appeals.values()])
    assert len(stored) == 21
    assert {(n["state"], n["attempts"]) for n in stored} == {("sent", 1)}
    assert all(n["sent_at"] >= n["created_at"] for n in stored)

    # Every event again, as a redelivery brings it: recorded as duplicates, and nothing is sent twice.
    before = await duplicates_counted(pipeline)
    originals = await read_topic(
        pipeline.bootstrap,
        topics.APPEALS_STATUS,
        lambda found: sum(r.key.decode() in {a[0] for a in appeals.values()} for r in found) >= 12,
    )
    ours = [r for r in originals if r.key.decode() in {a[0] for a in appeals.values()}]
    await publish(pipeline.bootstrap, topics.APPEALS_STATUS, [r.value for r in ours])

    async def counted():
        return await duplicates_counted(pipeline) >= before + len(ours)

    await wait_until(counted, timeout=30)
    # The handler has recorded them all as duplicates: nothing new is due, nothing was sent again.
    stored = await notices_of(pipeline, [a[0] for a in appeals.values()])
    assert len(stored) == 21
    assert {(n["state"], n["attempts"]) for n in stored} == {("sent", 1)}
    for appeal_id, _contact, _channel in appeals.values():
        assert len(messages_of(pipeline, appeal_id)) == 7


async def control_sms_sink(pipeline, status: int | None = None, **command: Any) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"http://127.0.0.1:{pipeline.settings.sms_sink_port}/_control", json={"status": status, **command}
        )
        response.raise_for_status()


async def test_one_refused_number_in_a_batch_fails_alone_and_the_rest_are_sent_once(pipeline):
    refused_phone = "+380670000013"
    phones = ["+380671113301", "+380671113302", refused_phone, "+380671113304", "+380671113305"]
    appeal_ids = [new_appeal_id() for _ in phones]
    await control_sms_sink(pipeline, refuse=[refused_phone])
    try:
        # One publish on one key: the notifier reads them in one poll, so they go to the gateway in one batch.
        events = [
            status_changed(appeal_id, "resolved", {"phone": phone}, "web")
            for appeal_id, phone in zip(appeal_ids, phones, strict=True)
        ]
        await publish(pipeline.bootstrap, topics.APPEALS_STATUS, events, key=b"batch-of-five")

        async def settled():
            notices = await notices_of(pipeline, appeal_ids)
            return len(notices) == 5 and all(n["state"] in ("sent", "failed") for n in notices) and notices

        notices = {n["appeal_id"]: n for n in await wait_until(settled, timeout=45)}
    finally:
        await control_sms_sink(pipeline, refuse=[])

    refused_id = appeal_ids[phones.index(refused_phone)]
    refused = notices.pop(refused_id)
    assert (refused["state"], refused["reason"], refused["attempts"]) == ("failed", "sms-refused", 1)
    assert refused["detail"] == "rejected: destination refused"
    assert {(n["state"], n["attempts"]) for n in notices.values()} == {("sent", 1)}
    assert messages_of(pipeline, refused_id) == []
    delivered = [m for appeal_id in notices for m in messages_of(pipeline, appeal_id)]
    assert sorted(m["to"] for m in delivered) == sorted(set(phones) - {refused_phone})
    assert all(m["path"] == "/sms/batch" for m in delivered)
    records = await read_topic(
        pipeline.bootstrap, topics.NOTIFICATIONS_DLQ, lambda found: any(r.key == refused_id.encode() for r in found)
    )
    [record] = [r for r in records if r.key == refused_id.encode()]
    assert dict(record.headers)[REASON_HEADER] == b"sms-refused"


def managed_process(pipeline, name: str):
    return next(process for process in pipeline.processes if process.name == name)


async def test_a_gateway_and_a_mail_server_down_for_a_while_lose_nothing(pipeline):
    sms_resident = {"phone": "+380671112255", "language": "uk"}
    mail_resident = {"email": "taras@example.com", "language": "uk"}
    smtp_sink = managed_process(pipeline, "smtp-sink")
    await control_sms_sink(pipeline, 503)
    smtp_sink.stop()
    try:
        appeal_ids = [new_appeal_id() for _ in range(12)]
        events = [
            (
                topics.APPEALS_STATUS,
                status_changed(appeal_id, "resolved", sms_resident if index % 2 else mail_resident, "web"),
            )
            for index, appeal_id in enumerate(appeal_ids)
        ]
        await publish_events(pipeline, events)

        async def retrying():
            notices = await notices_of(pipeline, appeal_ids)
            return len(notices) == 12 and all(
                n["state"] in ("pending", "sending") and n["attempts"] >= 3 for n in notices
            )

        await wait_until(retrying, timeout=30)
        notices = await notices_of(pipeline, appeal_ids)
        assert {n["reason"] for n in notices if n["transport"] == "sms" and n["state"] == "pending"} <= {"http-503"}
        assert {n["reason"] for n in notices if n["transport"] == "email" and n["state"] == "pending"} <= {
            "unreachable"
        }
        assert not any(messages_of(pipeline, appeal_id) for appeal_id in appeal_ids)
    finally:
        await control_sms_sink(pipeline, None)
        smtp_sink.start()
        await wait_until(lambda: _port(pipeline.settings.smtp_sink_port), timeout=20)

    async def delivered():
        notices = await notices_of(pipeline, appeal_ids)
        return all(n["state"] == "sent" for n in notices)

    await wait_until(delivered, timeout=30)
    for appeal_id in appeal_ids:
        assert len(messages_of(pipeline, appeal_id)) == 1
    assert {n["transport"] for n in await notices_of(pipeline, appeal_ids)} == {"sms", "email"}


async def _port(port: int) -> bool:
    return port_open(port)


async def test_opt_out_and_no_contact_send_nothing_and_say_why(pipeline):
    opted_out = await submit(
        pipeline, "Не працює ліфт", "web", {"phone": "+380671112266", "notifications": False, "language": "uk"}
    )
    anonymous = new_appeal_id()
    await publish_events(
        pipeline,
        [
            (
                topics.APPEALS_STATUS,
                status_changed(opted_out, "resolved", {"phone": "+380671112266", "notifications": False}, "web"),
            ),
            (topics.APPEALS_STATUS, status_changed(anonymous, "resolved", None, "web")),
        ],
    )

    async def recorded():
        notices = await notices_of(pipeline, [opted_out, anonymous])
        return len(notices) == 4 and notices

    notices = await wait_until(recorded, timeout=30)
    assert {(n["appeal_id"], n["state"], n["reason"], n["transport"]) for n in notices} == {
        (opted_out, "skipped", "opt-out", "none"),
        (anonymous, "skipped", "no-contact", "none"),
    }
    assert messages_of(pipeline, opted_out) == [] and messages_of(pipeline, anonymous) == []


async def failed_notice(pipeline, appeal_id: str) -> dict:
    """The appeal's (only) notice once the notifier has given it up as failed."""

    async def failed():
        notices = await notices_of(pipeline, [appeal_id])
        return notices and notices[0]["state"] == "failed" and notices[0]

    return await wait_until(failed, timeout=30)


async def test_a_refused_address_fails_at_once_with_a_dead_letter(pipeline):
    appeal_id = new_appeal_id()
    await publish_events(
        pipeline,
        [(topics.APPEALS_STATUS, status_changed(appeal_id, "resolved", {"email": "no-such-user@example.com"}, "web"))],
    )

    notice = await failed_notice(pipeline, appeal_id)
    assert (notice["reason"], notice["attempts"]) == ("smtp-recipient-refused", 1)
    assert "550" in notice["detail"]
    records = await read_topic(
        pipeline.bootstrap, topics.NOTIFICATIONS_DLQ, lambda found: any(r.key == appeal_id.encode() for r in found)
    )
    [record] = [r for r in records if r.key == appeal_id.encode()]
    assert json.loads(record.value)["notification_id"] == f"{appeal_id}:resolved"
    assert dict(record.headers)[REASON_HEADER] == b"smtp-recipient-refused"
    assert messages_of(pipeline, appeal_id) == []


async def test_a_failed_notice_is_sent_again_once_the_gateway_is_fixed(pipeline):
    appeal_id = new_appeal_id()
    await control_sms_sink(pipeline, 401)  # e.g. the gateway's token was rotated: refused for good
    try:
        await publish_events(
            pipeline,
            [(topics.APPEALS_STATUS, status_changed(appeal_id, "resolved", {"phone": "+380671112277"}, "web"))],
        )

        assert (await failed_notice(pipeline, appeal_id))["reason"] == "http-401"
    finally:
        await control_sms_sink(pipeline, None)

    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap,
        "MONGODB_URI": pipeline.store_uri,
        "CITYLINE_MONGODB_DATABASE": pipeline.database,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cityline.cli",
        "notify",
        "resend",
        "--appeal",
        appeal_id,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0 and b"resending 1 failed notice" in stdout, stderr

    async def sent():
        notices = await notices_of(pipeline, [appeal_id])
        return notices[0]["state"] == "sent" and notices[0]

    notice = await wait_until(sent, timeout=30)
    assert (notice["attempts"], len(notice["resent_at"])) == (1, 1)
    assert [m["to"] for m in messages_of(pipeline, appeal_id)] == ["+380671112277"]


async def test_a_departments_report_reaches_the_resident_through_the_dispatcher(pipeline):
    """The whole loop: the department reports on dept.updates, the dispatcher announces the change on
    appeals.status, the resident gets the outcome with the department's comment; `accepted` is not worth an SMS."""
    phone = "+380671112288"
    appeal_id = await submit(pipeline, "Не працює ліфт у під'їзді, третій день", "web", {"phone": phone})
    client = store_client(pipeline.store_uri)
    try:
        appeal = await wait_until(
            lambda: client[pipeline.database].appeals.find_one({"_id": appeal_id, "status": "assigned"})
        )
    finally:
        await client.close()
    department = appeal["assignment"]["department"]
    reports = [
        {"event_id": str(uuid.uuid4()), "appeal_id": appeal_id, "department": department, "status": status, **extra}
        for status, extra in (("accepted", {}), ("resolved", {"comment": "Ліфт відремонтовано"}))
    ]
    await publish(pipeline.bootstrap, topics.DEPARTMENT_UPDATES, reports, key=appeal_id.encode())

    async def told():
        kinds = {m["key"].split(":")[1]: m for m in messages_of(pipeline, appeal_id)}
        return "resolved" in kinds and kinds

    messages = await wait_until(told, timeout=45)
    assert set(messages) == {"registered", "assigned", "resolved"}
    assert "Ліфт відремонтовано" in messages["resolved"]["text"]
    assert {m["to"] for m in messages.values()} == {phone}


async def kill_notifier_when(pipeline, condition: Callable[[], Awaitable[Any]]) -> None:
    await wait_until(condition, timeout=30)
    notifier = managed_process(pipeline, "notifier")
    notifier.process.kill()
    notifier.process.wait(timeout=10)


async def restart_notifier_until_all_sent(pipeline, appeal_ids: list[str]) -> list[dict]:
    managed_process(pipeline, "notifier").start()

    async def ready():
        return pipeline.service_ready("notifier")

    await wait_until(ready, timeout=60)

    async def delivered():
        notices = await notices_of(pipeline, appeal_ids)
        return all(n["state"] == "sent" for n in notices) and notices

    return await wait_until(delivered, timeout=30)


async def test_a_notifier_killed_while_the_gateway_is_down_loses_nothing(pipeline):
    """What is owed lives in the store, not in the process: kill -9 the notifier mid-retry, bring the gateway back,
    and the restarted notifier delivers every notice, once."""
    resident = {"phone": "+380671112299", "language": "en"}
    appeal_ids = [new_appeal_id() for _ in range(8)]
    await control_sms_sink(pipeline, 503)
    try:
        await publish_events(
            pipeline, [(topics.APPEALS_STATUS, status_changed(a, "resolved", resident, "web")) for a in appeal_ids]
        )

        async def retrying():
            notices = await notices_of(pipeline, appeal_ids)
            return len(notices) == 8 and all(n["attempts"] >= 2 for n in notices)

        await kill_notifier_when(pipeline, retrying)
    finally:
        await control_sms_sink(pipeline, None)
    await restart_notifier_until_all_sent(pipeline, appeal_ids)
    for appeal_id in appeal_ids:
        assert len(messages_of(pipeline, appeal_id)) == 1


def cityline(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cityline.cli", *args],
        env=stack.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_channel_registered_with_its_own_webhook_gets_its_residents_notices_signed_with_its_secret(pipeline):
    name = f"t_app_{uuid.uuid4().hex[:8]}"
    url = f"http://127.0.0.1:{pipeline.settings.sms_sink_port}/webhook/{name}"
    refused = cityline(pipeline, "channels", "add", f"{name}_x", "--kind", "mobile", "--webhook", "ftp://example.com/x")
    assert refused.returncode == 2 and "--webhook" in refused.stderr, refused.stderr
    added = cityline(pipeline, "channels", "add", name, "--kind", "mobile", "--webhook", url)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1]
    listed = [json.loads(line) for line in cityline(pipeline, "channels", "list", "--json").stdout.splitlines()]
    [record] = [record for record in listed if record["name"] == name]
    assert record["webhook_url"] == url and secret not in json.dumps(listed)

    appeal_id = new_appeal_id()
    resident = {"phone": "+380671114401", "language": "uk"}
    await publish_events(pipeline, [(topics.APPEALS_STATUS, status_changed(appeal_id, "resolved", resident, name))])

    async def delivered():
        return messages_of(pipeline, appeal_id)

    [message] = await wait_until(delivered, timeout=45)
    assert (message["transport"], message["to"], message["key"]) == ("webhook", name, f"{appeal_id}:resolved")
    body = json.dumps(message["payload"], ensure_ascii=False).encode()
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert message["headers"]["x-cityline-signature"] == expected


async def test_status_shows_a_notice_its_delivery_batch_settled_as_sent(pipeline):
    """A notice sent at its first attempt is never updated: its batch names it sent in one write, and the status
    joins the two."""
    appeal_id = await submit(pipeline, "Не працює ліфт у під'їзді", "web", {"phone": "+380671112266", "language": "uk"})

    async def sent():
        notices = await notices_of(pipeline, [appeal_id])
        return any(n["kind"] == "registered" and n["state"] == "sent" for n in notices)

    await wait_until(sent, timeout=30)
    client = store_client(pipeline.store_uri)
    try:
        raw = await client[pipeline.database].notifications.find_one({"_id": f"{appeal_id}:registered"})
        batch = await client[pipeline.database][NOTIFICATION_DELIVERIES].find_one({"_id": raw["delivery"]})
    finally:
        await client.close()
    assert (raw["state"], raw["attempts"], "next_attempt_at" in raw) == ("pending", 0, False)
    assert raw["_id"] in batch["sent"] and "lease_until" not in batch

    view = json.loads(cityline(pipeline, "status", appeal_id, "--json").stdout)
    [registered] = [n for n in view["notifications"] if n["kind"] == "registered"]
    assert (registered["state"], registered["attempts"]) == ("sent", 1)
    assert registered["sent_at"] and "delivery" not in registered


async def test_a_notifier_killed_mid_send_leaves_its_batch_to_its_successor_and_each_resident_gets_one_message(
    pipeline,
):
    """kill -9 while the gateway holds the requests (and then refuses them): the batch was never settled, so after
    its lease the restarted notifier takes its notices over and sends each once."""
    resident = {"phone": "+380671112277", "language": "en"}
    appeal_ids = [new_appeal_id() for _ in range(5)]
    await control_sms_sink(pipeline, 503, delay_s=15)
    try:
        await publish_events(
            pipeline, [(topics.APPEALS_STATUS, status_changed(a, "resolved", resident, "web")) for a in appeal_ids]
        )

        async def handed_off():
            notices = await notices_of(pipeline, appeal_ids)
            return len(notices) == 5 and all("delivery" in n and n["attempts"] == 0 for n in notices)

        await kill_notifier_when(pipeline, handed_off)
    finally:
        await control_sms_sink(pipeline, None, delay_s=0)
    notices = await restart_notifier_until_all_sent(pipeline, appeal_ids)
    assert {(n["state"], n["attempts"]) for n in notices} == {("sent", 1)}  # taken over: one attempt each
    assert await notifier_counted(pipeline, "cityline_notifier_takeovers_total") == 5
    for appeal_id in appeal_ids:
        assert len(messages_of(pipeline, appeal_id)) == 1
