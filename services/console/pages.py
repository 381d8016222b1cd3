"""Rendering a screen: the template with what every page needs (the user, the words of their language, the CSRF
token, the navigation), and the list of screens the navigation shows.

A new screen is a routes module (a router and its `SCREENS`), a template, and the module's name in `main.ROUTES`.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from services.console.auth import CSRF_FIELD, CSRF_HEADER, csrf_token
from services.console.i18n import LANGUAGES, choose_language, translations
from services.console.repository import Role, UserDoc

TEMPLATES = Path(__file__).parent / "templates"
KYIV = ZoneInfo("Europe/Kyiv")


@dataclass(frozen=True)
class Screen:
    """One entry of the navigation: its path, the i18n key of its label, who sees it, its access key (Alt+key)."""

    path: str
    label: str
    roles: tuple[Role, ...]
    access_key: str | None = None

    def shown_to(self, user: UserDoc | None) -> bool:
        return user is not None and (user.role == "admin" or user.role in self.roles)


def local_time(value: datetime | None, pattern: str = "%d.%m.%Y %H:%M") -> str:
    """A moment as Kyiv's clock shows it: what operators and residents say on the phone."""
    if value is None:
        return ""
    return value.astimezone(KYIV).strftime(pattern)


def spoken_number(appeal_id: str) -> str:
    """An appeal number grouped in threes from the right, as it is read out: 1000123 -> 1 000 123."""
    groups = []
    digits = appeal_id
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return " ".join(groups)


Choices = tuple[tuple[str, str], ...]


@lru_cache(maxsize=1024)
def options(choices: Choices, selected: str | None = None) -> Markup:
    """The <option>s of a choice of (code, name), `selected` marked: rendered once per choice and selection, so a
    page with a choice on each of its 50 rows does not render the same hundred options 50 times."""
    return Markup(
        "".join(
            f'<option value="{escape(code)}"{" selected" if code == selected else ""}>{escape(name)}</option>'
            for code, name in choices
        )
    )


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters["local"] = local_time
templates.env.filters["spoken"] = spoken_number
templates.env.globals.update(CSRF_FIELD=CSRF_FIELD, CSRF_HEADER=CSRF_HEADER, LANGUAGES=LANGUAGES, options=options)


def language_of(request: Request) -> str:
    return choose_language(request.session.get("lang"))


def render(
    request: Request,
    template: str,
    user: UserDoc | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Any:
    language = language_of(request)
    screens: list[Screen] = request.app.state.screens
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "lang": language,
            "t": translations().translator(language),
            "csrf": csrf_token(request),
            "nav": [screen for screen in screens if screen.shown_to(user)],
            "taxonomy": request.app.state.taxonomy,
            **context,
        },
        status_code=status_code,
        headers=headers,
    )
