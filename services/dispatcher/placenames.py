"""Spellings of one place name: the Ukrainian name in Latin letters by the official table, its Russian form, and the
keys the gazetteer matches on so that Ukrainian, Russian and Latin spellings of one name meet. Pure functions.

`kmu2010` is the Ukrainian national transliteration (Cabinet of Ministers resolution No. 55 of 27 January 2010):
its table gives Є, Ї, Й, Ю, Я one form at the start of a word and another elsewhere, "зг" is written "zgh", and the
soft sign and the apostrophe are not written. Residents also write Kyiv's streets the Russian way in Latin letters
("Kreschatik", "Bolshaya Vasilkovskaya"): `informal_latin` spells the Russian form with the common scheme.
"""

import re
from functools import lru_cache

# The official table: (at the start of a word, elsewhere).
_KMU_2010: dict[str, tuple[str, str]] = {
    "а": ("a", "a"), "б": ("b", "b"), "в": ("v", "v"), "г": ("h", "h"), "ґ": ("g", "g"), "д": ("d", "d"),
    "е": ("e", "e"), "є": ("ye", "ie"), "ж": ("zh", "zh"), "з": ("z", "z"), "и": ("y", "y"), "і": ("i", "i"),
    "ї": ("yi", "i"), "й": ("y", "i"), "к": ("k", "k"), "л": ("l", "l"), "м": ("m", "m"), "н": ("n", "n"),
    "о": ("o", "o"), "п": ("p", "p"), "р": ("r", "r"), "с": ("s", "s"), "т": ("t", "t"), "у": ("u", "u"),
    "ф": ("f", "f"), "х": ("kh", "kh"), "ц": ("ts", "ts"), "ч": ("ch", "ch"), "ш": ("sh", "sh"),
    "щ": ("shch", "shch"), "ь": ("", ""), "ю": ("yu", "iu"), "я": ("ya", "ia"), "'": ("", ""),
}  # fmt: skip
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'"})

_RUSSIAN_LATIN: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def _keep_case(source: str, latin: str) -> str:
    return latin.capitalize() if source.isupper() and latin else latin


def kmu2010(text: str) -> str:
    """Ukrainian text in Latin letters by the 2010 national table: "Хрещатик" -> "Khreshchatyk",
    "Згурівка" -> "Zghurivka", "Солом'янська" -> "Solomianska"."""
    text = text.translate(_APOSTROPHES)
    out: list[str] = []
    at_word_start = True
    for index, char in enumerate(text):
        lower = char.lower()
        if lower in _KMU_2010:
            start, elsewhere = _KMU_2010[lower]
            latin = start if at_word_start else elsewhere
            if lower == "г" and index > 0 and text[index - 1].lower() == "з":
                latin = "gh"  # "зг" is "zgh", so it is not read as "zh"
            out.append(_keep_case(char, latin))
            at_word_start = at_word_start and lower == "'"
        else:
            out.append(char)
            at_word_start = not char.isalpha()
    return "".join(out)


# Ukrainian to Russian, for the forms residents write in Russian: suffixes first (where the vowels differ), then
# the letters. The result is the usual Russian spelling for most street names ("Васильківська" -> "Васильковская",
# "Київська" -> "Киевская"), and close enough for the rest, since the gazetteer compares folded stems.
_RUSSIAN_SUFFIXES = [
    (re.compile(r"іївськ"), "еевск"),
    (re.compile(r"ївськ"), "евск"),
    (re.compile(r"івськ"), "овск"),
    (re.compile(r"(?<=[бвгдзклмнпрстфхцчшщ])ів(?=[кнц])"), "ов"),
    (re.compile(r"оїв\b"), "оев"),
    (re.compile(r"([сц])ьк"), r"\1к"),
    (re.compile(r"([сц])ка\b"), r"\1кая"),
    (re.compile(r"([сц])ке\b"), r"\1кое"),
    (re.compile(r"(?<=[^кгх])ий\b"), "ый"),
]
# A one-word name ending so is an adjective (Лісна -> Лесная; not -ова, which is also a surname: Перова); in a
# longer name the same ending is often the genitive of a person's name ("Івана Франка"), which Russian writes alike.
_SINGLE_WORD_SUFFIXES = [(re.compile(r"(?<=[нлр])а\b"), "ая"), (re.compile(r"(?<=[нлр])е\b"), "ое")]
_RUSSIAN_LETTERS = str.maketrans({"і": "и", "ї": "и", "є": "е", "ґ": "г", "'": "", "’": "", "ʼ": ""})


def russian_form(name: str) -> str:
    """The usual Russian form of a Ukrainian street name (approximate for rare names)."""
    words = name.split(" ")
    rules = _RUSSIAN_SUFFIXES + (_SINGLE_WORD_SUFFIXES if len(words) == 1 else [])
    out = []
    for word in words:
        lower = word.lower()
        for pattern, replacement in rules:
            lower = pattern.sub(replacement, lower)
        russian = lower.translate(_RUSSIAN_LETTERS)
        out.append(russian[:1].upper() + russian[1:] if word[:1].isupper() else russian)
    return " ".join(out)


def informal_latin(russian: str) -> str:
    """A Russian form in Latin letters the way residents often write it: "Крещатик" -> "Kreschatik"."""
    return "".join(_keep_case(char, _RUSSIAN_LATIN.get(char.lower(), char)) for char in russian)


# ---- matching keys -----------------------------------------------------------------------------------------------

_CYRILLIC_FOLD = str.maketrans(
    {"і": "и", "ї": "и", "ы": "и", "є": "е", "э": "е", "ё": "е", "ґ": "г", "ь": "", "ъ": "", "'": ""}
)
_LATIN_FOLD = [
    ("ii", "i"), ("shch", "sh"), ("sch", "sh"), ("tch", "ch"), ("kh", "h"), ("ts", "c"), ("tz", "c"), ("zh", "j"),
    ("ye", "e"), ("ie", "e"), ("yi", "i"), ("yu", "u"), ("iu", "u"), ("ju", "u"), ("ya", "a"), ("ia", "a"),
    ("ja", "a"), ("y", "i"), ("j", "i"), ("w", "v"), ("x", "ks"), ("q", "k"), ("g", "h"),
]  # fmt: skip
_DOUBLED = re.compile(r"(.)\1")  # a doubled letter as one ("Illienka", "Ilienka"); a run stays a run
_LATIN = re.compile(r"[a-z]")


@lru_cache(maxsize=65536)
def match_key(token: str) -> str:
    """One word as the gazetteer compares it: Ukrainian and Russian spellings of a sound folded together (і/и/ы,
    є/е/э, no soft sign), and Latin spellings folded to one skeleton ("Khreshchatyk", "Kreschatik", "Chreshchatyk"
    become close; kh/h, y/i, ya/ia/ja, g/h are one)."""
    if _LATIN.search(token):
        token = token.replace("'", "")  # a soft sign, written as an apostrophe: "Luk'ianivs'ka"
        for spelled, folded in _LATIN_FOLD:
            token = token.replace(spelled, folded)
        return _DOUBLED.sub(r"\1", token)
    return _DOUBLED.sub(r"\1", token.translate(_CYRILLIC_FOLD))
