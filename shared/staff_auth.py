"""The staff/service token that guards the services' HTTP desks for people (the console's previews, triage).

One check for every service: `Authorization: Bearer <token>` must equal the configured `CITYLINE_STAFF_TOKEN`.
Without a configured token the desks refuse every request (503): they are never open to anyone by default.
"""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Header, HTTPException
from pydantic import SecretStr

STAFF_TOKEN_SETTING = "CITYLINE_STAFF_TOKEN"


def staff_token_check(token: SecretStr | None) -> Callable[..., None]:
    """A FastAPI dependency refusing requests without the staff token (401) or when none is configured (503)."""
    expected = f"Bearer {token.get_secret_value()}".encode() if token is not None else None

    def require_staff_token(authorization: Annotated[str | None, Header()] = None) -> None:
        if expected is None:
            raise HTTPException(503, f"this desk is closed: the service has no staff token ({STAFF_TOKEN_SETTING})")
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(
                401,
                "a staff token is required: Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_staff_token
