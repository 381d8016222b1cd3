"""`cityline classify`: the classifier and the dispatcher's routing on a file of appeals, offline (no broker, no store).

--jsonl FILE  reads {"id", "text", "address"?} per line and writes one JSON line per input: the decision, the
              district and department as the dispatcher would route it, and the rules that fired.
--eval FILE   reads lines that also carry the true "category" (and optionally "urgency") and prints accuracy,
              per-category precision and recall, the most frequent confusions, and the rules beside a learned
              baseline per language, with what the second opinion changes in who decides (cityline/learned.py).
--train       writes the second-opinion model from the labelled appeals (and the operators' triage decisions).

Both use the same pure functions as the services: classifier.domain.classify and dispatcher.domain.route.
"""

import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from services.classifier.domain import Policy, classify, classify_text
from services.classifier.rulebook import read_rules
from services.classifier.ruleset import RulesError, RuleSet
from services.dispatcher.domain import Routing, RoutingError, load_routing, route
from shared.contracts.base import utcnow
from shared.contracts.classifier import Classification
from shared.contracts.intake import Address, AppealRegistered
from shared.taxonomy import Taxonomy, TaxonomyError, load_taxonomy

# The labelled appeals: the second opinion's training data and the baseline --eval compares the rules with.
LABELLED = Path(__file__).parent.parent / "datasets" / "appeals"


class InputError(ValueError):
    """A line of the input file that cannot be classified; the message names the line."""


@dataclass(frozen=True)
class Tools:
    taxonomy: Taxonomy
    rules: RuleSet
    routing: Routing


def load_tools(taxonomy_path: Path, rules_path: Path, routing_path: Path) -> Tools:
    """Raises ValueError (RulesError, RoutingError, TaxonomyError) naming the file and the entry."""
    taxonomy = load_taxonomy(taxonomy_path)
    return Tools(taxonomy, read_rules(rules_path, taxonomy), load_routing(routing_path, taxonomy))


CONFIG_ERRORS = (RulesError, RoutingError, TaxonomyError)


def read_lines(stream: IO[str], source: str) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, InputError(f"{source}:{number}: not JSON: {error.msg}")
            continue
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
            yield number, InputError(f'{source}:{number}: needs an object with a non-empty "text"')
            continue
        if "address" in item and not isinstance(item["address"], str | None):
            yield number, InputError(f'{source}:{number}: "address" must be a string')
            continue
        yield number, item


def decide(item: dict[str, Any], number: int, tools: Tools) -> dict[str, Any]:
    """The classifier's decision and the dispatcher's routing of one input line, as one JSON-ready object."""
    now = utcnow()
    try:
        registered = AppealRegistered(
            appeal_id=f"{number:07d}",
            channel="cli",
            text=item["text"],
            address=Address(text=item["address"]) if item.get("address") else None,
            received_at=now,
            registered_at=now,
        )
    except ValidationError as error:
        raise InputError(f"line {number}: {error.errors()[0]['msg']}") from None
    classified = classify(registered, tools.rules, now)
    assignment = route(classified, tools.routing, now).assigned.assignment
    decision = classified.classification
    return {
        "id": item.get("id", number),
        "category": decision.category,
        "urgency": decision.urgency,
        "confidence": decision.confidence,
        "district": assignment.district,
        "department": assignment.department,
        "routing": assignment.outcome,
        "matched_rules": list(decision.matched_rules),
        "matched_terms": list(decision.matched_terms),
        "scores": decision.scores,
        "fired": [rule.model_dump() for rule in decision.fired],
        "ruleset": decision.ruleset,
    }


def run_jsonl(stream: IO[str], source: str, tools: Tools, out: IO[str], err: IO[str]) -> int:
    bad = 0
    for number, item in read_lines(stream, source):
        if isinstance(item, InputError):
            bad += 1
            out.write(json.dumps({"line": number, "error": str(item)}, ensure_ascii=False) + "\n")
            continue
        try:
            result = decide(item, number, tools)
        except InputError as error:
            bad += 1
            out.write(json.dumps({"id": item.get("id"), "line": number, "error": f"{source}:{error}"}) + "\n")
            continue
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    if bad:
        err.write(f'{bad} line(s) of {source} could not be classified (see the "error" lines)\n')
    return 1 if bad else 0


# ---- evaluation ----------------------------------------------------------------------------------


@dataclass
class Evaluation:
    total: int = 0
    correct: int = 0
    urgency_total: int = 0
    urgency_correct: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.truth: Counter[str] = Counter()
        self.predicted: Counter[str] = Counter()
        self.hits: Counter[str] = Counter()
        self.confusions: Counter[tuple[str, str]] = Counter()
        self.urgency_confusions: Counter[tuple[str, str]] = Counter()

    def add(self, true_category: str, category: str, true_urgency: str | None, urgency: str) -> None:
        self.total += 1
        self.truth[true_category] += 1
        self.predicted[category] += 1
        if category == true_category:
            self.correct += 1
            self.hits[category] += 1
        else:
            self.confusions[(true_category, category)] += 1
        if true_urgency is not None:
            self.urgency_total += 1
            if urgency == true_urgency:
                self.urgency_correct += 1
            else:
                self.urgency_confusions[(true_urgency, urgency)] += 1

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        categories = sorted(set(self.truth) | set(self.predicted))
        return {
            "appeals": self.total,
            "accuracy": _ratio(self.correct, self.total),
            "urgency_accuracy": _ratio(self.urgency_correct, self.urgency_total),
            "unclassified_share": _ratio(self.predicted["unclassified"], self.total),
            "per_category": {
                code: {
                    "precision": _ratio(self.hits[code], self.predicted[code]),
                    "recall": _ratio(self.hits[code], self.truth[code]),
                    "support": self.truth[code],
                }
                for code in categories
            },
            "confusions": [
                {"true": true, "predicted": predicted, "count": count}
                for (true, predicted), count in self.confusions.most_common(top)
            ],
            "urgency_confusions": [
                {"true": true, "predicted": predicted, "count": count}
                for (true, predicted), count in self.urgency_confusions.most_common(top)
            ],
            "appeals_per_second": round(self.total / self.seconds) if self.seconds else None,
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Measured:
    evaluation: Evaluation
    problems: list[str]
    items: list[dict[str, Any]]
    decisions: list[Classification]


def evaluate(stream: IO[str], source: str, rules: RuleSet) -> Measured:
    """Classification only (no routing): the truth is a category and an urgency."""
    evaluation, problems = Evaluation(), []
    items, decisions = [], []
    for number, item in read_lines(stream, source):
        if isinstance(item, InputError):
            problems.append(str(item))
            continue
        if not isinstance(item.get("category"), str):
            problems.append(f'{source}:{number}: needs the true "category"')
            continue
        started = time.perf_counter()
        decision = classify_text(item["text"], rules)
        evaluation.seconds += time.perf_counter() - started
        evaluation.add(item["category"], decision.category, item.get("urgency"), decision.urgency)
        items.append(item)
        decisions.append(decision)
    return Measured(evaluation, problems, items, decisions)


def print_evaluation(report: dict[str, Any], source: str, ruleset: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{source}[/bold]: {report['appeals']} appeals, rules {ruleset}")
    urgency = report["urgency_accuracy"]
    console.print(
        f"category accuracy [bold]{_percent(report['accuracy'])}[/bold], urgency accuracy "
        f"[bold]{_percent(urgency)}[/bold], unclassified {_percent(report['unclassified_share'])}, "
        f"{report['appeals_per_second']} appeals/s (classification only)"
    )
    table = Table(title="per category")
    for column in ("category", "precision", "recall", "support"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for code, row in report["per_category"].items():
        table.add_row(code, _percent(row["precision"]), _percent(row["recall"]), str(row["support"]))
    console.print(table)
    for title, key in (("most frequent confusions", "confusions"), ("urgency confusions", "urgency_confusions")):
        if report[key]:
            confusions = Table(title=title)
            for column in ("true", "predicted", "count"):
                confusions.add_column(column)
            for row in report[key]:
                confusions.add_row(row["true"], row["predicted"], str(row["count"]))
            console.print(confusions)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def open_input(path: str) -> IO[str]:
    return sys.stdin if path == "-" else Path(path).open(encoding="utf-8")


def explain(text: str, address: str | None, tools: Tools) -> int:
    """One appeal, decided and explained for a person editing the rules."""
    from rich.console import Console
    from rich.table import Table

    try:
        result = decide({"text": text, "address": address}, 1, tools)
    except InputError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    console = Console()
    console.print(
        f"[bold]{result['category']}[/bold], urgency [bold]{result['urgency']}[/bold], confidence "
        f"{result['confidence']:.2f} → {result['department']} ({result['routing']}"
        + (f", district {result['district']})" if result["district"] else ")"),
        soft_wrap=True,
    )
    console.print(
        "scores: " + ", ".join(f"{code} {score:g}" for code, score in result["scores"].items()), soft_wrap=True
    )
    table = Table(title=f"rules that fired ({result['ruleset']})")
    for column in ("rule", "words", "score", "discounted"):
        table.add_column(column, overflow="fold")
    for fired in result["fired"]:
        table.add_row(fired["rule"], ", ".join(fired["words"]), f"{fired['score']:g}", fired["discounted"])
    console.print(table)
    return 0


def command(args: Any) -> int:
    """`cityline classify`: exit 0 when every line was classified, 1 when some lines were bad, 2 for bad config."""
    if args.train:
        from cityline.learned import train_command

        return train_command(args)
    try:
        tools = load_tools(args.taxonomy, args.rules, args.routing)
    except CONFIG_ERRORS as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    if args.text is not None:
        return explain(args.text, args.address, tools)
    source = args.jsonl or args.eval
    try:
        stream = open_input(source)
    except OSError as error:
        sys.stderr.write(f"error: cannot read {source}: {error}\n")
        return 2
    with stream:
        if args.jsonl:
            return run_jsonl(stream, source, tools, sys.stdout, sys.stderr)
        measured = evaluate(stream, source, tools.rules)
    for problem in measured.problems:
        sys.stderr.write(f"skipped {problem}\n")
    report = measured.evaluation.as_dict(top=args.top)
    comparison = None
    if not args.no_baseline and measured.items:
        from cityline.learned import comparison_for

        policy = Policy(triage_below=args.triage_below)
        comparison = comparison_for(measured.items, measured.decisions, args.labelled, policy).as_dict()
    if args.json:
        extra = {"versus_baseline": comparison} if comparison else {}
        sys.stdout.write(json.dumps({"source": source, "ruleset": tools.rules.version, **report, **extra}) + "\n")
    else:
        print_evaluation(report, source, tools.rules.version)
        if comparison:
            from cityline.learned import print_comparison

            print_comparison(comparison)
    return 1 if measured.problems else 0


def add_parser(commands: Any) -> None:
    from services.classifier.settings import DEFAULT_MODEL, DEFAULT_RULES
    from services.dispatcher.settings import DEFAULT_ROUTING
    from shared.settings import DEFAULT_TAXONOMY

    parser = commands.add_parser(
        "classify", help="classify a file of appeals offline (--jsonl), or measure the rules on labelled ones (--eval)"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--jsonl", metavar="FILE", help='lines {"id", "text", "address"?}; "-" reads stdin')
    what.add_argument("--eval", metavar="FILE", help="lines that also carry the true category (and urgency)")
    what.add_argument("--text", help="one appeal: print its decision and every rule that fired")
    what.add_argument(
        "--train", action="store_true", help="write the second-opinion model from the labelled appeals (--model)"
    )
    parser.add_argument("--address", help="--text: the address the resident gave")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="rule file (default: the shipped one)")
    parser.add_argument("--routing", type=Path, default=DEFAULT_ROUTING, help="the dispatcher's routing file")
    parser.add_argument("--taxonomy", type=Path, default=DEFAULT_TAXONOMY, help="taxonomy file")
    parser.add_argument("--json", action="store_true", help="--eval: the report as one JSON object")
    parser.add_argument("--top", type=int, default=10, help="--eval: how many confusions to list")
    parser.add_argument(
        "--labelled", type=Path, default=LABELLED, help="folder of labelled *.jsonl for --train and the --eval baseline"
    )
    parser.add_argument("--no-baseline", action="store_true", help="--eval: the rules alone, no learned comparison")
    parser.add_argument(
        "--triage-below",
        type=float,
        default=Policy().triage_below,
        help="--eval: rules' confidence under which a flagged appeal goes to a person",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="--train: the model file to write")
    parser.add_argument("--version", help="--train: the model's version (default: today's date)")
    parser.add_argument(
        "--from-store",
        action="store_true",
        help="--train: add the operators' triage decisions from the store (MONGODB_URI, else the embedded stack)",
    )
    parser.set_defaults(func=command)
