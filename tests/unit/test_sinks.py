"""cityline/sinks.py in process: the HTTP sink keeps each message as a file, checks the token, fails on command;
the SMTP sink's handler refuses unknown mailboxes and keeps each message as an .eml file."""

import asyncio
import json
from types import SimpleNamespace

import httpx
import pytest

from cityline.sinks import MailSink, http_sink


@pytest.fixture
def client(tmp_path):
    transport = httpx.ASGITransport(app=http_sink(tmp_path, token="t0ken"))
    return httpx.AsyncClient(transport=transport, base_url="http://sink")


async def test_an_sms_is_kept_as_one_file_with_its_payload_and_idempotency_key(client, tmp_path):
    response = await client.post(
        "/sms",
        json={"to": "+380671234567", "text": "Звернення № 1000001"},
        headers={"Authorization": "Bearer t0ken", "Idempotency-Key": "1000001:registered"},
    )

    assert response.status_code == 200
    [path] = list((tmp_path / "sms").glob("*.json"))
    record = json.loads(path.read_text())
    assert record["payload"] == {"to": "+380671234567", "text": "Звернення № 1000001"}
    assert record["headers"]["idempotency-key"] == "1000001:registered"


async def test_an_sms_without_the_token_is_refused(client, tmp_path):
    response = await client.post("/sms", json={"to": "+380671234567", "text": "x"})

    assert response.status_code == 401
    assert not (tmp_path / "sms").exists()


async def test_a_webhook_is_kept_per_channel_with_its_signature(client, tmp_path):
    await client.post("/webhook/mobile", json={"kind": "registered"}, headers={"X-CityLine-Signature": "sha256=ab"})

    [path] = list((tmp_path / "webhook" / "mobile").glob("*.json"))
    assert json.loads(path.read_text())["headers"]["x-cityline-signature"] == "sha256=ab"


async def test_the_sink_fails_on_command_until_told_otherwise(client, tmp_path):
    await client.post("/_control", json={"status": 503})
    refused = await client.post("/webhook/mobile", json={})
    await client.post("/_control", json={"status": None})
    accepted = await client.post("/webhook/mobile", json={})

    assert (refused.status_code, accepted.status_code) == (503, 200)
    assert len(list((tmp_path / "webhook" / "mobile").glob("*.json"))) == 1


async def test_the_mail_sink_refuses_unknown_mailboxes_and_keeps_the_rest(tmp_path):
    sink = MailSink(tmp_path)
    envelope = SimpleNamespace(rcpt_tos=[], original_content=b"Subject: hi\r\n\r\nbody\r\n", content=None)

    refused = await sink.handle_RCPT(None, None, envelope, "no-such-user@example.com", [])
    accepted = await sink.handle_RCPT(None, None, envelope, "olena@example.com", [])
    answer = await sink.handle_DATA(None, None, envelope)

    assert refused.startswith("550") and accepted.startswith("250") and answer.startswith("250")
    assert envelope.rcpt_tos == ["olena@example.com"]
    [path] = list((tmp_path / "mail").glob("*.eml"))
    assert path.read_bytes().startswith(b"Subject: hi")


async def test_a_batch_keeps_one_file_per_accepted_message_and_answers_for_each(client, tmp_path):
    await client.post("/_control", json={"refuse": ["+380670000000"]})
    messages = [
        {"to": "+380671234567", "text": "Звернення № 1", "reference": "1:registered"},
        {"to": "+380670000000", "text": "Звернення № 2", "reference": "2:registered"},
        {"to": "+380671234568", "text": "Звернення № 3", "reference": "3:registered"},
    ]

    response = await client.post("/sms/batch", json={"messages": messages}, headers={"Authorization": "Bearer t0ken"})

    answer = response.json()["messages"]
    assert [(result["reference"], result["status"]) for result in answer] == [
        ("1:registered", "accepted"),
        ("2:registered", "rejected"),
        ("3:registered", "accepted"),
    ]
    kept = [json.loads(path.read_text())["payload"] for path in sorted((tmp_path / "sms").glob("*.json"))]
    assert [payload["reference"] for payload in kept] == ["1:registered", "3:registered"]


async def test_a_batch_without_the_token_or_without_messages_is_refused_whole(client, tmp_path):
    unauthorized = await client.post("/sms/batch", json={"messages": []})
    malformed = await client.post("/sms/batch", json={"to": "+380671234567"}, headers={"Authorization": "Bearer t0ken"})

    assert (unauthorized.status_code, malformed.status_code) == (401, 400)
    assert not (tmp_path / "sms").exists()


async def test_a_refused_number_alone_gets_a_400_and_the_refusal_is_lifted_on_command(client, tmp_path):
    auth = {"Authorization": "Bearer t0ken"}
    await client.post("/_control", json={"refuse": ["+380670000000"]})
    refused = await client.post("/sms", json={"to": "+380670000000", "text": "x"}, headers=auth)
    await client.post("/_control", json={"refuse": []})
    accepted = await client.post("/sms", json={"to": "+380670000000", "text": "x"}, headers=auth)

    assert (refused.status_code, accepted.status_code) == (400, 200)


async def test_a_repeated_reference_is_accepted_and_kept_aside_so_the_resident_gets_one_sms(client, tmp_path):
    auth = {"Authorization": "Bearer t0ken"}
    message = {"to": "+380671234567", "text": "Звернення № 1", "reference": "1:registered"}
    first = await client.post("/sms/batch", json={"messages": [message]}, headers=auth)
    again = await client.post(
        "/sms/batch", json={"messages": [message, {**message, "reference": "2:registered"}]}, headers=auth
    )
    single = await client.post(
        "/sms", json={"to": "+380671234567", "text": "x"}, headers={**auth, "Idempotency-Key": "2:registered"}
    )

    assert [r.get("duplicate", False) for r in first.json()["messages"]] == [False]
    assert [(r["status"], r.get("duplicate", False)) for r in again.json()["messages"]] == [
        ("accepted", True),
        ("accepted", False),
    ]
    assert (single.status_code, single.json()["duplicate"]) == (200, True)
    sent = [
        json.loads(path.read_text())["payload"].get("reference") for path in sorted((tmp_path / "sms").glob("*.json"))
    ]
    repeats = list((tmp_path / "sms-repeats").glob("*.json"))
    assert (sent, len(repeats)) == (["1:registered", "2:registered"], 2)


async def test_the_sink_says_how_many_requests_it_holds(client):
    await client.post("/_control", json={"delay_s": 0.3})
    held = asyncio.ensure_future(
        client.post("/sms", json={"to": "+380671234567", "text": "x"}, headers={"Authorization": "Bearer t0ken"})
    )
    seen = []
    for _ in range(100):
        seen.append((await client.get("/health")).json()["holding"])
        if seen[-1]:
            break
        await asyncio.sleep(0.005)
    assert seen[-1] == 1
    assert (await held).status_code == 200
    assert (await client.get("/health")).json()["holding"] == 0
