"""shared/staff_auth.py: who may start without a token, how the token and the actor header are read."""

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from shared.settings import ServiceSettings
from shared.staff_auth import ACTOR_HEADER, StaffAuth, StaffCaller, StaffTokenMissing, actor_name

TOKEN = "staff-token-0123456789-abcdefghij"


@pytest.mark.parametrize(
    ("profile", "token", "starts"),
    [
        ("production", None, False),
        ("production", "short", False),
        ("production", TOKEN, True),
        ("development", None, True),
    ],
)
def test_a_service_refuses_to_start_without_a_usable_token_outside_development(profile, token, starts):
    settings = ServiceSettings(profile=profile, staff_token=SecretStr(token) if token else None)
    if starts:
        StaffAuth.from_settings(settings)
    else:
        with pytest.raises(StaffTokenMissing, match="CITYLINE_STAFF_TOKEN"):
            StaffAuth.from_settings(settings)


def test_the_token_and_profile_come_from_the_common_variables(monkeypatch):
    monkeypatch.setenv("CITYLINE_STAFF_TOKEN", TOKEN)
    monkeypatch.setenv("CITYLINE_PROFILE", "development")
    settings = ServiceSettings()
    assert settings.staff_token.get_secret_value() == TOKEN and settings.profile == "development"


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (None, None),
        ("Olena", "Olena"),
        ("%D0%86%D1%80%D0%B8%D0%BD%D0%B0%20%D0%9A.", "Ірина К."),  # percent-encoded UTF-8
        ("Ірина".encode().decode("latin-1"), "Ірина"),  # raw UTF-8 bytes, as Starlette hands them (Latin-1)
    ],
)
def test_actor_names_are_decoded(raw, name):
    assert actor_name(raw) == name


@pytest.mark.parametrize(("raw", "problem"), [("  ", "empty"), ("x" * 101, "longer"), ("a%0Ab", "control")])
def test_bad_actor_names_say_what_is_wrong(raw, problem):
    with pytest.raises(ValueError, match=problem):
        actor_name(raw)


async def test_required_and_optional_dependencies():
    auth = StaffAuth(SecretStr(TOKEN))
    closed = StaffAuth(None)  # development without a token: the staff door stays shut
    app = FastAPI()

    @app.get("/staff")
    async def staff(caller: Annotated[StaffCaller, Depends(auth.required)]) -> dict:
        return {"actor": caller.actor}

    @app.get("/public")
    async def public(caller: Annotated[StaffCaller | None, Depends(auth.optional)]) -> dict:
        return {"staff": caller is not None}

    @app.get("/closed")
    async def shut(caller: Annotated[StaffCaller, Depends(closed.required)]) -> dict:
        return {}

    good = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/staff")).status_code == 401
        assert (await client.get("/staff", headers={"Authorization": "Bearer nope"})).status_code == 401
        named = await client.get("/staff", headers={**good, ACTOR_HEADER: "Olena"})
        assert named.json() == {"actor": "Olena"}
        assert (await client.get("/staff", headers={**good, ACTOR_HEADER: "%0A"})).status_code == 400
        assert (await client.get("/public")).json() == {"staff": False}
        assert (await client.get("/public", headers=good)).json() == {"staff": True}
        assert (await client.get("/public", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await client.get("/closed", headers=good)).status_code == 401
