"""The labelled appeals in datasets/appeals/ keep the README's validation checks (format and conventions, never texts'
meaning): a broken line or a code outside the taxonomy would silently skew every accuracy figure."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATASETS = sorted((ROOT / "datasets" / "appeals").glob("*.jsonl"))
LANGUAGES = {"uk", "ru", "surzhyk", "translit", "en", "mixed"}
URGENCIES = {"critical", "high", "normal", "low"}
FIELDS = {"id", "text", "address", "category", "urgency", "lang"}
CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def appeals() -> dict[str, list[dict]]:
    return {path.name: read(path) for path in DATASETS}


def test_the_labelled_set_holds_dev_and_holdout_files(appeals):
    assert "dev.jsonl" in appeals and "holdout.jsonl" in appeals
    assert sum(len(items) for items in appeals.values()) >= 400


@pytest.mark.parametrize("path", DATASETS, ids=lambda path: path.name)
def test_every_item_keeps_the_format_and_the_conventions(path, taxonomy):
    problems = []
    for item in read(path):
        where = f"{path.name}:{item.get('id')}"
        if not {"id", "text", "category", "urgency", "lang"} <= item.keys() or item.keys() - FIELDS:
            problems.append(f"{where}: fields {sorted(item)}")
            continue
        if item["category"] not in taxonomy.categories:
            problems.append(f"{where}: category {item['category']!r}")
        if item["urgency"] not in URGENCIES or item["lang"] not in LANGUAGES:
            problems.append(f"{where}: urgency {item['urgency']!r} / lang {item['lang']!r}")
        if item["category"] in {"information_request", "gratitude"} and item["urgency"] != "low":
            problems.append(f"{where}: {item['category']} must be low")
        if item["category"] == "unclassified" and item["urgency"] != "normal":
            problems.append(f"{where}: unclassified must be normal")
        if item["lang"] in {"translit", "en"} and CYRILLIC.search(item["text"]):
            problems.append(f"{where}: Cyrillic in a {item['lang']} text")
        if item["lang"] in {"uk", "ru", "surzhyk"} and not CYRILLIC.search(item["text"]):
            problems.append(f"{where}: no Cyrillic in a {item['lang']} text")
    assert problems == []


def test_ids_and_longer_texts_are_unique_across_all_files(appeals):
    ids = [item["id"] for items in appeals.values() for item in items]
    # Short vague texts ("алло, ви мене чуєте") occur to several authors independently; a longer one twice is a copy.
    texts = [text for items in appeals.values() for item in items if len(text := item["text"].strip().casefold()) >= 40]

    assert len(ids) == len(set(ids))
    assert len(texts) == len(set(texts)), "the same appeal in two places (a dev copy of a holdout item?)"
