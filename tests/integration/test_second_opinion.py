"""The second opinion on the real broker and store: an appeal the rules are unsure of and the shipped model reads
otherwise is flagged and waits in triage with both opinions; the operator's decision there is what `--train` reads
back; a resident's chosen category reaches the classifier as a hint."""

from urllib.parse import quote

import httpx
import pytest

from services.classifier.domain import classify_text
from services.classifier.opinion import load_model
from services.classifier.repository import operator_decisions
from services.classifier.rulebook import read_rules
from services.classifier.settings import DEFAULT_MODEL
from shared.settings import DEFAULT_TAXONOMY, ConnectionSettings
from shared.staff_auth import ACTOR_HEADER
from shared.store import Store
from shared.taxonomy import load_taxonomy
from tests.integration.helpers import store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration

# The rules lean to heating (confidence ~0.56) for lukewarm tap water; the model reads hot water.
UNSURE_AND_DISPUTED = "З крана гаряча ледь тепла, ледве літепла"


async def settled(pipeline, body: dict, status: str) -> dict:
    """The appeal of a submission once the dispatcher has given it `status`."""
    client = store_client(pipeline.store_uri)
    try:
        appeals = client[pipeline.database].appeals

        async def found():
            return await appeals.find_one({"intake_key": f"{body['channel']}:{body['external_id']}", "status": status})

        return await wait_until(found, timeout=60, interval=0.2)
    finally:
        await client.close()


async def test_a_flagged_unsure_appeal_waits_in_triage_and_the_operators_decision_trains_the_model(
    pipeline, classifier_rules
):
    assert DEFAULT_MODEL.exists(), "the shipped second-opinion model is part of the classifier"
    body = submission(UNSURE_AND_DISPUTED)
    await submit_appeals(pipeline.bootstrap, [body])

    appeal = await settled(pipeline, body, "triage")

    classification = appeal["classification"]
    assert classification["flagged"] is True
    assert (classification["category"], classification["rules_category"]) == ("unclassified", "heating")
    assert classification["second_opinion"]["category"] == "hot_water"
    assert classification["second_opinion"]["model"] == load_model(DEFAULT_MODEL).version
    # The rules' own urgency, kept while a person decides.
    assert (
        classification["urgency"]
        == classify_text(UNSURE_AND_DISPUTED, read_rules(classifier_rules, load_taxonomy(DEFAULT_TAXONOMY))).urgency
    )
    assert appeal["history"][-1]["status"] == "triage"

    staff = {"Authorization": f"Bearer {pipeline.staff_token()}", ACTOR_HEADER: quote("Олена")}
    base = f"http://127.0.0.1:{pipeline.service_port('dispatcher')}"
    async with httpx.AsyncClient(base_url=base, timeout=20, headers=staff) as http:
        decided = await http.post(f"/v1/triage/{appeal['_id']}", json={"category": "hot_water"})
    assert decided.status_code == 200, decided.text
    await settled(pipeline, body, "assigned")

    store = Store.from_settings(
        ConnectionSettings(mongodb_uri=pipeline.store_uri, mongodb_database=pipeline.database), app_name="test"
    )
    try:
        examples = await operator_decisions(store)
    finally:
        await store.close()
    assert [(e.category, e.urgency) for e in examples if e.text == UNSURE_AND_DISPUTED] == [
        ("hot_water", classification["urgency"])
    ]


async def test_a_residents_chosen_category_reaches_the_classifier_as_a_hint(pipeline):
    body = submission("Не горить ліхтар, на дорозі яма", requested_category="street_lighting")
    await submit_appeals(pipeline.bootstrap, [body])

    appeal = await settled(pipeline, body, "assigned")

    classification = appeal["classification"]
    assert (classification["category"], classification["requested_category"]) == ("street_lighting", "street_lighting")
    assert classification["requested_by"] == "resident"
    assert "hint.requested_category" in [rule["rule"] for rule in classification["fired"]]
