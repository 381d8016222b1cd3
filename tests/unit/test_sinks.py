"""cityline/sinks.py in process: the HTTP sink keeps each message as a file, checks the token, fails on command;
the SMTP sink's handler refuses unknown mailboxes and keeps each message as an .eml file."""

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
