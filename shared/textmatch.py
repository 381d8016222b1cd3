"""Matching terms in residents' text: the classifier's rules and the dispatcher's district names use it.

A term is one or more word stems; each stem matches the start of a word ("батаре" matches "батареї"),
and a stem ending in "!" must be the whole word ("газ!" matches "газ", not "газон"). A term of several
words matches those words in a row.
"""

import re
from collections import defaultdict
from dataclasses import dataclass

_WORD = re.compile(r"[\w'’ʼ`-]+", re.UNICODE)
_FOLD = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "ё": "е"})


def normalize(text: str) -> str:
    return text.lower().translate(_FOLD)


_EDGE = "'-"


def tokenize(text: str) -> list[str]:
    # Quotes and dashes around a word are punctuation ("'Оболонь'", "Поділ’"), not part of it.
    return [word for word in (raw.strip(_EDGE) for raw in _WORD.findall(normalize(text))) if word]


@dataclass(frozen=True)
class Term:
    label: str
    words: tuple[str, ...]
    weight: float = 1.0

    def matches_at(self, tokens: list[str], start: int) -> bool:
        if start + len(self.words) > len(tokens):
            return False
        for offset, word in enumerate(self.words):
            token = tokens[start + offset]
            if word.endswith("!"):
                if token != word[:-1]:
                    return False
            elif not token.startswith(word):
                return False
        return True


def has_letters(raw: str) -> bool:
    return any(character.isalpha() for character in raw)


def compile_term(label: str, raw: str, weight: float = 1.0) -> Term:
    """Raises ValueError for a term with no letters. Any word of the term may end in "!" (whole word)."""
    if not has_letters(raw):
        raise ValueError(f"term {raw!r} has no letters")
    words: list[str] = []
    for piece in raw.split():
        tokens = tokenize(piece)
        if tokens and piece.endswith("!"):
            tokens[-1] += "!"
        words += tokens
    return Term(label, tuple(words), weight)


class TermIndex:
    """Terms indexed by their first word, so each word of a text costs a few dictionary look-ups: the word
    itself (terms whose first word is whole) and its beginnings of the lengths that stems have."""

    def __init__(self, terms: list[Term]) -> None:
        self._whole: dict[str, list[Term]] = defaultdict(list)
        self._stems: dict[str, list[Term]] = defaultdict(list)
        for term in terms:
            first = term.words[0]
            if first.endswith("!"):
                self._whole[first[:-1]].append(term)
            else:
                self._stems[first].append(term)
        self._stem_lengths = sorted({len(stem) for stem in self._stems})

    def find(self, tokens: list[str]) -> list[tuple[Term, str]]:
        """Every (term, matched words) in the text, in order."""
        found: list[tuple[Term, str]] = []
        for index, token in enumerate(tokens):
            candidates = list(self._whole.get(token, ()))
            for length in self._stem_lengths:
                if length > len(token):
                    break
                candidates += self._stems.get(token[:length], ())
            for term in candidates:
                if term.matches_at(tokens, index):
                    found.append((term, " ".join(tokens[index : index + len(term.words)])))
        return found
