"""Street suggestions from the gazetteer while an operator types an address. Pure: an index built once, then looked up.

A suggestion is a street whose name or one of its aliases (former names, Russian forms) fits what was typed:
the typed text begins the name ("велика вас"), every typed word begins a word of the name in any order
("васильківська вел"), or, for typos, every typed word is close to the beginning of a word of the name ("хрешатик").
Ukrainian and Russian spellings of the same sound are folded together (і/и/ы, є/е/э, ґ/г), so "Васильковская" and
"Васильківська" meet. A house number in the query picks the district of a street split by house numbers.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher

from services.dispatcher.gazetteer import HOUSE_WORDS, LANDMARK, METRO, TYPE_WORDS, Gazetteer, Street
from services.dispatcher.placenames import match_key
from shared.textmatch import tokenize

_HOUSE = re.compile(r"^\d{1,4}")
# A typed word this close to the beginning of a street's word is taken for a typo of it.
FUZZY_RATIO = 0.75
MIN_FUZZY_LENGTH = 4

# How well a street fits, best first.
WHOLE_PREFIX, WORD_PREFIXES, FUZZY = 0, 1, 2


def fold(word: str) -> str:
    """Ukrainian, Russian and Latin spellings of one sound as one (the gazetteer's own folding)."""
    return match_key(word)


@dataclass(frozen=True)
class StreetSuggestion:
    name: str  # the street with its type, as the gazetteer names it: "вулиця Велика Васильківська"
    district: str | None  # None: the street crosses districts and the house number does not settle it
    district_name: str
    matched: str  # the name or alias that fit what was typed


@dataclass(frozen=True)
class _Form:
    street: int
    text: str  # as the gazetteer writes it
    words: tuple[str, ...]  # folded
    joined: str


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...]  # folded words of the street's name
    joined: str
    street_type: str | None
    house: int | None


def parse_query(text: str) -> Query:
    """The typed text split into the street's words, the street type and the house number, if written."""
    tokens = tokenize(text)
    house = next((int(_HOUSE.match(token)[0]) for token in tokens if _HOUSE.match(token)), None)  # type: ignore[index]
    named = [token for token in tokens if not _HOUSE.match(token)]
    types = [TYPE_WORDS[token] for token in named if token in TYPE_WORDS]
    # "пр" is a street type and "б" a house word, but alone each is also the start of a name ("Празька"):
    # they are words of the name when nothing else was typed.
    name_words = [token for token in named if token not in TYPE_WORDS and token not in HOUSE_WORDS]
    words = tuple(fold(token) for token in (name_words or named))
    return Query(words, " ".join(words), types[0] if types and name_words else None, house)


class StreetIndex:
    """Every form of every street (name, former names, Russian and Latin forms), indexed by the first two letters
    of each of its words, so a lookup looks only at the forms that could fit what was typed."""

    def __init__(self, gazetteer: Gazetteer, district_names: dict[str, str]) -> None:
        self.streets: list[Street] = gazetteer.streets
        self.district_names = district_names
        self.forms = [
            _Form(position, name, words, " ".join(words))
            for position, street in enumerate(self.streets)
            if street.type not in (METRO, LANDMARK)  # the address field takes streets
            for name in dict.fromkeys(street.names)
            if (words := tuple(fold(word) for word in tokenize(name)))
        ]
        self._by_start: dict[str, set[int]] = defaultdict(set)
        for number, form in enumerate(self.forms):
            for word in form.words:
                self._by_start[word[:1]].add(number)
                self._by_start[word[:2]].add(number)
                # The first and third letters: a word whose second letter was mistyped is found by these.
                self._by_start[_skip_key(word)].add(number)

    def _candidates(self, query: Query, *, fuzzy: bool) -> list[_Form]:
        """Forms with a word beginning as each typed word begins (its first two letters; fuzzy: or its first and
        third, for a typo in the second)."""
        empty: set[int] = set()
        found: set[int] | None = None
        for typed in query.words:
            bucket = self._by_start.get(typed[:2], empty)
            if fuzzy:
                bucket = bucket | self._by_start.get(_skip_key(typed), empty)
            found = set(bucket) if found is None else found & bucket
            if not found:
                return []
        return [self.forms[number] for number in sorted(found or ())]

    def suggest(self, text: str, limit: int = 10) -> list[StreetSuggestion]:
        query = parse_query(text)
        if not query.words:
            return []
        best: dict[int, tuple[int, _Form]] = {}
        self._rank(query, self._candidates(query, fuzzy=False), best, fuzzy=False)
        if len(best) < limit and all(len(typed) >= MIN_FUZZY_LENGTH for typed in query.words):
            seen = {id(form) for _, form in best.values()}
            fuzzy = [form for form in self._candidates(query, fuzzy=True) if id(form) not in seen]
            self._rank(query, fuzzy, best, fuzzy=True)
        ranked = sorted(best.items(), key=lambda item: (item[1][0], len(item[1][1].text), item[1][1].text, item[0]))
        return [self._suggestion(self.streets[position], form, query.house) for position, (_, form) in ranked[:limit]]

    def _rank(self, query: Query, forms: list[_Form], best: dict[int, tuple[int, _Form]], *, fuzzy: bool) -> None:
        for form in forms:
            fit = _fit(query, form, fuzzy=fuzzy)
            if fit is None:
                continue
            street = self.streets[form.street]
            if query.street_type is not None and street.type != query.street_type:
                fit += 1  # another type of street of that name is a worse fit, still worth showing
            if form.street not in best or fit < best[form.street][0]:
                best[form.street] = (fit, form)

    def _suggestion(self, street: Street, form: _Form, house: int | None) -> StreetSuggestion:
        district = street.district_for(house)
        return StreetSuggestion(
            name=street.label,
            district=district,
            district_name=self.district_names.get(district, "") if district else "",
            matched=form.text,
        )


def _skip_key(word: str) -> str:
    return f"~{word[0]}{word[2]}" if len(word) >= 3 else "~"


def _fit(query: Query, form: _Form, *, fuzzy: bool) -> int | None:
    if form.joined.startswith(query.joined):
        return WHOLE_PREFIX
    if all(any(word.startswith(typed) for word in form.words) for typed in query.words):
        return WORD_PREFIXES
    if fuzzy and all(any(_close(typed, word) for word in form.words) for typed in query.words):
        return FUZZY
    return None


def _close(typed: str, word: str) -> bool:
    """A typo of the word's beginning: a typed word long enough, nearly the same as the word cut to its length."""
    if len(typed) < MIN_FUZZY_LENGTH or typed[0] != word[0]:
        return False
    matcher = SequenceMatcher(None, typed, word[: len(typed) + 1], autojunk=False)
    # The quick bounds first: most words are far off, and ratio() is the dear part.
    return (
        matcher.real_quick_ratio() >= FUZZY_RATIO
        and matcher.quick_ratio() >= FUZZY_RATIO
        and (matcher.ratio() >= FUZZY_RATIO)
    )
