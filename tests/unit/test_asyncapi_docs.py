"""The committed AsyncAPI documents in docs/asyncapi are what the services generate: a contract change is
reviewed together with the code that makes it (regenerate with `cityline asyncapi`)."""

import json
from pathlib import Path

import pytest

from cityline.asyncapi import asyncapi_documents
from shared.contracts.classifier import AppealClassified
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.intake import AppealRegistered, AppealSubmitted

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


@pytest.fixture(scope="module")
def generated() -> dict[str, dict]:
    return asyncapi_documents()


@pytest.mark.parametrize("service", ["intake", "classifier", "dispatcher", "notifier"])
def test_committed_document_matches_the_code(generated, service):
    committed = json.loads((DOCS / f"{service}.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(generated[service])), "run `cityline asyncapi` and review the diff"


def test_department_topics_are_in_the_dispatcher_contract(generated):
    channels = json.dumps(generated["dispatcher"]["channels"])
    for topic in (
        "dept.kyivteploenergo.assignments",
        "dept.housing_obolonskyi.assignments",
        "dept.lift_service.incidents",
        "appeals.assigned",
        "appeals.status",
        "appeals.escalated",
    ):
        assert topic in channels
    components = json.dumps(generated["dispatcher"]["components"])
    for schema in ("DepartmentTask", "IncidentTask", "AppealStatusChanged", "AppealEscalated"):
        assert schema in components


@pytest.mark.parametrize(
    ("service", "consumed", "event"),
    [
        ("intake", "appeals.intake", AppealSubmitted),
        ("classifier", "appeals.registered:classifier", AppealRegistered),
        ("dispatcher", "appeals.classified:dispatcher", AppealClassified),
        ("dispatcher", "dept.updates:dispatcher", DepartmentUpdate),
    ],
)
def test_each_consumed_message_shows_the_event_it_carries(generated, service, consumed, event):
    payload = generated[service]["components"]["schemas"][f"{consumed}:Message:Payload"]
    assert set(payload["properties"]) == set(event.model_json_schema()["properties"])


def test_the_notifiers_one_subscriber_shows_its_three_events(generated):
    schemas = generated["notifier"]["components"]["schemas"]
    payload = schemas["appeals.registered+assigned+status:notifier:Message:Payload"]
    assert {option["$ref"].rsplit("/", 1)[1] for option in payload["anyOf"]} == {
        "AppealRegistered",
        "AppealAssigned",
        "AppealStatusChanged",
    }
