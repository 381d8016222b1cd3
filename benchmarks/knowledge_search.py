"""Knowledge search on one core: index build and queries per second over 1,000 articles, in one process.

    .venv/bin/python -m benchmarks.knowledge_search [--articles 1000] [--queries 20000]

The 72 sample articles are extended to `--articles` by synthesized ones: each is a sample article's header with a
body of sentences drawn from the other articles and two Kyiv addresses (the gazetteer's streets), so the vocabulary
grows as a real city's knowledge base would. Prints, with the machine's load average:
- the dictionaries' load (once per process) and the index build over all articles with empty word caches;
- queries per second: the dev questions and questions shuffled from their words (no two alike), with warm caches,
  which is the steady state of a running service.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import date
from pathlib import Path

import yaml

from services.knowledge.articles import DEFAULT_ARTICLES, Article, Library, read_folder
from services.knowledge.search import KnowledgeIndex
from shared.language import Lexicon, words
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import load_taxonomy

QUESTIONS = Path(__file__).parent.parent / "datasets" / "questions" / "dev.jsonl"
GAZETTEER = Path(__file__).parent.parent / "services" / "dispatcher" / "gazetteer.yaml"


def street_names() -> list[str]:
    """Kyiv's street names (the words a city's articles add: addresses of offices, shelters, service centres)."""
    streets = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))["streets"]
    return [f"{street['type']} {street['name']}" for street in streets]


def synthesized(samples: tuple[Article, ...], count: int, seed: int = 13) -> Library:
    rng = random.Random(seed)
    streets = street_names()
    sentences = [sentence for article in samples for sentence in article.body.split(". ") if sentence]
    articles = list(samples)
    for number in range(count - len(samples)):
        base = samples[number % len(samples)]
        own = f"Адреса: {rng.choice(streets)}, {rng.randint(1, 300)}; {rng.choice(streets)}, {rng.randint(1, 90)}"
        body = ". ".join(rng.sample(sentences, 6)) + f". {own}."
        articles.append(base.model_copy(update={"id": f"{base.id}-{number}", "body": body}))
    return Library(tuple(articles))


def shuffled(questions: list[str], count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = [word for question in questions for word in question.split()]
    return [" ".join(rng.sample(words, rng.randint(2, 9))) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args()
    load = os.getloadavg()

    started = time.perf_counter()
    lexicon = Lexicon()
    dictionaries_s = time.perf_counter() - started
    samples = read_folder(DEFAULT_ARTICLES, load_taxonomy(DEFAULT_TAXONOMY).categories).articles
    library = synthesized(samples, args.articles)
    started = time.perf_counter()
    index = KnowledgeIndex(library, lexicon)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    KnowledgeIndex(library, lexicon)
    rebuild_s = time.perf_counter() - started

    dev = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    today = date.today()
    for question in dev:  # warm the word caches, as a running service's are
        index.search(question, today)
    figures = {}
    for name, queries in (
        ("dev questions", dev * (args.queries // len(dev) + 1)),
        ("shuffled", shuffled(dev, args.queries)),
    ):
        queries = queries[: args.queries]
        for question in queries[:2000]:
            index.search(question, today)
        started = time.perf_counter()
        for question in queries:
            index.search(question, today)
        figures[name] = round(len(queries) / (time.perf_counter() - started))
    # The same-run reference: bm25s's own scoring of the dev questions' term ids, without the language handling.
    term_ids = [[term for word in words(question) for term in index.word_terms(word)] or [0] for question in dev]
    term_ids = (term_ids * (args.queries // len(term_ids) + 1))[: args.queries]
    started = time.perf_counter()
    for ids in term_ids:
        index.bm25.get_scores_from_ids(ids)
    figures["reference: bm25s scoring alone"] = round(len(term_ids) / (time.perf_counter() - started))
    sys.stdout.write(
        json.dumps(
            {
                "articles": len(index),
                "load_average_1_5_15": [round(value, 2) for value in load],
                "dictionaries_load_s": round(dictionaries_s, 2),
                "index_build_s": round(build_s, 2),
                "index_rebuild_warm_s": round(rebuild_s, 2),
                "queries_per_second": figures,
            },
            ensure_ascii=False,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
