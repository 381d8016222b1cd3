"""The decide step of the classifier: what an appeal is about and how urgent. Pure: no I/O, no clock.

Rules are data (rules.yaml), validated on load into a compiled RuleSet; `classify` applies them.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.contracts.base import derived_event_id
from shared.contracts.classifier import AppealClassified, Classification, Urgency
from shared.contracts.intake import AppealRegistered
from shared.taxonomy import Taxonomy
from shared.textmatch import Term, TermIndex, compile_term, has_letters, tokenize

UNCLASSIFIED = "unclassified"
URGENCY_ORDER: tuple[Urgency, ...] = ("critical", "high", "normal", "low")


class RulesError(ValueError):
    """The rule file is not valid; the message names the file and the entry."""


class CategoryRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    default_urgency: Urgency = "normal"
    strong: list[str] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list)

    @field_validator("strong", "terms")
    @classmethod
    def _not_blank(cls, values: list[str]) -> list[str]:
        for value in values:
            if not has_letters(str(value)):
                raise ValueError(f"term {value!r} has no letters")
        return [str(value) for value in values]


class RuleFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str
    min_score: float = 1.0
    min_confidence: float = Field(0.55, ge=0, le=1)
    urgency: dict[Literal["critical", "high", "low"], list[str]]
    categories: dict[str, CategoryRules]


@dataclass(frozen=True)
class RuleSet:
    version: str
    min_score: float
    min_confidence: float
    default_urgency: dict[str, Urgency]
    categories: TermIndex
    urgency: TermIndex


def compile_rules(raw: dict[str, Any], taxonomy: Taxonomy, source: str = "rules") -> RuleSet:
    try:
        rule_file = RuleFile.model_validate(raw)
    except ValidationError as error:
        raise RulesError(f"{source}: {error}") from error
    unknown = [code for code in rule_file.categories if code not in taxonomy.categories]
    if unknown:
        raise RulesError(f"{source}: unknown category codes {unknown}")
    try:
        return _compile_rule_file(rule_file)
    except ValueError as error:
        raise RulesError(f"{source}: {error}") from error


def _compile_rule_file(rule_file: "RuleFile") -> RuleSet:
    terms: list[Term] = []
    for code, rules in rule_file.categories.items():
        if not rules.strong and not rules.terms:
            raise ValueError(f"category {code} has no terms")
        terms += [compile_term(code, raw_term, 2.0) for raw_term in dict.fromkeys(rules.strong)]
        terms += [
            compile_term(code, raw_term, 1.0) for raw_term in dict.fromkeys(rules.terms) if raw_term not in rules.strong
        ]
    markers = [compile_term(level, raw_term, 1.0) for level, values in rule_file.urgency.items() for raw_term in values]
    return RuleSet(
        version=rule_file.version,
        min_score=rule_file.min_score,
        min_confidence=rule_file.min_confidence,
        default_urgency={code: rules.default_urgency for code, rules in rule_file.categories.items()},
        categories=TermIndex(terms),
        urgency=TermIndex(markers),
    )


def load_rules(path: Path, taxonomy: Taxonomy) -> RuleSet:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RulesError(f"{path}: {error}") from error
    return compile_rules(raw, taxonomy, source=str(path))


def classify_text(text: str, rules: RuleSet) -> Classification:
    tokens = tokenize(text)
    scores: dict[str, float] = defaultdict(float)
    fired: dict[str, list[str]] = defaultdict(list)
    for term, matched in rules.categories.find(tokens):
        scores[term.label] += term.weight
        fired[term.label].append(matched)

    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best, best_score = ranked[0] if ranked else (UNCLASSIFIED, 0.0)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    confidence = best_score / (best_score + runner_up) if best_score else 0.0
    if best_score < rules.min_score or confidence < rules.min_confidence:
        best = UNCLASSIFIED

    markers = rules.urgency.find(tokens)
    levels = {term.label for term, _ in markers}
    default = rules.default_urgency.get(best, "normal")
    urgency: Urgency = default
    for level in ("critical", "high"):
        if level in levels and URGENCY_ORDER.index(level) < URGENCY_ORDER.index(urgency):
            urgency = level  # type: ignore[assignment]
            break
    if "low" in levels and not levels & {"critical", "high"} and best in {"information_request", "gratitude"}:
        urgency = "low"

    return Classification(
        category=best,
        urgency=urgency,
        confidence=round(confidence, 3),
        matched_rules=tuple(f"{code}:{score:g}" for code, score in ranked[:3]),
        matched_terms=tuple(dict.fromkeys(fired.get(best, []) + [m for _, m in markers]))[:20],
        ruleset=rules.version,
    )


def classify(event: AppealRegistered, rules: RuleSet, now: datetime) -> AppealClassified:
    event_id = derived_event_id("classified", event.event_id)
    classification = classify_text(event.text, rules).model_copy(
        update={"decision_id": str(event_id), "decided_at": now}
    )
    return AppealClassified(
        **event.model_dump(exclude={"event_id", "occurred_at", "schema_version"}),
        event_id=event_id,
        occurred_at=now,
        classification=classification,
    )
