"""How residents write, reduced to what rules can match: words with their lemmas, split into clauses.

Each word gets a set of keys: the word as written, its lemmas in Ukrainian and Russian (pymorphy3 with the uk
and ru dictionaries, so every inflected form of "батарея" has the key "батарея"), and for a word in Latin letters
also its Cyrillic transliteration and that one's lemmas ("nemaye svitla" -> "немає світло"). Analysing a word is
slow (tens of microseconds), so each distinct word is analysed once and remembered.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from types import MappingProxyType

import pymorphy3

from shared.textmatch import normalize

_WORD = re.compile(r"[^\W_]+(?:['’ʼ`-][^\W_]+)*", re.UNICODE)
# Where one statement ends and the next begins; "а"/"але"/"but" start a new one too (see Lexicon.analyse).
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\n\r]+|\s[-–—]\s")
_LATIN = re.compile(r"^[a-z'0-9-]+$")

# Ukrainian in Latin letters as residents type it (the official 2010 table and its common variants: "j" for the
# iotated vowels as in Polish-style typing, "ie"/"ye"/"je" for "є").
_TRANSLIT = [
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("gh", "г"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("iu", "ю"), ("ju", "ю"), ("ya", "я"), ("ia", "я"), ("ja", "я"), ("ye", "є"), ("ie", "є"),
    ("je", "є"), ("yi", "ї"), ("ji", "ї"), ("jo", "йо"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("w", "в"), ("h", "г"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"),
    ("y", "и"), ("i", "і"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("c", "ц"), ("x", "кс"), ("q", "к"), ("'", "'"),
]  # fmt: skip
# Russian in Latin letters ("net vody", "ne rabotaet lift", "otopleniya"): "i" is "и", "y" is "ы" or "й", "h" is
# "х", an apostrophe is a soft sign.
_TRANSLIT_RU = [
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("iu", "ю"), ("ju", "ю"), ("ya", "я"), ("ia", "я"), ("ja", "я"), ("yo", "е"), ("jo", "е"),
    ("ye", "е"), ("je", "е"), ("y", "ы"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("w", "в"), ("h", "х"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"),
    ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("c", "ц"), ("x", "кс"), ("q", "к"), ("'", "ь"),
]  # fmt: skip
_VOWELS = "аеєиіїоуюяы"


def _table(pairs: list[tuple[str, str]]) -> tuple[re.Pattern[str], dict[str, str]]:
    return re.compile("|".join(re.escape(latin) for latin, _ in pairs)), dict(pairs)


_UK, _RU = _table(_TRANSLIT), _table(_TRANSLIT_RU)


_VERB_TAGS = frozenset({"VERB", "INFN"})
_NO_SPELLINGS: Mapping[str, str] = MappingProxyType({})

MIN_SIMILAR_LENGTH = 5
SIMILARITY = 0.84


@lru_cache(maxsize=500_000)
def similar(form: str, lemma: str) -> bool:
    """A misspelt or surzhyk form of a dictionary word: same start, nearly the same letters."""
    if len(lemma) < MIN_SIMILAR_LENGTH or form[:3] != lemma[:3] or abs(len(form) - len(lemma)) > 3:
        return False
    return SequenceMatcher(None, form, lemma, autojunk=False).ratio() >= SIMILARITY


# Latin letters that look like Cyrillic ones, typed inside a Cyrillic word from the wrong keyboard layout
# ("вiдключили" with a Latin "i" is the commonest).
_LOOKALIKES = str.maketrans("aceiopxyk", "асеіорхук")
_CYRILLIC = re.compile("[а-яіїєґё]")


@lru_cache(maxsize=100_000)
def unmix(word: str) -> str:
    """A Cyrillic word with Latin lookalikes in it, all made Cyrillic; any other word as is ("dtekу", a Latin
    name with a Cyrillic ending, keeps its Latin letters)."""
    if word.isascii() or not _CYRILLIC.search(word) or not re.search("[a-z]", word):
        return word
    cyrillic = word.translate(_LOOKALIKES)
    return word if re.search("[a-z]", cyrillic) else cyrillic


# An adjective's ending after a consonant ("kholodnyi", "zlamanyj"): "-ий", not "-ї".
_ADJECTIVE_END = re.compile("(?<=[bcdfghklmnprstvwxz])(?:yi|yj|yy)$")
# An apostrophe that is no separation sign before an iotated vowel ("sutsil'na") stands for the soft sign.
_SOFT_SIGN = re.compile("'(?![aeiouyj])")


def transliterate(word: str) -> str:
    """Latin-letter Ukrainian to Cyrillic; "і" after a vowel is "ї" ("garyachoi" -> "гарячої")."""
    pattern, table = _UK
    adjective = _ADJECTIVE_END.search(word)
    stem = _SOFT_SIGN.sub("ь", word[: adjective.start()] if adjective else word)
    cyrillic = pattern.sub(lambda match: table[match.group()], stem) + ("ий" if adjective else "")
    return re.sub(f"(?<=[{_VOWELS}])і", "ї", cyrillic)


def ukrainian_readings(word: str) -> tuple[str, ...]:
    """Latin-letter Ukrainian to Cyrillic as typed, and with "e" after a vowel read as "є" ("nemae" -> "немає")."""
    ukrainian = transliterate(word)
    return tuple(dict.fromkeys((ukrainian, re.sub(f"(?<=[{_VOWELS}])е", "є", ukrainian))))


def soft_sign_reading(cyrillic: str) -> str | None:
    """A soft sign left out at the end, as in Latin typing ("shchos" -> "щось", "den" -> "день")."""
    return cyrillic + "ь" if cyrillic[-1:] in "лнсцтдз" else None


def russian_reading(word: str) -> str:
    """Latin-letter Russian to Cyrillic ("otopleniya" -> "отопления"; "y" after a vowel is "й": "novyy" ->
    "новый")."""
    pattern, table = _RU
    russian = pattern.sub(lambda match: table[match.group()], word)
    return re.sub(f"(?<=[{_VOWELS}])ы", "й", russian)


def english_singular(word: str) -> str | None:
    """ "lamps" -> "lamp", "batteries" -> "battery", "buses" -> "bus": rule words in English are written singular."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is", "'s")):
        return None
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "uses")):
        return word[:-2]
    return word[:-1]


def transliterations(word: str) -> tuple[str, ...]:
    """Every Cyrillic reading of a word in Latin letters, the Ukrainian ones first."""
    return tuple(dict.fromkeys((*ukrainian_readings(word), russian_reading(word))))


# Spellings that mix the two languages' letters ("свєт", "нєту", "сьодні" typed with Ukrainian letters for Russian
# sounds and back): for a word neither dictionary knows, each of these swaps is tried over the whole word.
_MIXED_LETTERS = (("є", "е"), ("е", "є"), ("і", "и"), ("и", "і"), ("ї", "і"), ("и", "ы"), ("ы", "и"), ("э", "е"))


_AS_RUSSIAN = str.maketrans({"є": "е", "і": "и", "ї": "и"})


def respellings(word: str) -> tuple[str, ...]:
    """A Cyrillic word with the other language's letters swapped in, one kind of swap at a time, with all of the
    Ukrainian letters read as Russian ones ("отоплєніє" -> "отопление"), and with "а" written for an unstressed
    "о" as it is heard ("падъезд", "атапление")."""
    swapped = (word.replace(letter, other) for letter, other in _MIXED_LETTERS if letter in word)
    heard = [word.replace("а", "о"), word.replace("а", "о", 1)]
    readings = (*swapped, word.translate(_AS_RUSSIAN), *heard)
    return tuple(reading for reading in dict.fromkeys(readings) if reading != word)


# Russian words typed with Ukrainian letters: "є" or "ьо" right after a consonant inside a word ("свєта", "нєту",
# "тьоплі") never occurs in standard Ukrainian, so such a word is also read with "е" even when a dictionary lists
# it (the uk dictionary knows "свєта" as a name).
_CONSONANTS = "бвгґджзклмнпрстфхцчшщ"
_RUSSIAN_SOUND = re.compile(f"(?<=[{_CONSONANTS}])(?:є|ьо)(?=[а-яіїєґ])")


def russian_sounding(word: str) -> str | None:
    respelt = _RUSSIAN_SOUND.sub("е", word)
    return respelt if respelt != word else None


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # as written, normalized
    keys: frozenset[str]  # the text, its lemmas, its transliteration and that one's lemmas
    clause: int
    start: int  # offset in the normalized text
    # For a word no dictionary knows (a typo, surzhyk, a transliteration): its Cyrillic spellings, which rules
    # may match by similarity ("опаленя" is "опалення"). Empty for known words.
    unknown_forms: tuple[str, ...] = ()
    verb: bool = False  # a dictionary reads it as a verb: a landmark ("біля будинку") ends before it


@dataclass(frozen=True, slots=True)
class Analysed:
    text: str  # normalized
    words: tuple[Word, ...]
    clause_spans: tuple[tuple[int, int], ...]  # (start, end) offsets of each clause in `text`

    def clause_at(self, offset: int) -> int:
        for index, (start, end) in enumerate(self.clause_spans):
            if start <= offset < end:
                return index
        return max(len(self.clause_spans) - 1, 0)


def words(text: str) -> list[str]:
    """The words of a text as written (not normalized); for callers that need no clauses (the knowledge search)."""
    return _WORD.findall(text)


class Lexicon:
    def __init__(self, cache_size: int = 200_000) -> None:
        self._analysers = (pymorphy3.MorphAnalyzer(lang="uk"), pymorphy3.MorphAnalyzer(lang="ru"))
        self.keys = lru_cache(maxsize=cache_size)(self._keys)
        self.unknown_forms = lru_cache(maxsize=cache_size)(self._unknown_forms)
        # Everything a text's word needs, in one look-up per word (keys, unknown spellings, verb).
        self._reading = lru_cache(maxsize=cache_size)(
            lambda word: (self.keys(word), self.unknown_forms(word), self.is_verb(word))
        )
        self._parsed = lru_cache(maxsize=cache_size)(self._parse)

    def _parse(self, word: str) -> tuple[frozenset[str], frozenset[str], bool]:
        """(lemmas the dictionaries know, each analyser's best guess, whether it can be a verb); one pymorphy3 parse
        per analyser."""
        found = [analyser.parse(word) for analyser in self._analysers]
        known = [parse for parses in found for parse in parses if parse.is_known]
        verb = any(parse.tag.POS in _VERB_TAGS for parse in known)
        return frozenset(parse.normal_form for parse in known), frozenset(p[0].normal_form for p in found if p), verb

    def is_verb(self, word: str) -> bool:
        return self._parsed(word)[2]

    def _lemmas(self, word: str) -> frozenset[str]:
        known, guessed, _verb = self._parsed(word)
        # Neither dictionary knows the word: keep each analyser's best guess (it still strips common endings).
        return known or guessed

    def _readings(self, word: str) -> tuple[tuple[str, ...], bool]:
        """(the word's other spellings to take lemmas from, whether a dictionary knows the word or one of them).
        A word in Latin letters: its transliterations; an unknown Cyrillic word: its mixed-letter respellings."""
        if _LATIN.match(word):
            if not any(character.isalpha() for character in word):
                return (), True
            # The Ukrainian readings always count: when no dictionary knows them, their guessed lemmas still strip
            # the endings. The Russian one counts when a dictionary knows it ("otopleniya").
            ukrainian = ukrainian_readings(word)
            others = (soft_sign_reading(ukrainian[0]), russian_reading(word))
            known = tuple(
                reading for reading in others if reading and reading not in ukrainian and self._parsed(reading)[0]
            )
            return (*ukrainian, *known), bool(known) or any(self._parsed(reading)[0] for reading in ukrainian)
        respelt = russian_sounding(word)
        if respelt is not None:
            known = tuple(reading for reading in (respelt, *respellings(respelt)) if self._parsed(reading)[0])
            if known:
                return known, True
        if self._parsed(word)[0]:
            return (), True
        known = tuple(reading for reading in respellings(word) if self._parsed(reading)[0])
        return known, bool(known)

    def _unknown_forms(self, word: str) -> tuple[str, ...]:
        if len(word) < MIN_SIMILAR_LENGTH or word.isdigit():
            return ()
        if self._readings(word)[1]:
            return ()
        # Spelt as heard, "а" for an unstressed "о" ("апаления") may still be a typo of a rule word ("опалення").
        forms = (
            transliterations(word)
            if _LATIN.match(word)
            else tuple(dict.fromkeys((word, word.replace("а", "о", 1), word.replace("а", "о"))))
        )
        return tuple(form for form in forms if not _LATIN.match(form))

    def _keys(self, word: str) -> frozenset[str]:
        keys = {word} | self._lemmas(word)
        for reading in self._readings(word)[0]:
            keys |= {reading} | self._lemmas(reading)
        return frozenset(keys) | self.english_keys(word)

    @staticmethod
    @lru_cache(maxsize=100_000)
    def english_keys(word: str) -> frozenset[str]:
        """A word in Latin letters as English: itself and its singular."""
        if not _LATIN.match(word):
            return frozenset()
        singular = english_singular(word)
        return frozenset({word, singular}) if singular else frozenset({word})

    def lemmas_of_term(self, word: str) -> frozenset[str]:
        """The keys a rule's word is matched by: its own lemmas (an analyst may write any form of it). A word in
        Latin letters is English or transliterated Ukrainian as written: the lemmas of its transliteration would
        be guesses ("snow" -> "снов" -> "сон")."""
        word = normalize(word)
        if _LATIN.match(word):
            return frozenset({word, transliterate(word)})
        return self.keys(word)

    def analyse(
        self,
        text: str,
        clause_words: frozenset[str] = frozenset(),
        spellings: Mapping[str, str] = _NO_SPELLINGS,
        english: frozenset[str] = frozenset(),
    ) -> Analysed:
        """`spellings` maps colloquial words to the ones rules know ("нима" -> "нема"): such a word is read as its
        mapping. Words in `english` are English only, never read as Ukrainian or Russian in Latin letters ("like"
        is not "ліки")."""
        normalized = normalize(text)
        breaks = [match.end() for match in _CLAUSE_BREAK.finditer(normalized)]
        words: list[Word] = []
        spans: list[tuple[int, int]] = []
        clause_start, clause, next_break = 0, 0, 0
        for match in _WORD.finditer(normalized):
            token, start = unmix(match.group()), match.start()
            token = spellings.get(token, token)
            opened = False
            while next_break < len(breaks) and breaks[next_break] <= start:
                opened = True
                next_break += 1
            if (opened or token in clause_words) and words and words[-1].clause == clause:
                spans.append((clause_start, start))
                clause, clause_start = clause + 1, start
            if token in english:
                words.append(Word(token, self.english_keys(token), clause, start))
            else:
                keys, unknown_forms, verb = self._reading(token)
                words.append(Word(token, keys, clause, start, unknown_forms, verb))
        spans.append((clause_start, len(normalized) + 1))
        return Analysed(normalized, tuple(words), tuple(spans))
