"""The resident's verdict as docs/execution-control.md runs it: `cityline up`, then the page's commands — submit, a
department's report from the shell, the resident's SMS reply through the SMS sink, a verdict by the notice's link
token, the status and the month's report — with real curl where the page shows curl."""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

PHONE = "+380441110001"


def status_of(running, appeal_id: str) -> dict:
    return json.loads(running.cli("status", appeal_id, "--json").stdout)


def wait_for(running, appeal_id: str, wanted: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    view = status_of(running, appeal_id)
    while view["status"] != wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        view = status_of(running, appeal_id)
    assert view["status"] == wanted, f"{appeal_id} is {view['status']}, not {wanted}: {view.get('history')}"
    return view


def last_token(outbox: Path, appeal_id: str, after: set[Path]) -> tuple[str, set[Path]]:
    """The reply token of the newest SMS that asks about `appeal_id`, among the SMS not in `after`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(outbox.glob("*")) - after
        for message in sorted(new, key=lambda path: path.stat().st_mtime, reverse=True):
            found = re.search(rf"/v1/appeals/{appeal_id}/reply\?token=([A-Za-z0-9_-]+)", message.read_text())
            if found:
                return found.group(1), set(outbox.glob("*"))
        time.sleep(0.5)
    raise AssertionError(f"no SMS with a reply link for {appeal_id} in {outbox}")


def curl(running, *args: str) -> dict:
    done = subprocess.run(["curl", "-s", *args], env=running.client_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_resident_disputes_twice_and_the_supervisor_has_it(running):
    running.up()
    intake = f"http://127.0.0.1:{running.ports['intake']}"
    sink = f"http://127.0.0.1:{running.ports['sms_sink']}"
    outbox = running.run_dir / "outbox" / "sms"
    appeal_id = running.cli(
        "submit", "Не працює ліфт, третій день стоїть", "--channel", "web", "--phone", PHONE, "-q"
    ).stdout.strip()
    wait_for(running, appeal_id, "assigned")
    seen = set(outbox.glob("*"))

    running.cli("department", "report", appeal_id, "resolved", "--comment", "Ліфт відремонтовано")
    wait_for(running, appeal_id, "resolved")
    first_token, seen = last_token(outbox, appeal_id, seen)

    # The resident answers the SMS: "2" is not fixed; the sink passes it on to intake with the gateway's secret.
    answer = curl(
        running, "-X", "POST", f"{sink}/sms/inbound", "-H", "content-type: application/json",
        "-d", json.dumps({"from": PHONE, "text": "2 досі не працює"}, ensure_ascii=False),
    )  # fmt: skip
    assert answer == {"outcome": "accepted", "appeal_id": appeal_id}
    reopened = wait_for(running, appeal_id, "reopened")
    assert any(entry["status"] == "reopened" for entry in reopened["history"])

    # The first notice's link is used up: the SMS took the question it asked.
    used = curl(
        running, "-X", "POST", f"{intake}/v1/appeals/{appeal_id}/verdict", "-H", "content-type: application/json",
        "-d", json.dumps({"token": first_token, "fixed": True}),
    )  # fmt: skip
    assert "already used" in used["detail"]

    running.cli("department", "report", appeal_id, "resolved", "--comment", "Замінено двигун")
    wait_for(running, appeal_id, "resolved")
    second_token, seen = last_token(outbox, appeal_id, seen)
    verdict = curl(
        running, "-X", "POST", f"{intake}/v1/appeals/{appeal_id}/verdict", "-H", "content-type: application/json",
        "-d", json.dumps({"token": second_token, "fixed": False, "comment": "Знову стоїть"}, ensure_ascii=False),
    )  # fmt: skip
    assert verdict == {"appeal_id": appeal_id, "reply": "not_fixed", "accepted": True}
    disputed = wait_for(running, appeal_id, "disputed")
    statuses = [entry["status"] for entry in disputed["history"]]
    assert statuses.count("resolved") == 2 and "reopened" in statuses and statuses[-1] == "disputed"

    month = time.strftime("%Y-%m", time.gmtime())
    report = running.cli("report", "departments", "--month", month, "--csv").stdout.splitlines()
    assert report[0] == "month,department,resolved,on_time_share,disputed_share,reopens,median_hours_to_resolve"
    [lift] = [line for line in report[1:] if ",lift_service," in line]
    assert lift.split(",")[2] == "2" and lift.split(",")[4] == "1.000" and lift.split(",")[5] == "1"
    assert running.interrupt() == 0
