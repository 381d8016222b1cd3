"""`cityline kb ask|eval|import`: the knowledge base offline (no broker, no store), with the service's own search.

ask QUESTION   the best articles with their scores (`--json`: {"answers": [{"article", "title", "categories",
               "score"}, ...]}).
eval FILE      reads {"question", "article"} lines; prints top-1 / top-3 accuracy and what the automatic answer would
               do with the configured threshold (how many appeals it closes, how many of those wrongly).
import PATH    validates a city's export (a folder of Markdown articles or a JSON Lines file) and writes it into
               the articles folder, one `<id>.md` per article; nothing is written when any article is wrong.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


class UserError(Exception):
    """Something the user can fix; printed without a traceback, exit code 2."""


def add_parser(commands: Any) -> None:
    kb = commands.add_parser("kb", help="ask the knowledge base, measure it on labelled questions, import articles")
    actions = kb.add_subparsers(dest="action", required=True)
    ask = actions.add_parser("ask", help="the best articles for a question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help='print {"answers": [...]}')
    ask.add_argument("--lang", default="uk", choices=["uk", "ru", "en"], help="the language of the titles")
    ask.add_argument("--limit", type=int, default=3)
    evaluate = actions.add_parser("eval", help='top-1 / top-3 accuracy on {"question", "article"} lines')
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    evaluate.add_argument(
        "--sweep", action="store_true", help="the automatic answer at other thresholds too (choose on dev data only)"
    )
    importing = actions.add_parser("import", help="validate a city's export and write it into the articles folder")
    importing.add_argument("path", type=Path, help="a folder of Markdown articles or a JSON Lines file")
    importing.add_argument("--into", type=Path, help="the articles folder (default: the knowledge service's)")
    kb.set_defaults(func=cmd_kb)


def cmd_kb(args: argparse.Namespace) -> int:
    try:
        if args.action == "import":
            return _import(args)
        index, settings = _index()
        if args.action == "ask":
            return _ask(index, settings, args)
        return _eval(index, settings, args)
    except UserError as error:
        errors.print(f"[red]error:[/red] {error}")
        return 2


def _settings() -> Any:
    from services.knowledge.settings import KnowledgeSettings

    return KnowledgeSettings(profile="development")


def _index() -> tuple[Any, Any]:
    from services.knowledge.search import load_index
    from shared.yamlfile import DataFileError

    settings = _settings()
    try:
        return load_index(settings.articles_path, settings.taxonomy_path), settings
    except DataFileError as error:
        raise UserError(f"the articles are not valid:\n{error}") from None


def answers_json(answers: list[Any], language: str, base_url: str) -> dict[str, Any]:
    from services.knowledge.domain import answer_views

    return {"answers": [view.model_dump(include=CLI_FIELDS) for view in answer_views(answers, language, base_url)]}


CLI_FIELDS = {"article", "title", "categories", "score"}


def _ask(index: Any, settings: Any, args: argparse.Namespace) -> int:
    if not args.question.strip():
        raise UserError("the question is empty")
    answers = index.search(args.question, date.today(), limit=args.limit)
    if args.json:
        sys.stdout.write(
            json.dumps(answers_json(answers, args.lang, settings.article_base_url), ensure_ascii=False) + "\n"
        )
        return 0
    if not answers:
        console.print("no article answers this question")
        return 0
    table = Table(title=f"answers to {args.question!r}")
    for column in ("article", "title", "categories", "score"):
        table.add_column(column, overflow="fold")
    for answer in answers:
        table.add_row(
            answer.article.id,
            answer.article.title.in_language(args.lang) + ("" if answer.current else "  (out of season)"),
            ", ".join(answer.article.categories),
            f"{answer.score:.2f}",
        )
    console.print(table)
    closes = settings.answer_threshold().confident(answers)
    console.print(f"automatic answer: {closes.article.id if closes else 'none (an operator answers)'}")
    return 0


@dataclass
class Evaluation:
    questions: int = 0
    top1: int = 0
    top3: int = 0
    seconds: float = 0.0
    # (best score, margin, the best was right, it is current) of each question, for the automatic answer.
    outcomes: list[tuple[Any, bool]] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def closing(self, threshold: Any) -> dict[str, Any]:
        closed = [right for answers, right in self.outcomes if threshold.confident(answers)]
        return {
            "min_score": threshold.min_score,
            "min_margin": threshold.min_margin,
            "closed": len(closed),
            "closed_share": _ratio(len(closed), self.questions),
            "wrong": closed.count(False),
            "wrong_share": _ratio(closed.count(False), len(closed)),
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def evaluate(index: Any, stream: IO[str], source: str, today: date) -> Evaluation:
    """UserError naming the line for a line that is not {"question", "article"} or names an unknown article."""
    known = index.library.by_id()
    evaluation = Evaluation()
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{source}:{number}: not JSON: {error.msg}") from None
        if not isinstance(item, dict) or not all(isinstance(item.get(key), str) for key in ("question", "article")):
            raise UserError(f'{source}:{number}: needs "question" and "article" strings')
        if item["article"] not in known:
            raise UserError(f"{source}:{number}: article: no article {item['article']!r}")
        started = time.perf_counter()
        answers = index.search(item["question"], today, limit=3)
        evaluation.seconds += time.perf_counter() - started
        found = [answer.article.id for answer in answers]
        evaluation.questions += 1
        evaluation.top1 += found[:1] == [item["article"]]
        evaluation.top3 += item["article"] in found
        evaluation.outcomes.append((answers, found[:1] == [item["article"]]))
        if found[:1] != [item["article"]]:
            evaluation.misses.append(
                {"line": number, "question": item["question"], "expected": item["article"], "found": found}
            )
    return evaluation


def _eval(index: Any, settings: Any, args: argparse.Namespace) -> int:
    from services.knowledge.domain import AnswerThreshold

    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    # The automatic answer is judged on every article as if current: the labelled questions are asked all year.
    with args.file.open(encoding="utf-8") as stream:
        evaluation = evaluate(index, stream, str(args.file), today=date.today())
    evaluation.outcomes = [
        ([type(answer)(answer.article, answer.score, True) for answer in answers], right)
        for answers, right in evaluation.outcomes
    ]
    figures: dict[str, Any] = {
        "questions": evaluation.questions,
        "top1": _ratio(evaluation.top1, evaluation.questions),
        "top3": _ratio(evaluation.top3, evaluation.questions),
        "automatic_answer": evaluation.closing(settings.answer_threshold()),
        "queries_per_second": round(evaluation.questions / evaluation.seconds) if evaluation.seconds else None,
    }
    if args.sweep:
        figures["sweep"] = [
            evaluation.closing(AnswerThreshold(score, margin))
            for score in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
            for margin in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
        ]
    if args.json:
        sys.stdout.write(json.dumps({**figures, "misses": evaluation.misses}, ensure_ascii=False) + "\n")
        return 0
    console.print(
        f"{figures['questions']} questions: top-1 {figures['top1']:.1%}, top-3 {figures['top3']:.1%} "
        f"({figures['queries_per_second']} questions/s)"
    )
    closing = figures["automatic_answer"]
    console.print(
        f"automatic answer (score >= {closing['min_score']}, margin >= {closing['min_margin']}): closes "
        f"{closing['closed']} ({closing['closed_share'] or 0:.1%}), wrong {closing['wrong']} "
        f"({closing['wrong_share'] or 0:.1%} of those closed)"
    )
    for row in figures.get("sweep", []):
        console.print(
            f"  score >= {row['min_score']}, margin >= {row['min_margin']}: closes {row['closed_share'] or 0:.1%}, "
            f"wrong {row['wrong_share'] or 0:.1%}"
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    from services.knowledge.articles import read_export, write_articles
    from shared.taxonomy import cached_taxonomy
    from shared.yamlfile import DataFileError

    settings = _settings()
    if not args.path.exists():
        raise UserError(f"{args.path}: no such file or folder")
    try:
        library = read_export(args.path, cached_taxonomy(settings.taxonomy_path).categories)
    except DataFileError as error:
        raise UserError(f"nothing imported; the export is not valid:\n{error}") from None
    folder = args.into or settings.articles_path
    written = write_articles(library, folder)
    console.print(f"imported {len(written)} articles into {folder}")
    return 0
