"""The learned side of `cityline classify`: training the second opinion (--train) and measuring the rules against a
learned baseline on the same appeals (--eval).

The baseline is the owners' recipe (TF-IDF over character 2–5-grams and words, a linear SVM) trained on every labelled
appeal of datasets/appeals/ except those of the file being measured, so it never sees what it is scored on; the
second opinion is the shipped model's recipe trained on the same data.
"""

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.classifier.domain import Policy, weigh_second_opinion
from services.classifier.opinion import Example, LearnedModel, ModelError, read_labelled, train
from services.classifier.ruleset import UNCLASSIFIED
from shared.contracts.classifier import Classification

BASELINE_MIN_DF = 1  # the owners' baseline keeps every n-gram
SHIPPED_MIN_DF = 2  # the shipped model drops n-grams seen once: half the file, about a point less


def labelled_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl"))


def training_set(folder: Path, exclude_texts: set[str]) -> tuple[list[Example], list[str]]:
    """Every labelled appeal of the folder whose text is not among `exclude_texts` (the appeals being measured)."""
    files = labelled_files(folder)
    examples = [example for example in read_labelled(files) if example.text not in exclude_texts]
    return examples, [file.name for file in files]


@dataclass
class Tally:
    appeals: int = 0
    category: int = 0
    urgency: int = 0

    def add(self, category_right: bool, urgency_right: bool) -> None:
        self.appeals += 1
        self.category += category_right
        self.urgency += urgency_right

    def as_dict(self) -> dict[str, Any]:
        return {
            "appeals": self.appeals,
            "category": round(self.category / self.appeals, 4) if self.appeals else None,
            "urgency": round(self.urgency / self.appeals, 4) if self.appeals else None,
        }


@dataclass
class Routing:
    """Appeals the classification lets through without a person, and how many of those are right."""

    appeals: int = 0
    to_person: int = 0
    automatic_right: int = 0

    def add(self, decided: str, truth: str) -> None:
        self.appeals += 1
        if decided == UNCLASSIFIED:
            self.to_person += 1
        elif decided == truth:
            self.automatic_right += 1

    def as_dict(self) -> dict[str, Any]:
        automatic = self.appeals - self.to_person
        return {
            "to_person_share": round(self.to_person / self.appeals, 4) if self.appeals else None,
            "automatic_accuracy": round(self.automatic_right / automatic, 4) if automatic else None,
            "automatic": automatic,
        }


@dataclass
class Comparison:
    """Rules and baseline per language, and what the second opinion changes in who decides."""

    rules: dict[str, Tally] = field(default_factory=dict)
    baseline: dict[str, Tally] = field(default_factory=dict)
    rules_alone: Routing = field(default_factory=Routing)
    with_opinion: Routing = field(default_factory=Routing)
    flagged: int = 0
    both_agree: Tally = field(default_factory=Tally)
    baseline_version: str = ""
    opinion_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_language": {
                language: {"rules": self.rules[language].as_dict(), "baseline": self.baseline[language].as_dict()}
                for language in sorted(self.rules, key=lambda code: (code != "all", code))
            },
            "baseline_model": self.baseline_version,
            "second_opinion": {
                "model": self.opinion_version,
                "flagged_share": round(self.flagged / self.rules_alone.appeals, 4)
                if self.rules_alone.appeals
                else None,
                "agree_share": round(self.both_agree.appeals / self.rules_alone.appeals, 4)
                if self.rules_alone.appeals
                else None,
                "accuracy_where_they_agree": self.both_agree.as_dict()["category"],
                "rules_alone": self.rules_alone.as_dict(),
                "with_second_opinion": self.with_opinion.as_dict(),
            },
        }


def compare(
    items: Sequence[dict[str, Any]],
    decisions: Sequence[Classification],
    baseline: LearnedModel,
    opinion_model: LearnedModel,
    policy: Policy,
) -> Comparison:
    texts = [item["text"] for item in items]
    result = Comparison(baseline_version=baseline.version, opinion_version=opinion_model.version)
    baseline_says = baseline.opinions(texts)
    opinions = opinion_model.opinions(texts)
    for item, decision, guess, opinion in zip(items, decisions, baseline_says, opinions, strict=True):
        truth, urgency = item["category"], item.get("urgency")
        for language in ("all", item.get("lang") or "?"):
            result.rules.setdefault(language, Tally()).add(decision.category == truth, decision.urgency == urgency)
            result.baseline.setdefault(language, Tally()).add(guess.category == truth, guess.urgency == urgency)
        weighed = weigh_second_opinion(decision, opinion, policy)
        result.rules_alone.add(decision.category, truth)
        result.with_opinion.add(weighed.category, truth)
        result.flagged += weighed.flagged
        if opinion.category == decision.category:
            result.both_agree.add(decision.category == truth, decision.urgency == urgency)
    return result


def comparison_for(
    items: Sequence[dict[str, Any]], decisions: Sequence[Classification], folder: Path, policy: Policy
) -> Comparison:
    examples, _ = training_set(folder, {item["text"] for item in items})
    today = datetime.now(UTC).date().isoformat()
    baseline = train(examples, version=f"baseline-{today}", min_df=BASELINE_MIN_DF)
    opinion_model = train(examples, version=f"opinion-{today}", min_df=SHIPPED_MIN_DF)
    return compare(items, decisions, baseline, opinion_model, policy)


def print_comparison(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"rules against the learned baseline ({report['baseline_model']}, never trained on these)")
    for column in ("language", "appeals", "rules category", "baseline category", "rules urgency", "baseline urgency"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for language, row in report["by_language"].items():
        rules, baseline = row["rules"], row["baseline"]
        table.add_row(
            language,
            str(rules["appeals"]),
            _percent(rules["category"]),
            _percent(baseline["category"]),
            _percent(rules["urgency"]),
            _percent(baseline["urgency"]),
        )
    console.print(table)
    opinion = report["second_opinion"]
    routing = Table(title=f"second opinion ({opinion['model']}): who decides")
    for column in ("", "sent to a person", "routed without a person", "accuracy of those"):
        routing.add_column(column, justify="left" if not column else "right")
    for label, key in (("rules alone", "rules_alone"), ("rules + second opinion", "with_second_opinion")):
        row = opinion[key]
        routing.add_row(
            label, _percent(row["to_person_share"]), str(row["automatic"]), _percent(row["automatic_accuracy"])
        )
    console.print(routing)
    console.print(
        f"flagged (model disagrees) {_percent(opinion['flagged_share'])}; both agree on "
        f"{_percent(opinion['agree_share'])} of appeals, right there {_percent(opinion['accuracy_where_they_agree'])}"
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


# ---- --train -------------------------------------------------------------------------------------


def store_examples() -> list[Example]:
    """Operators' triage decisions from the store named by MONGODB_URI (or the embedded stack's)."""
    from services.classifier.repository import operator_decisions
    from shared.settings import ConnectionSettings
    from shared.store import Store

    async def read() -> list[Example]:
        store = Store.from_settings(ConnectionSettings(), app_name="cityline-train")
        try:
            return await operator_decisions(store)
        finally:
            await store.close()

    return asyncio.run(read())


def train_command(args: Any) -> int:
    """Writes the second-opinion model; exit 2 when the data cannot be read."""
    try:
        examples, sources = training_set(args.labelled, set())
    except (OSError, ModelError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    if args.from_store:
        try:
            decisions = store_examples()
        except Exception as error:
            sys.stderr.write(f"error: cannot read operators' decisions from the store: {error}\n")
            return 2
        # An operator's decision on a text outranks a label of the same text.
        decided = {example.text for example in decisions}
        examples = [example for example in examples if example.text not in decided] + decisions
        sources.append(f"store: {len(decisions)} operator decisions")
    version = args.version or datetime.now(UTC).strftime("%Y-%m-%d")
    try:
        model = train(examples, version=version, min_df=SHIPPED_MIN_DF, sources=sources)
    except ModelError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    model.save(args.model)
    sys.stdout.write(
        f"wrote {args.model}: model {model.version}, {len(examples)} appeals, {model.meta['features']} features\n"
    )
    return 0
