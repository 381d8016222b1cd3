"""Who is signed in, what they may do: argon2 password hashes, the signed session, CSRF tokens, sign-in limits.

The session is Starlette's signed cookie. It holds the user's name, when their password was last set (a new
password or a disabled account ends every older session: the user is read from the store on each request) and the
CSRF token every POST must carry, as the form field `csrf_token` or the `X-CSRF-Token` header (htmx).
"""

import hmac
import math
import secrets
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from pyrate_limiter import Duration, Rate, RateItem, StateBucket, TokenBucket

from services.console.repository import Role, UserDoc, UserRepository

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths a signed-in user with a one-time password may still use: to set a password, or to leave.
FIRST_SIGN_IN_PATHS = frozenset({"/password", "/logout", "/language"})

hasher = PasswordHasher()


@cache
def _unknown_user_hash() -> str:
    """Verified when the user name is unknown, so that a wrong name takes as long as a wrong password."""
    return hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return hasher.hash(password)


def password_matches(user: UserDoc | None, password: str) -> bool:
    try:
        return hasher.verify(user.password_hash if user else _unknown_user_hash(), password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


class SignInRequired(Exception):
    """The request needs a signed-in user: pages answer with the sign-in page."""


class PasswordChangeRequired(Exception):
    """The user signed in with a one-time password and must set their own first."""


class CsrfRefused(HTTPException):
    def __init__(self) -> None:
        super().__init__(403, "the form's security token is missing or stale: reload the page and try again")


# ---- the session ---------------------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created with the session (also for the sign-in form, before anyone signs in)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Every POST carries the session's token; a request without it changes nothing."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefused()


def start_session(request: Request, user: UserDoc) -> None:
    """A fresh session for the user (and a fresh CSRF token): nothing of the anonymous one is kept."""
    language = request.session.get("lang")
    request.session.clear()
    request.session.update(
        {"user": user.name, "since": user.password_changed_at.isoformat(), "csrf": secrets.token_urlsafe(32)}
    )
    if language:
        request.session["lang"] = language


def end_session(request: Request) -> None:
    language = request.session.get("lang")
    request.session.clear()
    if language:
        request.session["lang"] = language


def users(request: Request) -> UserRepository:
    return request.app.state.users


UsersDep = Annotated[UserRepository, Depends(users)]


async def signed_in_user(request: Request, repo: UsersDep) -> UserDoc:
    name = request.session.get("user")
    if not name:
        raise SignInRequired()
    user = await repo.get(name)
    if user is None or not user.active or request.session.get("since") != user.password_changed_at.isoformat():
        end_session(request)
        raise SignInRequired()
    if user.must_change_password and request.url.path not in FIRST_SIGN_IN_PATHS:
        raise PasswordChangeRequired()
    return user


CurrentUser = Annotated[UserDoc, Depends(signed_in_user)]


def role_required(*roles: Role) -> Callable[..., Any]:
    """A dependency: the signed-in user, if their role is one of `roles` (admins may do everything)."""

    async def allowed(user: CurrentUser) -> UserDoc:
        if user.role != "admin" and user.role not in roles:
            raise HTTPException(403, "your role may not use this screen")
        return user

    return allowed


def may_see_department(user: UserDoc, department: str | None) -> bool:
    """Department staff see only their department's appeals; everyone else sees all."""
    return user.role != "department" or (department is not None and department == user.department)


# ---- sign-in limits ----------------------------------------------------------------------------------------------


class SignInLimits:
    """Sign-in attempts per user name and per client address: a token bucket each, kept in this process."""

    # Names an attacker makes up each get a bucket: past this many, start again rather than grow without end.
    MAX_BUCKETS = 10_000

    def __init__(self, per_user: int, per_ip: int, window_s: int) -> None:
        window = Duration.SECOND * window_s
        self.rates = {"user": Rate(per_user, window), "ip": Rate(per_ip, window)}
        self.buckets: dict[tuple[str, str], StateBucket] = {}

    def retry_after_s(self, name: str, address: str) -> int | None:
        """None if this attempt may go on (it is counted); otherwise the seconds to wait."""
        if len(self.buckets) > self.MAX_BUCKETS:
            self.buckets.clear()
        waits = []
        for kind, key in (("user", name.lower()), ("ip", address)):
            bucket = self.buckets.get((kind, key))
            if bucket is None:
                bucket = self.buckets[(kind, key)] = StateBucket([self.rates[kind]], algorithm=TokenBucket())
            item = RateItem(key, bucket.now())
            if not bucket.put(item):
                waits.append(max(1, math.ceil(bucket.waiting(item) / 1000)))
        return max(waits) if waits else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def password_problem(password: str, user: UserDoc) -> str | None:
    """Why a new password is not good enough (an i18n key), or None."""
    if len(password) < 10:
        return "password.too_short"
    if password.lower() == user.name.lower():
        return "password.is_name"
    return None
