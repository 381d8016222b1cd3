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


def tokenize(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


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


def compile_term(label: str, raw: str, weight: float = 1.0) -> Term:
    """Raises ValueError for a term with no letters."""
    words = tokenize(raw)
    if not words:
        raise ValueError(f"term {raw!r} has no letters")
    if raw.strip().endswith("!"):
        words[-1] += "!"
    return Term(label, tuple(words), weight)


class TermIndex:
    """Terms indexed by the first letters of their first word, so a text is scanned once."""

    PREFIX = 2

    def __init__(self, terms: list[Term]) -> None:
        self._by_prefix: dict[str, list[Term]] = defaultdict(list)
        for term in terms:
            self._by_prefix[term.words[0].rstrip("!")[: self.PREFIX]].append(term)

    def find(self, tokens: list[str]) -> list[tuple[Term, str]]:
        """Every (term, matched words) in the text, in order."""
        found: list[tuple[Term, str]] = []
        for index, token in enumerate(tokens):
            for term in self._by_prefix.get(token[: self.PREFIX], ()):
                if term.matches_at(tokens, index):
                    found.append((term, " ".join(tokens[index : index + len(term.words)])))
        return found
