"""Signing in and out, the first sign-in's new password, and the language of the screens."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services.console.auth import (
    CurrentUser,
    UsersDep,
    client_address,
    end_session,
    hash_password,
    password_matches,
    password_problem,
    start_session,
)
from services.console.i18n import choose_language
from services.console.metrics import sign_ins
from services.console.pages import render
from shared.contracts.base import utcnow

router = APIRouter()
# Where each role starts after signing in.
HOME = {"operator": "/desk", "supervisor": "/search", "department": "/search", "admin": "/desk"}


def _safe_next(target: str | None) -> str | None:
    """Only a path of this console: never another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/")
async def home(request: Request, user: CurrentUser) -> RedirectResponse:
    return RedirectResponse(HOME[user.role], status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str | None = None):
    return render(request, "login.html", next=_safe_next(next), name="")


@router.post("/login")
async def login(
    request: Request,
    repo: UsersDep,
    name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str | None, Form()] = None,
):
    name = name.strip().lower()
    wait = request.app.state.sign_in_limits.retry_after_s(name, client_address(request))
    if wait is not None:
        sign_ins.labels("limited").inc()
        return render(
            request,
            "login.html",
            status_code=429,
            name=name,
            next=_safe_next(next),
            error_key="login.limited",
            wait_s=wait,
            headers={"Retry-After": str(wait)},
        )
    user = await repo.get(name) if name else None
    if not password_matches(user, password) or user is None or not user.active:
        sign_ins.labels("wrong" if user is None or user.active else "disabled").inc()
        return render(request, "login.html", status_code=401, name=name, next=_safe_next(next), error_key="login.wrong")
    sign_ins.labels("ok").inc()
    start_session(request, user)
    if user.must_change_password:
        return RedirectResponse("/password", status_code=303)
    return RedirectResponse(_safe_next(next) or HOME[user.role], status_code=303)


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/password")
async def password_page(request: Request, user: CurrentUser):
    return render(request, "password.html", user, errors={})


@router.post("/password")
async def change_password(
    request: Request,
    user: CurrentUser,
    repo: UsersDep,
    current: Annotated[str, Form(max_length=256)] = "",
    new: Annotated[str, Form(max_length=256)] = "",
    repeat: Annotated[str, Form(max_length=256)] = "",
):
    errors = {}
    if not password_matches(user, current):
        errors["current"] = "password.current_wrong"
    problem = password_problem(new, user)
    if problem:
        errors["new"] = problem
    elif new == current:
        errors["new"] = "password.same"
    if new != repeat:
        errors["repeat"] = "password.mismatch"
    if errors:
        return render(request, "password.html", user, status_code=422, errors=errors)
    await repo.set_password(user.name, hash_password(new), utcnow(), one_time=False)
    start_session(request, await repo.get(user.name))
    return RedirectResponse(HOME[user.role], status_code=303)


@router.post("/language")
async def language(
    request: Request, lang: Annotated[str, Form(max_length=8)] = "", back: Annotated[str | None, Form()] = None
) -> RedirectResponse:
    request.session["lang"] = choose_language(lang)
    return RedirectResponse(_safe_next(back) or "/", status_code=303)
