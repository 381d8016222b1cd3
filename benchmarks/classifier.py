"""Classifier throughput on one core: the pure decision (classify) over the labelled appeals, in one process.

    .venv/bin/python -m benchmarks.classifier [--appeals 50000] [--corpus datasets/appeals/dev.jsonl] [--rules FILE]

Measures three things and prints them with the machine's load, since the figures mean little without it:
- loading and compiling the rule file (what a hot reload costs);
- cold: the first pass over the corpus with empty caches, where every new word goes through pymorphy3;
- warm: passes over the same texts (and over texts shuffled from their words, so no two appeals are equal),
  the steady state of a running service, whose word cache holds the vocabulary of its recent appeals.
It measures the decision the handler makes (services.classifier.domain.classify), not the broker or store.
"""

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

from services.classifier.domain import classify
from services.classifier.rulebook import read_rules
from services.classifier.settings import DEFAULT_RULES
from shared.contracts.base import utcnow
from shared.contracts.intake import AppealRegistered
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import load_taxonomy

CORPUS = Path(__file__).parent.parent / "datasets" / "appeals" / "dev.jsonl"


def registered(text: str, number: int) -> AppealRegistered:
    now = utcnow()
    return AppealRegistered(
        appeal_id=f"{number:07d}", channel="web", text=text, received_at=now, registered_at=now, correlation_id="bench"
    )


def shuffled_texts(texts: list[str], count: int, seed: int = 7) -> list[str]:
    """New appeals made of the corpus's words: same vocabulary, no repeated text."""
    rng = random.Random(seed)
    words = [text.split() for text in texts]
    return [" ".join(rng.choice(words)[: rng.randint(4, 25)] + rng.choice(words)[:10]) for _ in range(count)]


def run(appeals: int, corpus: Path, rules_path: Path = DEFAULT_RULES) -> dict:
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]

    started = time.perf_counter()
    rules = read_rules(rules_path, taxonomy)
    load_s = time.perf_counter() - started

    now = utcnow()
    events = [registered(text, number) for number, text in enumerate(texts)]
    started = time.perf_counter()
    for event in events:
        classify(event, rules, now)
    cold_s = time.perf_counter() - started

    mixed = [registered(text, number) for number, text in enumerate(shuffled_texts(texts, appeals))]
    for event in mixed:  # the words are known; the first pass only fills the per-word candidate cache
        classify(event, rules, now)
    latencies = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    for event in mixed:
        one = time.perf_counter()
        classify(event, rules, now)
        latencies.append(time.perf_counter() - one)
    warm_s = time.perf_counter() - started
    warm_cpu_s = time.process_time() - cpu_started
    latencies.sort()
    return {
        "corpus": str(corpus),
        "corpus_appeals": len(texts),
        "rules": rules.version,
        "rule_file_load_s": round(load_s, 3),
        "cold_appeals_per_s": round(len(events) / cold_s),
        "warm_appeals": len(mixed),
        "warm_appeals_per_s": round(len(mixed) / warm_s),
        # On a loaded machine the wall clock includes waiting for a core; CPU time does not.
        "warm_appeals_per_cpu_s": round(len(mixed) / warm_cpu_s),
        "warm_p50_us": round(statistics.median(latencies) * 1e6),
        "warm_p99_us": round(latencies[int(len(latencies) * 0.99)] * 1e6),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appeals", type=int, default=50_000, help="warm appeals to classify")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="JSON lines with a text each")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="rule file (compare two in one session)")
    args = parser.parse_args()
    report = run(args.appeals, args.corpus, args.rules)
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")  # noqa: T201 - a benchmark's report is its output


if __name__ == "__main__":
    main()
