"""`cityline route --eval FILE`: how well the dispatcher finds the district of appeals, offline (no broker, no store).

FILE has one appeal a line: {"id", "text", "address"?, "district"}, where "district" is the true district code, or
null when the person labelling could not tell it. Each appeal goes through the classifier and the dispatcher's
locating code (dispatcher.domain.find_place: structured address, gazetteer street, metro station or landmark,
district and neighbourhood names), as the services do. For the appeals with a true district the report counts:
right (the district found is the true one), wrong (another district), unknown (none found: the appeal would go to
a person when its category is district-scoped).
"""

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cityline.classify import CONFIG_ERRORS, Tools, _percent, _ratio, load_tools, open_input, read_lines
from services.classifier.domain import classify
from services.dispatcher.domain import find_place
from shared.contracts.base import utcnow
from shared.contracts.intake import Address, AppealRegistered

OUTCOMES = ("right", "wrong", "unknown")


@dataclass
class DistrictEvaluation:
    outcomes: Counter[str] = field(default_factory=Counter)  # right, wrong, unknown, not_labelled
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, item: dict[str, Any], found: str | None, street: str | None) -> None:
        truth = item.get("district")
        if not truth:
            outcome = "not_labelled"
        else:
            outcome = "right" if found == truth else "unknown" if found is None else "wrong"
        self.outcomes[outcome] += 1
        if outcome in ("not_labelled", "right"):
            return
        if outcome == "wrong":
            self.confusions[(truth, found)] += 1
        self.mistakes.append(
            {"id": item.get("id"), "true": truth, "found": found, "street": street, "address": item.get("address"),
             "text": item["text"][:160]}
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        labelled = sum(self.outcomes[outcome] for outcome in OUTCOMES)
        return {
            "labelled": labelled,
            **{outcome: self.outcomes[outcome] for outcome in OUTCOMES},
            **{f"{outcome}_share": _ratio(self.outcomes[outcome], labelled) for outcome in OUTCOMES},
            "not_labelled": self.outcomes["not_labelled"],
            "confusions": [
                {"true": true, "found": found, "count": count} for (true, found), count in self.confusions.most_common()
            ],
        }


def locate_item(item: dict[str, Any], tools: Tools) -> tuple[str | None, str | None]:
    """The district and the street (as the gazetteer names it) the dispatcher finds for one appeal."""
    now = utcnow()
    registered = AppealRegistered(
        appeal_id="0000001",
        channel="cli",
        text=item["text"],
        address=Address(text=item["address"]) if item.get("address") else None,
        received_at=now,
        registered_at=now,
    )
    place = find_place(classify(registered, tools.rules, now), tools.routing)
    return place.district, place.street.street.label if place.street else None


def evaluate_districts(stream: IO[str], source: str, tools: Tools) -> tuple[DistrictEvaluation, list[str]]:
    evaluation, problems = DistrictEvaluation(), []
    districts = tools.taxonomy.districts
    for number, item in read_lines(stream, source):
        if isinstance(item, Exception):
            problems.append(str(item))
            continue
        if item.get("district") is not None and item.get("district") not in districts:
            problems.append(f'{source}:{number}: "district" {item.get("district")!r} is not a district code')
            continue
        found, street = locate_item(item, tools)
        evaluation.add(item, found, street)
    return evaluation, problems


def print_report(report: dict[str, Any], source: str) -> None:
    labelled = report["labelled"]
    sys.stdout.write(
        f"{source}: {labelled} appeals with a true district ({report['not_labelled']} without)\n"
        f"district right {report['right']} ({_percent(report['right_share'])}), "
        f"wrong {report['wrong']} ({_percent(report['wrong_share'])}), "
        f"unknown {report['unknown']} ({_percent(report['unknown_share'])})\n"
    )
    for row in report["confusions"]:
        sys.stdout.write(f"  wrong: {row['true']} found as {row['found']}: {row['count']}\n")


def command(args: Any) -> int:
    """Exit 0 when every line was read, 1 when some lines were bad, 2 for bad config or an unreadable file."""
    try:
        tools = load_tools(args.taxonomy, args.rules, args.routing)
        stream = open_input(args.eval)
    except CONFIG_ERRORS as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    except OSError as error:
        sys.stderr.write(f"error: cannot read {args.eval}: {error}\n")
        return 2
    with stream:
        evaluation, problems = evaluate_districts(stream, args.eval, tools)
    for problem in problems:
        sys.stderr.write(f"skipped {problem}\n")
    report = evaluation.as_dict()
    if args.json:
        sys.stdout.write(json.dumps({"source": args.eval, **report}, ensure_ascii=False) + "\n")
    else:
        print_report(report, args.eval)
    if args.mistakes:
        for mistake in evaluation.mistakes:
            sys.stdout.write(json.dumps(mistake, ensure_ascii=False) + "\n")
    return 1 if problems else 0


def add_parser(commands: Any) -> None:
    from services.classifier.settings import DEFAULT_RULES
    from services.dispatcher.settings import DEFAULT_ROUTING
    from shared.settings import DEFAULT_TAXONOMY

    parser = commands.add_parser("route", help="measure how well the dispatcher finds appeals' districts (--eval)")
    parser.add_argument("--eval", metavar="FILE", required=True, help='lines {"text", "address"?, "district"}')
    parser.add_argument("--routing", type=Path, default=DEFAULT_ROUTING, help="the dispatcher's routing file")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="the classifier's rule file")
    parser.add_argument("--taxonomy", type=Path, default=DEFAULT_TAXONOMY, help="taxonomy file")
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    parser.add_argument("--mistakes", action="store_true", help="also print each wrong or unknown appeal as JSON")
    parser.set_defaults(func=command)
