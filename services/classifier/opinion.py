"""The learned second opinion: a small linear model beside the rules, never instead of them.

TF-IDF over character 2–5-grams (within words) and over words, one linear SVM for the category and one for the
urgency, trained by `cityline classify --train` on the labelled appeals and the operators' triage decisions.

The model file is a NumPy archive (`.npz`) read with `allow_pickle=False`: the vocabularies, the IDF weights and the
coefficients as plain arrays, and the metadata as JSON. Unlike a joblib or pickle file, loading it runs no code
(a model file is data that can come from elsewhere), and it does not depend on the scikit-learn version that wrote it.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from shared.contracts.classifier import SecondOpinion

FORMAT = 1
# The two views of a text: character n-grams within words catch inflections, typos and Latin-letter spellings;
# words catch the rest.
VIEWS: dict[str, dict[str, Any]] = {
    "chars": {"analyzer": "char_wb", "ngram_range": (2, 5)},
    "words": {"analyzer": "word", "ngram_range": (1, 1)},
}
HEADS = ("category", "urgency")


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Example:
    text: str
    category: str
    urgency: str


def data_hash(examples: Iterable[Example]) -> str:
    """The training data's fingerprint: the same appeals and labels, in any order, give the same hash."""
    lines = sorted(json.dumps([e.text, e.category, e.urgency], ensure_ascii=False) for e in examples)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:12]


def _vectorizer(view: str, min_df: int = 1, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(**VIEWS[view], sublinear_tf=True, min_df=min_df, vocabulary=vocabulary)


@dataclass(frozen=True)
class Head:
    """One linear decision: its classes, coefficients (classes × features) and intercepts."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray


class LearnedModel:
    def __init__(self, vectorizers: dict[str, TfidfVectorizer], heads: dict[str, Head], meta: dict[str, Any]):
        self.vectorizers = vectorizers
        self.heads = heads
        self.meta = meta
        self.version: str = meta["version"]

    def _features(self, texts: Sequence[str]) -> Any:
        return hstack([self.vectorizers[view].transform(texts) for view in VIEWS]).tocsr()

    def opinions(self, texts: Sequence[str]) -> list[SecondOpinion]:
        """One opinion per text, computed for the whole batch at once (one sparse product per head)."""
        if not texts:
            return []
        features = self._features(texts)
        picks: dict[str, list[tuple[str, float]]] = {}
        for name, head in self.heads.items():
            scores = np.asarray(features @ head.coef.T) + head.intercept
            order = np.argsort(-scores, axis=1)
            rows = np.arange(len(texts))
            margins = scores[rows, order[:, 0]] - scores[rows, order[:, 1]]
            picks[name] = [(head.classes[i], float(m)) for i, m in zip(order[:, 0], margins, strict=True)]
        return [
            SecondOpinion(model=self.version, category=category, urgency=urgency, margin=round(margin, 3))
            for (category, margin), (urgency, _) in zip(picks["category"], picks["urgency"], strict=True)
        ]

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(self.meta, ensure_ascii=False))}
        for view, vectorizer in self.vectorizers.items():
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
            arrays[f"{view}_terms"] = np.array(terms, dtype=str)
            arrays[f"{view}_idf"] = vectorizer.idf_.astype(np.float32)
        for name, head in self.heads.items():
            arrays[f"{name}_classes"] = np.array(head.classes, dtype=str)
            # Half precision halves the file; the decisions do not change (checked by the tests on the dev sets).
            arrays[f"{name}_coef"] = head.coef.astype(np.float16)
            arrays[f"{name}_intercept"] = head.intercept.astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            np.savez_compressed(out, **arrays)


def train(examples: Sequence[Example], *, version: str, min_df: int = 1, sources: Sequence[str] = ()) -> LearnedModel:
    """Fits both heads on the examples. `min_df` 2 drops n-grams seen once (a model half the size, ~1 point less)."""
    if len({e.category for e in examples}) < 2 or len({e.urgency for e in examples}) < 2:
        raise ModelError("training needs at least two categories and two urgencies among the examples")
    texts = [e.text for e in examples]
    vectorizers = {view: _vectorizer(view, min_df) for view in VIEWS}
    features = hstack([vectorizers[view].fit_transform(texts) for view in VIEWS]).tocsr()
    heads = {}
    for name in HEADS:
        labels = [getattr(e, name) for e in examples]
        svm = LinearSVC(random_state=0).fit(features, labels)
        coef, intercept = svm.coef_, svm.intercept_
        if len(svm.classes_) == 2:  # a binary SVM keeps one row: the second class's side
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        heads[name] = Head(tuple(str(c) for c in svm.classes_), coef.astype(np.float32), intercept.astype(np.float32))
    digest = data_hash(examples)
    meta = {
        "format": FORMAT,
        "version": f"{version}@{digest}",
        "data_hash": digest,
        "examples": len(examples),
        "sources": list(sources),
        "min_df": min_df,
        "features": int(features.shape[1]),
    }
    return LearnedModel(vectorizers, heads, meta)


def load_model(path: Path) -> LearnedModel:
    """Raises ModelError naming the file when it is unreadable, not a model, or of another format."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError) as error:
        raise ModelError(f"{path}: not a readable model file: {error}") from error
    try:
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path}: model format {meta.get('format')!r}, this classifier reads {FORMAT}")
        vectorizers = {}
        for view in VIEWS:
            terms = [str(term) for term in arrays[f"{view}_terms"]]
            vectorizer = _vectorizer(view, vocabulary={term: index for index, term in enumerate(terms)})
            vectorizer.idf_ = arrays[f"{view}_idf"].astype(np.float64)
            vectorizers[view] = vectorizer
        width = sum(len(v.vocabulary) for v in vectorizers.values())
        heads = {}
        for name in HEADS:
            coef = arrays[f"{name}_coef"].astype(np.float32)
            classes = tuple(str(c) for c in arrays[f"{name}_classes"])
            if coef.shape != (len(classes), width):
                raise ModelError(f"{path}: {name} coefficients are {coef.shape}, expected {(len(classes), width)}")
            heads[name] = Head(classes, coef, arrays[f"{name}_intercept"].astype(np.float32))
    except KeyError as error:
        raise ModelError(f"{path}: the model file lacks {error.args[0]!r}") from error
    except (json.JSONDecodeError, TypeError) as error:
        raise ModelError(f"{path}: the model's metadata is not valid JSON: {error}") from error
    return LearnedModel(vectorizers, heads, meta)


def read_labelled(paths: Iterable[Path]) -> list[Example]:
    """Labelled appeals from JSON-lines files ({"text", "category", "urgency", ...}); raises ModelError naming the
    file and line of a bad one."""
    examples = []
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    examples.append(Example(str(item["text"]), str(item["category"]), str(item["urgency"])))
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    raise ModelError(f"{path}:{number}: needs an object with text, category and urgency") from error
    return examples
