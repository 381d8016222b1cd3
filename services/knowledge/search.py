"""Ranked retrieval of articles for a resident's question: BM25 (bm25s) over the lemmas of the words.

Both the articles and the question are read by the classifier's language handling (shared/language.py): each word
becomes its keys (the word, its Ukrainian and Russian lemmas, the Cyrillic readings of Latin-letter words and their
lemmas), so "опаленя", "отопление", "opalennia" and "опалення" meet on the same key. A question's word that no
dictionary knows and that the index does not hold (a typo) is matched to the index's words it is similar to.

An article's title counts more than its keywords and typical questions, and those more than its body: the fields are
repeated in the document the index sees (BM25 adds the repetitions to the term frequency).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_RUSSIAN

from services.knowledge.articles import Article, Library, read_folder
from shared.language import Lexicon, similar, unmix, words
from shared.taxonomy import cached_taxonomy
from shared.textmatch import normalize

FIELD_WEIGHTS = {"title": 3, "keywords": 2, "questions": 2, "body": 1}
# Words that say how a question is put, not what it is about (the question words stay out too: every typical
# question has one, so they would only add noise).
_UKRAINIAN_STOPWORDS = frozenset(
    "а і й та або але чи що як де коли куди чому хто який яка яке які якщо то це цей ця ці той та ті в у на з із зі "
    "до від для за про по при під над між через без не ні так вже ще же ж би б бо мені мене мій моя моє мої мого "
    "моєї ми нам нас наш наша наше ваш ваша вам вас ви я ти він вона воно вони їх його її є був була було були "
    "буде можна треба потрібно дуже також тут там шо шо якшо щоб аби чого чим кому котрої скільки".split()
)
STOPWORDS = _UKRAINIAN_STOPWORDS | frozenset(STOPWORDS_RUSSIAN) - {"нет", "свет"}
_PREFIX = 3


@dataclass(frozen=True, slots=True)
class Answer:
    article: Article
    score: float
    current: bool  # within the article's validity dates on the day asked


class KnowledgeIndex:
    """The index of one library of articles; built once, searched from any number of requests."""

    def __init__(self, library: Library, lexicon: Lexicon, k1: float = 1.2, b: float = 0.75) -> None:
        self.library = library
        self._lexicon = lexicon
        self._articles = library.articles
        self.bm25 = bm25s.BM25(k1=k1, b=b)
        self._readings = lru_cache(maxsize=200_000)(self._reading)
        self.bm25.index([self._document_tokens(article) for article in self._articles], show_progress=False)
        self._vocabulary: dict[str, int] = self.bm25.vocab_dict
        by_prefix: dict[str, list[str]] = defaultdict(list)
        for term in self._vocabulary:
            by_prefix[term[:_PREFIX]].append(term)
        self._by_prefix = dict(by_prefix)
        self._similar_terms = lru_cache(maxsize=50_000)(self._find_similar_terms)
        # The weights of the words of recent questions (a few hundred bytes each).
        self._weights = lru_cache(maxsize=50_000)(self._word_weights)

    def __len__(self) -> int:
        return len(self._articles)

    def _reading(self, written: str) -> tuple[frozenset[str], tuple[str, ...]] | None:
        """(keys, unknown spellings) of a word as written, or None for a word that says nothing of the subject."""
        word = unmix(normalize(written))
        if word in STOPWORDS or word.isdigit():
            return None
        keys = self._lexicon.keys(word)
        # "koly", "shcho": a function word in Latin letters is one by its Cyrillic reading.
        if word.isascii() and keys & STOPWORDS:
            return None
        return keys, self._lexicon.unknown_forms(word)

    def _word_keys(self, text: str) -> Iterable[tuple[frozenset[str], tuple[str, ...]]]:
        """(keys, unknown spellings) of each word of the text that says what it is about."""
        for written in words(text):
            reading = self._readings(written)
            if reading is not None:
                yield reading

    def _document_tokens(self, article: Article) -> list[str]:
        tokens: list[str] = []
        for field, text in article.searchable_text().items():
            field_tokens = [key for keys, _unknown in self._word_keys(text) for key in keys]
            tokens += field_tokens * FIELD_WEIGHTS[field]
        return tokens

    def _find_similar_terms(self, form: str) -> tuple[str, ...]:
        return tuple(term for term in self._by_prefix.get(form[:_PREFIX], ()) if similar(form, term))

    def word_terms(self, written: str) -> tuple[int, ...]:
        """The index's term ids of a word as written: its keys the index holds, and for a word no dictionary knows,
        the index's words its spellings are similar to."""
        reading = self._readings(written)
        if reading is None:
            return ()
        keys, unknown_forms = reading
        terms = dict.fromkeys(self._vocabulary[key] for key in sorted(keys) if key in self._vocabulary)
        # A typo's or surzhyk word's guessed lemmas rarely meet the articles' words; its similar words do.
        terms.update(
            dict.fromkeys(self._vocabulary[term] for form in unknown_forms for term in self._similar_terms(form))
        )
        return tuple(terms)

    def _word_weights(self, written: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(articles, weights) of a word as written: for each article, the best BM25 weight among the word's terms
        (bm25s's term-by-article weights), so a word read several ways ("dadut": "дадуть", "дати", "дать") counts
        once, like any other word."""
        terms = self.word_terms(written)
        if not terms:
            return None
        matrix = self.bm25.scores
        data, indices, starts = matrix["data"], matrix["indices"], matrix["indptr"]
        if len(terms) == 1:
            return indices[starts[terms[0]] : starts[terms[0] + 1]], data[starts[terms[0]] : starts[terms[0] + 1]]
        best = np.zeros(len(self._articles), dtype=np.float32)
        for term in terms:
            articles = indices[starts[term] : starts[term + 1]]
            best[articles] = np.maximum(best[articles], data[starts[term] : starts[term + 1]])
        articles = np.flatnonzero(best)
        return articles, best[articles]

    def scores(self, question: str) -> np.ndarray:
        """Each article's score: the sum of the question's words' weights."""
        total = np.zeros(len(self._articles), dtype=np.float32)
        for written in words(question):
            weights = self._weights(written)
            if weights is not None:
                total[weights[0]] += weights[1]
        return total

    def search(self, question: str, today: date, limit: int = 3) -> list[Answer]:
        """The best articles for the question, best first; empty when no word of it is in any article."""
        scores = self.scores(question)
        count = min(limit, len(self._articles))
        best = np.argpartition(-scores, count - 1)[:count]
        ranked = sorted(best, key=lambda index: (-scores[index], index))
        return [
            Answer(self._articles[index], round(float(scores[index]), 3), self._articles[index].current_on(today))
            for index in ranked
            if scores[index] > 0
        ]


def load_index(articles: Path, taxonomy: Path, lexicon: Lexicon | None = None) -> KnowledgeIndex:
    """The index of an articles folder; DataFileError (or TaxonomyError) naming every file and field that is wrong."""
    library = read_folder(articles, cached_taxonomy(taxonomy).categories)
    return KnowledgeIndex(library, lexicon or Lexicon())
