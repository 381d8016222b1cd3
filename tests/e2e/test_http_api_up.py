"""The HTTP API as the README shows it: `cityline up`, `cityline channels add`, then POST and GET over HTTP."""

import time

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_a_channel_posts_an_appeal_and_reads_its_status(running):
    running.up()
    added = running.cli("channels", "add", "kyiv_portal", "--kind", "web")
    key = added.stdout.strip().splitlines()[-1]
    listed = running.cli("channels", "list")
    assert "kyiv_portal" in listed.stdout and key not in listed.stdout

    base = f"http://127.0.0.1:{running.ports['intake']}"
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/health").json()["ready"] is True
        created = client.post(
            "/v1/appeals",
            json={"text": "Третій день немає гарячої води, Оболонь", "contact": {"phone": "067 123 45 67"}},
            headers={"X-API-Key": key, "Idempotency-Key": "readme-1"},
        )
        assert created.status_code == 201, created.text
        appeal_id = created.json()["appeal_id"]

        # The channel follows its own appeal with its key (the public's reads are limited per address).
        own = {"X-API-Key": key}
        deadline = time.monotonic() + 30
        view = client.get(created.json()["status_url"], headers=own).json()
        while view["status"] not in ("assigned", "triage") and time.monotonic() < deadline:
            time.sleep(0.2)
            view = client.get(created.json()["status_url"], headers=own).json()
        assert view["status"] == "assigned" and view["department"]["code"] == "kyivteploenergo"

        [request] = client.get(f"/open311/v2/requests/{appeal_id}.json").json()
        assert request["status"] == "open" and request["agency_responsible"]

    status = running.cli("status", appeal_id)
    assert "kyiv_portal" in status.stdout

    running.cli("channels", "revoke", "kyiv_portal")
    refused = httpx.post(f"{base}/v1/appeals", json={"text": "x"}, headers={"X-API-Key": key}, timeout=30)
    assert refused.status_code == 403
    assert running.interrupt() == 0
