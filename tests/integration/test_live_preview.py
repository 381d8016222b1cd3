"""The live preview on the running services (as `cityline up` starts them): what the classifier and the dispatcher
preview for a text is what the pipeline then decides for the same appeal, and the street suggestions are served."""

from datetime import datetime, timedelta

import httpx
import pytest

from tests.integration.helpers import store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration

TEXT = "Не прибирають сніг біля будинку, все у кризі, люди падають"
ADDRESS = {"text": "вул. Липська, 5"}


async def test_the_preview_is_what_the_pipeline_decides(pipeline):
    body = submission(TEXT, channel="phone", address=ADDRESS)
    classifier = f"http://127.0.0.1:{pipeline.service_port('classifier')}"
    dispatcher = f"http://127.0.0.1:{pipeline.service_port('dispatcher')}"
    staff = {"Authorization": f"Bearer {pipeline.staff_token()}"}
    async with httpx.AsyncClient(timeout=30) as http:
        refused = await http.post(f"{classifier}/v1/preview", json={"text": TEXT})
        classified = await http.post(f"{classifier}/v1/preview", json={"text": TEXT, "language": "uk"}, headers=staff)
        assert classified.status_code == 200, classified.text
        classification = classified.json()["classification"]
        routed = await http.post(
            f"{dispatcher}/v1/preview",
            json={
                "classification": classification,
                "address": ADDRESS,
                "channel": "phone",
                "received_at": body["received_at"],
                "text": TEXT,
            },
            headers=staff,
        )
        assert routed.status_code == 200, routed.text
        streets = await http.get(f"{dispatcher}/v1/streets", params={"q": "липс"}, headers=staff)
    assert refused.status_code == 401
    assignment = routed.json()["assignment"]
    assert (classification["category"], assignment["department"]) == ("snow_ice", "rda_pecherskyi")
    assert streets.json()["items"][0]["district"] == "pecherskyi"

    await submit_appeals(pipeline.bootstrap, [body])
    client = store_client(pipeline.store_uri)
    try:
        appeal = await wait_until(
            lambda: client[pipeline.database].appeals.find_one(
                {"intake_key": f"phone:{body['external_id']}", "status": {"$in": ["assigned", "triage"]}}
            ),
            timeout=40,
        )
    finally:
        await client.close()
    decided = appeal["classification"]
    for field in ("category", "urgency", "matched_rules", "ruleset", "scores"):
        assert decided[field] == classification[field], field
    stored = appeal["assignment"]
    for field in ("department", "district", "outcome"):
        assert stored[field] == assignment[field], field
    # The pipeline counts the due time from when it routed, the preview from the reception: seconds apart.
    previewed_due = datetime.fromisoformat(assignment["due_at"])
    assert abs(stored["due_at"] - previewed_due) < timedelta(minutes=2)
