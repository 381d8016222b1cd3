"""The classifier on the real broker and store: each decision carries its explanation, and a changed rule file
takes effect on the running service without a restart, while a broken one is refused and changes nothing."""

import httpx
import pytest
import yaml

from tests.integration.helpers import store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration


async def classify_on_stack(pipeline, text: str) -> dict:
    """Submit one appeal and return its stored decision from `classifications`, once the classifier made it."""
    body = submission(text)
    await submit_appeals(pipeline.bootstrap, [body])
    client = store_client(pipeline.store_uri)
    db = client[pipeline.database]
    try:

        async def decided():
            appeal = await db.appeals.find_one({"intake_key": f"web:{body['external_id']}"})
            if appeal is None:
                return None
            return await db.classifications.find_one({"appeal_id": appeal["_id"]})

        document = await wait_until(decided, timeout=30)

        async def dispatched():
            return await db.appeals.find_one({"_id": document["appeal_id"], "classification": {"$exists": True}})

        appeal = await wait_until(dispatched, timeout=30)
        return {"decision": document["classification"], "appeal": appeal}
    finally:
        await client.close()


async def test_a_classified_appeal_carries_the_explanation(pipeline, classifier_rules):
    found = await classify_on_stack(pipeline, "Світло вже дали, а ліфт стоїть третю добу, застрягла сусідка")

    decision = found["decision"]
    assert (decision["category"], decision["urgency"]) == ("elevators", "critical")
    assert "elevators.subject" in decision["matched_rules"]
    assert "urgency.critical.stuck_in_lift" in decision["matched_rules"]
    fired = {rule["rule"]: rule for rule in decision["fired"]}
    assert fired["electricity.signs"]["discounted"] == "resolved"
    assert decision["scores"]["elevators"] > decision["scores"]["electricity"]
    assert decision["ruleset"].startswith(yaml.safe_load(classifier_rules.read_text(encoding="utf-8"))["version"] + "@")
    # The dispatcher stores the same decision on the appeal, so an operator sees why it went where it went.
    assert found["appeal"]["classification"]["fired"] == decision["fired"]
    assert found["appeal"]["classification"]["decision_id"] == decision["decision_id"]


async def test_a_changed_rule_file_takes_effect_without_a_restart(pipeline, classifier_rules):
    original = classifier_rules.read_text(encoding="utf-8")
    classifier = next(process for process in pipeline.processes if process.name == "classifier")
    pid = classifier.process.pid
    text = "Кракозябри обсіли двір, гризуть лавки"
    before = (await classify_on_stack(pipeline, text))["decision"]
    assert before["category"] == "unclassified"

    spec = yaml.safe_load(original)
    spec["version"] = "hot-reload-test"
    spec["categories"]["greenery"]["rules"]["pests"] = {"weight": 4, "terms": ["кракозябра"]}
    try:
        classifier_rules.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")

        async def reclassified():
            decision = (await classify_on_stack(pipeline, text))["decision"]
            return decision if decision["category"] == "greenery" else None

        after = await wait_until(reclassified, timeout=60, interval=0.5)
        assert after["ruleset"].startswith("hot-reload-test@")
        assert "greenery.pests" in after["matched_rules"]

        # A broken file is refused: the last good rules stay in force, the metrics say so.
        classifier_rules.write_text(original + "\n  heating:\n    rules: {bad: {regex: ['(']}}\n", encoding="utf-8")
        metrics_url = f"http://127.0.0.1:{pipeline.service_port('classifier')}/metrics"

        async def refused():
            async with httpx.AsyncClient() as http:
                page = (await http.get(metrics_url)).text
            return "cityline_classifier_rules_file_refused 1.0" in page

        await wait_until(refused, timeout=30, interval=0.5)
        still = (await classify_on_stack(pipeline, text))["decision"]
        assert (still["category"], still["ruleset"]) == ("greenery", after["ruleset"])
        assert classifier.running() and classifier.process.pid == pid, "the classifier was not restarted"
    finally:
        classifier_rules.write_text(original, encoding="utf-8")
