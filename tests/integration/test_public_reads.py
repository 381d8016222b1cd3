"""Public reads on the running stack publish nothing private: an appeal with a flat in its address and a department's
comment naming the resident, a phone and the flat, read as the public, as its channel and as staff."""

import httpx
import pytest

from services.intake.privacy import FLAT, NAME, PHONE
from shared.contracts import topics
from tests.integration.helpers import publish, store_client, wait_until
from tests.integration.test_department_updates import report
from tests.integration.test_intake_http_api import add_channel

pytestmark = pytest.mark.integration

COMMENT = "Зателефонували Олені Петренко за +380 67 123 45 67 і 067-765-43-21, кв. 15: доступ до стояка надано"


async def test_an_appeal_with_a_flat_and_a_comment_with_a_phone_shows_neither_to_the_public(pipeline):
    _, key = add_channel(pipeline, kind="superapp")
    base = f"http://127.0.0.1:{pipeline.service_port('intake')}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        created = await http.post(
            "/open311/v2/requests.json",
            data={
                "api_key": key,
                "service_code": "hot_water",
                "description": "Немає гарячої води, квартира 15",
                "address_string": "вул. Хрещатик, 22, кв. 15",
                "lat": "50.447123",
                "long": "30.522456",
                "first_name": "Олена",
                "last_name": "Петренко",
                "phone": "+380671234567",
            },
        )
        assert created.status_code == 201, created.text
        appeal_id = created.json()[0]["service_request_id"]

        client = store_client(pipeline.store_uri)
        try:
            db = client[pipeline.database]
            appeal = await wait_until(lambda: db.appeals.find_one({"_id": appeal_id, "status": "assigned"}), 60)
            department = appeal["assignment"]["department"]
            await publish(
                pipeline.bootstrap,
                topics.DEPARTMENT_UPDATES,
                [report(appeal_id, department, "in_progress", comment=COMMENT)],
                key=appeal_id.encode(),
            )
            await wait_until(lambda: db.appeals.find_one({"_id": appeal_id, "status": "in_progress"}), 30)
        finally:
            await client.close()

        staff = {"Authorization": f"Bearer {pipeline.staff_token()}"}
        public = {
            "status": (await http.get(f"/v1/appeals/{appeal_id}")).json(),
            "request": (await http.get(f"/open311/v2/requests/{appeal_id}.json")).json()[0],
            "listed": next(
                item
                for item in (await http.get("/open311/v2/requests.json", params={"service_code": "hot_water"})).json()
                if item["service_request_id"] == appeal_id
            ),
        }
        channel_view = (await http.get(f"/open311/v2/requests/{appeal_id}.json", params={"api_key": key})).json()[0]
        staff_status = (await http.get(f"/v1/appeals/{appeal_id}", headers=staff)).json()
        wrong_staff = await http.get(f"/v1/appeals/{appeal_id}", headers={"Authorization": "Bearer wrong"})

    everything = repr(public)
    for private in ("+380 67 123 45 67", "067-765-43-21", "кв. 15", "квартира 15", "Олен", "Петренко", "30.522456"):
        assert private not in everything, private
    note = f"Зателефонували {NAME} {NAME} за {PHONE} і {PHONE}, {FLAT}: доступ до стояка надано"
    assert public["status"]["history"][-1]["note"] == note
    assert public["request"]["status_notes"] == public["listed"]["status_notes"] == note
    assert public["request"]["address"] == "вул. Хрещатик, 22"
    assert (public["request"]["lat"], public["request"]["long"]) == (50.447, 30.522)
    assert public["request"]["description"] == f"Немає гарячої води, {FLAT}"

    # The channel that sent it and signed-in staff see it whole; a wrong staff token is refused.
    assert channel_view["status_notes"] == COMMENT and channel_view["address"] == "вул. Хрещатик, 22, кв. 15"
    assert channel_view["lat"] == pytest.approx(50.447123) and channel_view["description"].endswith("квартира 15")
    assert staff_status["history"][-1]["note"] == COMMENT
    assert wrong_staff.status_code == 401
