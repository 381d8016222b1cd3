"""The committed AsyncAPI documents in docs/asyncapi are what the services generate: a contract change is
reviewed together with the code that makes it (regenerate with `cityline asyncapi`)."""

import json
from pathlib import Path

import pytest

from cityline.cli import asyncapi_documents

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
