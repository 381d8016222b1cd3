"""The console's words in Ukrainian (the default) and English, from data files people edit: translations/<lang>.yaml.

Each file maps a key ("desk.title") to its text. Every language must have exactly the keys of the default one;
`load_translations` says which file, line and key is wrong otherwise.
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import Field, RootModel, ValidationError

from shared.yamlfile import DataFileError, describe_errors, load_located

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT_LANGUAGE = "uk"
LANGUAGES = ("uk", "en")
KEY_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"


class TranslationFile(RootModel[dict[str, str]]):
    root: dict[str, str] = Field(min_length=1)


@dataclass(frozen=True)
class Translations:
    texts: dict[str, dict[str, str]]

    def translator(self, language: str):
        """`t(key, **values)` for one language; a missing key shows as itself, so it is seen and fixed (a status
        the files do not name yet shows as its code)."""
        table = self.texts.get(language) or self.texts[DEFAULT_LANGUAGE]

        def t(key: str, **values: object) -> str:
            text = table.get(key) or (key.removeprefix("status.") if key.startswith("status.") else key)
            return text.format(**values) if values else text

        return t


def _load_file(path: Path) -> tuple[dict[str, str], object]:
    data, locator = load_located(path.read_text(encoding="utf-8"), str(path))
    try:
        texts = TranslationFile.model_validate(data).root
    except ValidationError as error:
        raise DataFileError("\n".join(describe_errors(error, locator))) from None
    bad = [
        locator.error((key,), f"a key is dotted lower-case words ({KEY_PATTERN})")
        for key in texts
        if not re.match(KEY_PATTERN, key)
    ]
    if bad:
        raise DataFileError("\n".join(bad))
    return texts, locator


def load_translations(folder: Path = TRANSLATIONS) -> Translations:
    texts: dict[str, dict[str, str]] = {}
    locators = {}
    for language in LANGUAGES:
        texts[language], locators[language] = _load_file(folder / f"{language}.yaml")
    reference = set(texts[DEFAULT_LANGUAGE])
    problems = []
    for language in LANGUAGES:
        for key in sorted(reference - set(texts[language])):
            problems.append(f"{folder / f'{language}.yaml'}: key {key!r} is missing (it is in {DEFAULT_LANGUAGE}.yaml)")
        for key in sorted(set(texts[language]) - reference):
            problems.append(f"{locators[language].error((key,), 'not a key of ' + DEFAULT_LANGUAGE + '.yaml')}")
    if problems:
        raise DataFileError("\n".join(problems))
    return Translations(texts)


@cache
def translations() -> Translations:
    return load_translations()


def choose_language(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE
