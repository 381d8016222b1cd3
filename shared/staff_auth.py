"""Staff endpoints' door: one service token for staff tools, and the person acting on whose behalf.

Every service's HTTP API that serves staff (the dispatcher's triage desk, previews, staff reads of intake) uses this
one dependency. The caller sends `Authorization: Bearer <staff token>`; the console adds the signed-in person's name
in `X-CityLine-Actor`, which is believed only together with a valid token, and is what history records.

The header carries UTF-8 percent-encoded (`urllib.parse.quote(name)`), as HTTP headers are Latin-1; raw UTF-8 bytes
are accepted too.
"""

import hmac
import unicodedata
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from shared.settings import ServiceSettings

STAFF_TOKEN_VARIABLE = "CITYLINE_STAFF_TOKEN"
ACTOR_HEADER = "X-CityLine-Actor"
# A generated token has 43 characters (32 random bytes); a short one is a typo or a placeholder.
MIN_TOKEN_LENGTH = 24
MAX_ACTOR_LENGTH = 100
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cityline-staff"'}


class StaffTokenMissing(RuntimeError):
    """A service with staff endpoints was started without a usable staff token outside development."""


@dataclass(frozen=True)
class StaffCaller:
    """A request that carried the staff token; `actor` is the person the console signed in, if it named one."""

    actor: str | None


def actor_name(raw: str | None) -> str | None:
    """The person's name from the actor header, decoded; None when absent. ValueError saying what is wrong."""
    if raw is None:
        return None
    try:
        text = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        text = raw
    name = unquote(text, errors="strict").strip()
    if not name:
        raise ValueError("is empty")
    if len(name) > MAX_ACTOR_LENGTH:
        raise ValueError(f"longer than {MAX_ACTOR_LENGTH} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValueError("contains control characters")
    return name


class StaffAuth:
    """Checks the staff token; `required` and `optional` are the FastAPI dependencies."""

    def __init__(self, token: SecretStr | None) -> None:
        self._expected = token.get_secret_value().encode() if token is not None else None
        bearer = HTTPBearer(auto_error=False, description="The staff token.")

        async def optional_staff(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
            actor: Annotated[str | None, Header(alias=ACTOR_HEADER)] = None,
        ) -> StaffCaller | None:
            """The staff caller, or None for an anonymous request (a wrong token is still refused)."""
            return self.caller(credentials, actor)

        async def required_staff(caller: Annotated[StaffCaller | None, Depends(optional_staff)]) -> StaffCaller:
            """The staff caller; 401 without the staff token."""
            if caller is None:
                raise HTTPException(401, "staff only: send Authorization: Bearer <staff token>", _CHALLENGE)
            return caller

        # The FastAPI dependencies: `Depends(auth.required)` on staff routes, `Depends(auth.optional)` where staff
        # see more than the public.
        self.optional = optional_staff
        self.required = required_staff

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "StaffAuth":
        token = settings.staff_token
        if settings.profile != "development":
            if token is None:
                raise StaffTokenMissing(
                    f"{STAFF_TOKEN_VARIABLE} is not set: the {settings.service_name} service serves staff endpoints "
                    "and refuses to start without their token (`cityline up` generates one; "
                    "CITYLINE_PROFILE=development starts without, with those endpoints closed)"
                )
            if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
                raise StaffTokenMissing(f"{STAFF_TOKEN_VARIABLE} is shorter than {MIN_TOKEN_LENGTH} characters")
        return cls(token)

    def caller(self, credentials: HTTPAuthorizationCredentials | None, actor: str | None) -> StaffCaller | None:
        """The staff caller, None without credentials; 401 for a wrong token, 400 for an actor header that is bad."""
        if credentials is None:
            return None
        if self._expected is None or not hmac.compare_digest(credentials.credentials.encode(), self._expected):
            raise HTTPException(401, "the staff token is not valid", _CHALLENGE)
        try:
            return StaffCaller(actor_name(actor))
        except ValueError as error:
            raise HTTPException(400, f"{ACTOR_HEADER} header: {error}") from None
