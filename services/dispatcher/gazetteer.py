"""The street gazetteer: which district a Kyiv street (and house number) is in. Pure: loaded once, then looked up.

Its own module beside domain.py because it is the dispatcher's largest piece of data with its own matching rules:
a street's words are matched as stems, so "на Хрещатику" and "вул. Велика Васильківська" are found in any case
ending; the street type (вулиця, проспект, ...) before or after the name tells apart streets of the same name.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.dispatcher.placenames import match_key
from shared.contracts.base import Code
from shared.textmatch import TermIndex, compile_term, tokenize
from shared.yamlfile import DataFileError, describe_errors, load_located

StreetType = Literal[
    "вулиця", "проспект", "бульвар", "провулок", "площа", "набережна", "узвіз", "шосе", "дорога", "тупик", "проїзд",
    "алея", "лінія", "майдан", "станція метро", "місце",
]  # fmt: skip
METRO: StreetType = "станція метро"
# A landmark or neighbourhood ("місце") is named without a type word: its name alone is the marker.
LANDMARK: StreetType = "місце"

# Abbreviations and case forms residents write, in Ukrainian, Russian and Latin letters, for each street type.
TYPE_WORDS: dict[str, StreetType] = {
    **dict.fromkeys(
        ["вул", "вулиця", "вулиці", "вулицю", "вулицею", "ул", "улица", "улице", "улицы", "улицу"], "вулиця"
    ),
    **dict.fromkeys(
        [
            "vul",
            "vulytsia",
            "vulytsi",
            "vulytsiu",
            "vulytsya",
            "vulitsa",
            "ul",
            "ulitsa",
            "ulitse",
            "ulica",
            "street",
            "st",
            "str",
        ],
        "вулиця",
    ),
    **dict.fromkeys(["просп", "проспект", "проспекті", "проспекту", "пр", "пр-т", "пр-кт", "проспекте"], "проспект"),
    **dict.fromkeys(["prosp", "prospekt", "prospekti", "prospektu", "prospect", "avenue", "ave", "av"], "проспект"),
    **dict.fromkeys(["бул", "бульв", "бульвар", "бульварі", "бульвару", "б-р", "бульваре"], "бульвар"),
    **dict.fromkeys(["bulvar", "bulvari", "bulvaru", "bul", "blvd", "boulevard"], "бульвар"),
    **dict.fromkeys(["пров", "провулок", "провулку", "пер", "переулок", "переулке"], "провулок"),
    **dict.fromkeys(["provulok", "provulku", "prov", "pereulok", "per", "lane", "ln"], "провулок"),
    **dict.fromkeys(["пл", "площа", "площі", "площу", "площадь", "площади"], "площа"),
    **dict.fromkeys(["ploshcha", "ploshchi", "ploshchu", "ploshchad", "ploschad", "square", "sq"], "площа"),
    **dict.fromkeys(
        ["наб", "набережна", "набережній", "набережная", "набережной", "naberezhna", "naberezhnii", "embankment"],
        "набережна",
    ),
    **dict.fromkeys(
        ["узвіз", "узвозі", "узвозу", "спуск", "спуске", "uzviz", "uzvozi", "uzvozu", "spusk", "descent"], "узвіз"
    ),
    **dict.fromkeys(["шосе", "шоссе", "shose", "shosse", "highway"], "шосе"),
    **dict.fromkeys(["дорога", "дорозі", "дороги", "doroha", "road"], "дорога"),
    **dict.fromkeys(["тупик", "тупику", "tupyk"], "тупик"),
    **dict.fromkeys(["проїзд", "проїзді", "проезд", "проезде", "proizd", "proyizd", "proezd"], "проїзд"),
    **dict.fromkeys(["алея", "алеї", "аллея", "аллее", "aleia", "alley"], "алея"),
    **dict.fromkeys(["лінія", "лінії", "линия", "линии", "liniia"], "лінія"),
    **dict.fromkeys(["майдан", "майдані", "майдану", "maidan"], "майдан"),
    **dict.fromkeys(
        ["метро", "станція", "станції", "станцію", "станция", "станции", "станцию", "ст", "м", "metro", "station"],
        METRO,
    ),
}
HOUSE_WORDS = frozenset({"буд", "будинок", "будинку", "б", "д", "дом", "доме", "№"})
_HOUSE = re.compile(r"^(\d{1,4})")
# Endings that case forms change, after folding (match_key): Cyrillic vowels, й; Latin vowels.
_ENDINGS = "аеиоуюяйaeiou"
MIN_STEM = 3


# Kinds of forms two streets may share: a former name (or an alias) is often another street's name.
SHAREABLE = frozenset({"former", "aliases"})


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
    # ambiguous: the districts it lies in (from the register), so other evidence in the appeal can pick one.
    districts: tuple[Code, ...] = ()
    # Former names (renamed since 2015, newest first), the Russian form and Latin-letter forms residents write,
    # and any other spelling in use.
    former: tuple[str, ...] = ()
    russian: tuple[str, ...] = ()
    latin: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_answer(self) -> "Street":
        given = [self.district is not None, bool(self.segments), self.ambiguous]
        if sum(given) != 1:
            raise ValueError(f"{self.type} {self.name}: give exactly one of district, segments, ambiguous: true")
        if self.districts and not self.ambiguous:
            raise ValueError(f"{self.type} {self.name}: districts lists the candidates of an ambiguous street")
        return self

    @property
    def label(self) -> str:
        return f"{self.type} {self.name}"

    @property
    def names(self) -> tuple[str, ...]:
        """Every form the street is known by: its name first, then former names, Russian and Latin forms."""
        return (self.name, *self.former, *self.russian, *self.latin, *self.aliases)

    def forms(self) -> list[tuple[str, str]]:
        """(kind, form) for each name: "name", "former", "russian", "latin", "aliases"."""
        kinds = [("name", (self.name,)), ("former", self.former), ("russian", self.russian), ("latin", self.latin)]
        return [(kind, form) for kind, forms in [*kinds, ("aliases", self.aliases)] for form in forms]

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
    # Metro stations, neighbourhoods and landmarks: the same fields, of type "станція метро" or "місце".
    places: list[Street] = []


@dataclass(frozen=True)
class StreetMatch:
    street: Street
    house: str | None  # as written, e.g. "22а"
    house_number: int | None
    marked: bool = False  # a street type, "метро" or a house number stood beside the name in the text
    letters: int = 0  # how many letters the text's words for it have

    @property
    def district(self) -> str | None:
        return self.street.district_for(self.house_number)

    @property
    def location(self) -> str:
        """The place as one key: street and house, for grouping appeals about one building."""
        return self.street.label + (f", {self.house}" if self.house else "")


def _stem(key: str) -> str:
    """A folded word without its case ending ("хрещатику" -> "хрещатик", "шевченком" -> "шевченк",
    "васильковской" -> "василковск"); a fleeting vowel goes too, so "ринок" meets "ринку"."""
    stem = key.rstrip(_ENDINGS)
    if len(stem) > MIN_STEM and stem[-1] in "мхmh" and stem[-2] in _ENDINGS:
        stem = stem[:-1].rstrip(_ENDINGS)
    if len(stem) > MIN_STEM and stem[-2:] in ("ок", "ец"):
        stem = stem[:-2] + stem[-1]
    return stem


@lru_cache(maxsize=65536)
def stem_term(name: str) -> str:
    """A street name as stems: each word is folded (match_key) and loses its case ending, so every case form and
    every spelling of one sound meets; a text's word matches when its stem is the same, whole ("Пушкіна" is not
    "Пушкінська", "Мира" not "Мирна")."""
    return " ".join(f"{_stem(key) or key}!" for key in match_tokens(name))


def split_tokens(text: str) -> list[str]:
    """The text's words, a hyphenated word as its parts ("Пуща-Водиця": both parts take case endings); a street
    type written with a hyphen ("пр-т", "б-р") stays one word."""
    return [part for token in tokenize(text) for part in ([token] if token in TYPE_WORDS else token.split("-")) if part]


def match_tokens(text: str) -> list[str]:
    return [match_key(token) for token in split_tokens(text)]


class Gazetteer:
    def __init__(self, streets: list[Street]) -> None:
        self.streets = streets
        self._index = TermIndex(
            [
                compile_term(str(position), stem_term(name))
                for position, street in enumerate(streets)
                for name in dict.fromkeys(street.names)
            ]
        )

    def matches(self, text: str, *, need_marker: bool) -> list[StreetMatch]:
        """Every street, station and landmark the text names (a match inside a longer one left out)."""
        tokens = split_tokens(text)
        keys = [_stem(key) or key for key in (match_key(token) for token in tokens)]
        spans = []
        for term, words in self._index.find(keys):
            start = _position(keys, words)
            spans.append((start, start + len(term.words), self.streets[int(term.label)]))
        found: list[tuple[int, int, StreetMatch]] = []
        for start, end, street in dict.fromkeys(spans):
            type_before = TYPE_WORDS.get(tokens[start - 1]) if start > 0 else None
            type_after = TYPE_WORDS.get(tokens[end]) if end < len(tokens) else None
            marker = type_before or type_after
            if marker is not None and marker != street.type:
                continue
            house = _house_after(tokens, end + (1 if type_after else 0))
            if street.type == METRO:
                # A station's name is also a street's ("Харківська"): only "метро" or "станція" beside it says station.
                if marker is None:
                    continue
                house = None
            elif street.type == LANDMARK:
                marker = street.type
            if need_marker and marker is None and house is None:
                continue
            number = int(_HOUSE.match(house)[1]) if house else None  # type: ignore[index]
            letters = sum(len(token) for token in tokens[start:end])
            found.append(
                (start, end, StreetMatch(street, house, number, marker is not None or house is not None, letters))
            )
        # "Велика Васильківська" is not also "Васильківська": a match inside a longer one does not count.
        return [
            match
            for start, end, match in found
            if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in found)
        ]

    def find(self, text: str, *, need_marker: bool) -> StreetMatch | None:
        """The street a text names, with its house number if written after it. `need_marker`: the street type or a
        house number must stand beside the name (free text, where "садова ділянка" is not Садова вулиця). None when
        no street or several streets of different districts fit."""
        matches = self.matches(text, need_marker=need_marker)
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

    entries = [("streets", position, street) for position, street in enumerate(raw.streets)]
    entries += [("places", position, place) for position, place in enumerate(raw.places)]

    def problem(index: int, message: str) -> GazetteerError:
        section, position, street = entries[index]
        return GazetteerError(locator.error((section, position), f"{street.label}: {message}"))

    seen: dict[str, int] = {}
    spelled: dict[tuple[str, str], tuple[int, str]] = {}
    for index, (section, _, street) in enumerate(entries):
        if (section == "places") != (street.type in (METRO, LANDMARK)):
            raise problem(index, f"streets are of a street type, places of type {METRO!r} or {LANDMARK!r}")
        codes = [street.district] if street.district else [segment.district for segment in street.segments]
        codes += street.districts
        unknown = [code for code in codes if code not in districts]
        if unknown:
            raise problem(index, f"unknown district {unknown}")
        if street.label in seen:
            first_section, first_position, _ = entries[seen[street.label]]
            raise problem(index, f"repeats {first_section}.{first_position}")
        seen[street.label] = index
        for kind, name in street.forms():
            # Two streets of one type with the same current name, or a Russian or Latin form of one that is another's
            # name, could never be told apart. A former name may be another street's (then the words alone do not
            # tell which: the appeal's other evidence must).
            key = (street.type, stem_term(name))
            other, other_kind = spelled.get(key, (index, kind))
            if other != index and not ({kind, other_kind} & SHAREABLE):
                raise problem(index, f"{name!r} also names {entries[other][2].label}")
            spelled.setdefault(key, (index, kind))
    try:
        return Gazetteer([street for _, _, street in entries])
    except ValueError as error:
        raise GazetteerError(f"{path}: {error}") from error
