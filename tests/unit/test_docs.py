"""The documentation stays true: links resolve, the README stays a front door, every setting is documented.

The README's session and the pages' commands are run by the e2e tests (`test_http_api_up`, `test_cityline_up`);
this module checks what needs no running stack.
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
README_MAX_LINES = 150
# Markdown links [text](target) outside code; images too.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")
SETTINGS_MODULES = [
    "shared.settings",
    *(f"services.{path.parent.name}.settings" for path in sorted((ROOT / "services").glob("*/settings.py"))),
]
CONFIGURATION_PAGE = ROOT / "docs" / "configuration.md"


def _prose(text: str) -> str:
    """The page without its fenced code blocks and inline code, where link-like text is an example."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    headings = [line.lstrip("#").strip() for line in _prose(page.read_text()).splitlines() if line.startswith("#")]
    return {_anchor(heading) for heading in headings}


def _links(page: Path) -> list[str]:
    return LINK.findall(_prose(page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_and_heading(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target}: no heading '{fragment}' in {resolved.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_is_a_front_door_not_a_manual():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_docs_page_is_listed_in_the_manuals_index():
    index = (ROOT / "docs" / "README.md").read_text()
    pages = [page for page in (ROOT / "docs").glob("*.md") if page.name != "README.md"]
    unlisted = [page.name for page in pages if f"]({page.name})" not in index]
    assert not unlisted, f"docs/README.md does not list {unlisted}"


def test_every_docs_page_says_who_it_is_for():
    vague = []
    for page in (ROOT / "docs").glob("*.md"):
        opening = page.read_text().split("\n\n")[1] if "\n\n" in page.read_text() else ""
        if page.name != "README.md" and not re.search(r"\bFor\b", opening):
            vague.append(page.name)
    assert not vague, f"these pages do not open with who they are for: {vague}"


def _environment_names(settings_class: type[BaseSettings]) -> dict[str, list[str]]:
    """Each field of a settings class -> the environment variables that set it (an alias or prefix + name)."""
    prefix = settings_class.model_config.get("env_prefix", "")
    names = {}
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names[field_name] = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            names[field_name] = [alias]
        else:
            names[field_name] = [f"{prefix}{field_name}".upper()]
    return names


def _settings_classes() -> list[type[BaseSettings]]:
    found = []
    for module_name in SETTINGS_MODULES:
        module = importlib.import_module(module_name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseSettings) and value.__module__ == module_name:
                found.append(value)
    # A base class's fields are set through its subclasses' variables (their prefixes): check those.
    return [cls for cls in found if not any(other is not cls and issubclass(other, cls) for other in found)]


# Fields that are not settings a person sets: each service fixes its own name.
NOT_SETTINGS = {"service_name"}


def _documented_variables(text: str) -> set[str]:
    return set(re.findall(r"\b(?:KAFKA|MONGODB|CITYLINE)_[A-Z0-9_]*[A-Z0-9]\b", text))


def test_every_setting_is_documented_on_the_configuration_page():
    documented = _documented_variables(CONFIGURATION_PAGE.read_text())
    missing = []
    for settings_class in _settings_classes():
        for field_name, variables in _environment_names(settings_class).items():
            if field_name in NOT_SETTINGS:
                continue
            if not documented & set(variables):
                missing.append(f"{settings_class.__name__}.{field_name} ({variables[-1]})")
    assert not missing, "docs/configuration.md does not document: " + ", ".join(sorted(missing))


def test_every_documented_variable_is_a_setting():
    known = {
        variable
        for settings_class in _settings_classes()
        for variables in _environment_names(settings_class).values()
        for variable in variables
    }
    unknown = sorted(_documented_variables(CONFIGURATION_PAGE.read_text()) - known)
    assert not unknown, f"docs/configuration.md documents variables no settings class reads: {unknown}"


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)


def test_the_departments_consumer_shown_is_the_example_the_tests_run():
    example = (ROOT / "examples" / "department_desk.py").read_text()
    assert example in _python_blocks(ROOT / "docs" / "departments.md")
