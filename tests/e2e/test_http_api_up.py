"""The HTTP API as the README shows it: `cityline up`, `cityline channels add`, then POST and GET over HTTP."""

import json
import shlex
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.documented_session import documented_steps, same_shape

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


CHANNELS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "channels.md"


def test_the_session_the_channels_page_shows_runs_as_shown(running):
    """Every `curl` of the page's session, run with real curl against `cityline up`: same status, same JSON shape."""
    running.up()
    steps = documented_steps(CHANNELS_PAGE, "cityline channels add")
    added = running.cli(*shlex.split(steps[0].command)[1:])
    key = added.stdout.strip().splitlines()[-1]
    base = f"http://127.0.0.1:{running.ports['intake']}"
    curls = [step for step in steps if step.command.startswith("curl ")]
    assert len(curls) >= 4
    for step in curls:
        command = step.command.replace("http://127.0.0.1:8000", base).replace("python -m json.tool", "cat")
        # A read shows the appeal as the docs caught it (assigned): ask again while the pipeline is still on it.
        deadline = time.monotonic() + (30 if " -X " not in command else 0)
        while True:
            environment = {**running.client_env, "KEY": key}
            done = subprocess.run(["bash", "-c", command], env=environment, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{step.command}\n{done.stderr}"
            shown, printed = step.shown_json(), done.stdout.split("\n\n", 1)[-1]
            if shown is None or same_shape(shown, json.loads(printed)) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        if step.shown_status() is not None:
            assert done.stdout.startswith(f"HTTP/1.1 {step.shown_status()}"), f"{step.command}\n{done.stdout}"
        if shown is not None:
            assert same_shape(shown, json.loads(printed)), f"{step.command}\nshown: {step.shown}\nprinted: {printed}"
    assert running.interrupt() == 0
