"""The street gazetteer: which district a Kyiv street (and house number) is in. Pure: loaded once, then looked up.

Its own module beside domain.py because it is the dispatcher's largest piece of data with its own matching rules:
a street's words are matched as stems, so "на Хрещатику" and "вул. Велика Васильківська" are found in any case
ending; the street type (вулиця, проспект, ...) before or after the name tells apart streets of the same name.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.contracts.base import Code
from shared.textmatch import TermIndex, compile_term, tokenize
from shared.yamlfile import DataFileError, describe_errors, load_located

StreetType = Literal["вулиця", "проспект", "бульвар", "провулок", "площа", "набережна", "узвіз", "шосе", "дорога"]

# Abbreviations and case forms residents write, in Ukrainian and Russian, for each street type.
TYPE_WORDS: dict[str, StreetType] = {
    **dict.fromkeys(["вул", "вулиця", "вулиці", "вулицю", "вулицею", "ул", "улица", "улице", "улицы"], "вулиця"),
    **dict.fromkeys(["просп", "проспект", "проспекті", "проспекту", "пр", "пр-т", "пр-кт"], "проспект"),
    **dict.fromkeys(["бул", "бульв", "бульвар", "бульварі", "бульвару", "б-р"], "бульвар"),
    **dict.fromkeys(["пров", "провулок", "провулку", "пер", "переулок", "переулке"], "провулок"),
    **dict.fromkeys(["пл", "площа", "площі", "площу", "площадь", "площади"], "площа"),
    **dict.fromkeys(["наб", "набережна", "набережній", "набережная", "набережной"], "набережна"),
    **dict.fromkeys(["узвіз", "узвозі", "узвозу", "спуск", "спуске"], "узвіз"),
    **dict.fromkeys(["шосе", "шоссе"], "шосе"),
    **dict.fromkeys(["дорога", "дорозі", "дороги"], "дорога"),
}
HOUSE_WORDS = frozenset({"буд", "будинок", "будинку", "б", "д", "дом", "доме", "№"})
_HOUSE = re.compile(r"^(\d{1,4})")
_ENDINGS = "аеєиіїоуюяйь"
MIN_STEM = 4


class GazetteerError(DataFileError):
    """The gazetteer file is not valid; the message names the file, the line and the street."""


class Segment(BaseModel):
    """House numbers from..to (inclusive; `to` absent: to the end) on one side or both, in one district."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    district: Code
    from_house: int = Field(1, ge=1, alias="from")
    to_house: int | None = Field(None, ge=1, alias="to")
    side: Literal["odd", "even", "both"] = "both"

    def holds(self, house: int) -> bool:
        if house < self.from_house or (self.to_house is not None and house > self.to_house):
            return False
        return self.side == "both" or (house % 2 == 1) == (self.side == "odd")


class Street(BaseModel):
    """One street: a district, or segments by house number, or `ambiguous` when it crosses districts and the
    split by house number is not known (then the street alone does not tell the district)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=2)
    type: StreetType = "вулиця"
    district: Code | None = None
    segments: tuple[Segment, ...] = ()
    ambiguous: bool = False
    # Former names (renamed since 2015) and Russian forms residents still use.
    aliases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_answer(self) -> "Street":
        given = [self.district is not None, bool(self.segments), self.ambiguous]
        if sum(given) != 1:
            raise ValueError(f"{self.type} {self.name}: give exactly one of district, segments, ambiguous: true")
        return self

    @property
    def label(self) -> str:
        return f"{self.type} {self.name}"

    def district_for(self, house: int | None) -> str | None:
        if self.district is not None:
            return self.district
        if house is None:
            return None
        found = {segment.district for segment in self.segments if segment.holds(house)}
        return found.pop() if len(found) == 1 else None


class GazetteerFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    streets: list[Street]


@dataclass(frozen=True)
class StreetMatch:
    street: Street
    house: str | None  # as written, e.g. "22а"
    house_number: int | None

    @property
    def district(self) -> str | None:
        return self.street.district_for(self.house_number)

    @property
    def location(self) -> str:
        """The place as one key: street and house, for grouping appeals about one building."""
        return self.street.label + (f", {self.house}" if self.house else "")


def stem_term(name: str) -> str:
    """A street name as stems: each word loses its case ending, so every case form matches; short words must
    match whole ("Мира" is not "Мирна")."""
    words = []
    for word in tokenize(name):
        stem = word.rstrip(_ENDINGS)
        words.append(stem if len(stem) >= MIN_STEM else f"{word}!")
    return " ".join(words)


class Gazetteer:
    def __init__(self, streets: list[Street]) -> None:
        self.streets = streets
        self._index = TermIndex(
            [
                compile_term(str(position), stem_term(name))
                for position, street in enumerate(streets)
                for name in (street.name, *street.aliases)
            ]
        )

    def find(self, text: str, *, need_marker: bool) -> StreetMatch | None:
        """The street a text names, with its house number if written after it. `need_marker`: the street type or a
        house number must stand beside the name (free text, where "садова ділянка" is not Садова вулиця). None when
        no street or several streets of different districts fit."""
        tokens = tokenize(text)
        spans = []
        for term, words in self._index.find(tokens):
            start = _position(tokens, words)
            spans.append((start, start + len(term.words), self.streets[int(term.label)]))
        # "Велика Васильківська" is not also "Васильківська": a match inside a longer one does not count.
        spans = [
            (start, end, street)
            for start, end, street in spans
            if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
        ]
        matches: list[StreetMatch] = []
        for start, end, street in spans:
            type_before = TYPE_WORDS.get(tokens[start - 1]) if start > 0 else None
            type_after = TYPE_WORDS.get(tokens[end]) if end < len(tokens) else None
            marker = type_before or type_after
            if marker is not None and marker != street.type:
                continue
            house = _house_after(tokens, end + (1 if type_after else 0))
            if need_marker and marker is None and house is None:
                continue
            number = int(_HOUSE.match(house)[1]) if house else None  # type: ignore[index]
            matches.append(StreetMatch(street, house, number))
        if not matches:
            return None
        if len({match.street.label for match in matches}) > 1:
            # Two streets named: one with a house number is the address; otherwise they must agree.
            with_house = [match for match in matches if match.house]
            if len({match.street.label for match in with_house}) == 1:
                return with_house[0]
            return None if len({m.district for m in matches}) > 1 else matches[0]
        return next((match for match in matches if match.house), matches[0])


def _position(tokens: list[str], matched: str) -> int:
    joined = matched.split(" ")
    for index in range(len(tokens) - len(joined) + 1):
        if tokens[index : index + len(joined)] == joined:
            return index
    raise ValueError(f"matched words {matched!r} are not in the text")  # pragma: no cover - TermIndex found them


def _house_after(tokens: list[str], index: int) -> str | None:
    while index < len(tokens) and tokens[index] in HOUSE_WORDS:
        index += 1
    if index < len(tokens) and _HOUSE.match(tokens[index]):
        return tokens[index]
    return None


def load_gazetteer(path: Path, districts: dict[str, str]) -> Gazetteer:
    """Raises GazetteerError naming the file, the line and the street of each problem."""
    try:
        data, locator = load_located(path.read_text(encoding="utf-8"), str(path))
        raw = GazetteerFile.model_validate(data)
    except OSError as error:
        raise GazetteerError(f"{path}: {error}") from error
    except DataFileError as error:
        raise GazetteerError(str(error)) from error
    except ValidationError as error:
        raise GazetteerError("\n".join(describe_errors(error, locator))) from error

    def problem(position: int, message: str) -> GazetteerError:
        return GazetteerError(locator.error(("streets", position), f"{raw.streets[position].label}: {message}"))

    seen: dict[str, int] = {}
    spelled: dict[tuple[str, str], int] = {}
    for position, street in enumerate(raw.streets):
        codes = [street.district] if street.district else [segment.district for segment in street.segments]
        unknown = [code for code in codes if code not in districts]
        if unknown:
            raise problem(position, f"unknown district {unknown}")
        if street.label in seen:
            raise problem(position, f"repeats streets.{seen[street.label]}")
        seen[street.label] = position
        for name in (street.name, *street.aliases):
            # The same words for two streets of one type could never tell them apart.
            key = (street.type, stem_term(name))
            if key in spelled and spelled[key] != position:
                raise problem(position, f"{name!r} also names {raw.streets[spelled[key]].label}")
            spelled[key] = position
    try:
        return Gazetteer(raw.streets)
    except ValueError as error:
        raise GazetteerError(f"{path}: {error}") from error
