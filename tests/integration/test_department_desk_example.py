"""The department consumer the docs show (examples/department_desk.py), run as a department would run it."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import store_client, submission, submit_appeals, wait_until

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def lift_desk(pipeline, tmp_path) -> Iterator[Path]:
    """The example desk of the lift service, started as a department starts it."""
    log_path = tmp_path / "desk.log"
    with log_path.open("w") as log:
        desk = subprocess.Popen(
            [sys.executable, "department_desk.py"],
            cwd=EXAMPLES,
            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap, "DEPARTMENT": "lift_service"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield log_path
        finally:
            desk.terminate()
            desk.wait(timeout=20)


async def test_the_example_desk_accepts_its_departments_task(pipeline, lift_desk):
    client = store_client(pipeline.store_uri)
    try:
        body = submission("Ліфт не працює третій день, застрягли сусіди", address={"text": "вул. Драйзера, 8"})
        await submit_appeals(pipeline.bootstrap, [body])
        appeals = client[pipeline.database].appeals
        assigned = await wait_until(
            lambda: appeals.find_one(
                {
                    "intake_key": f"web:{body['external_id']}",
                    "status": {"$ne": "registered"},
                    "assignment": {"$exists": True},
                }
            )
        )
        assert assigned["classification"]["category"] == "elevators"
        try:
            accepted = await wait_until(lambda: appeals.find_one({"_id": assigned["_id"], "status": "accepted"}), 60)
        except AssertionError as missing:
            raise AssertionError(f"the desk did not accept; its log: {lift_desk.read_text()[-3000:]}") from missing
    finally:
        await client.close()
    assert accepted["assignment"]["department"] == "lift_service"
    assert [entry["status"] for entry in accepted["history"]][-1] == "accepted"
