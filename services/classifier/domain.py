"""The decide step of the classifier: what an appeal is about and how urgent. Pure: no I/O, no clock.

Rules are data (rules.yaml, compiled by ruleset.py). Each category's score is the sum of the weights of its rules
that fired; a rule whose words are all in a clause saying the problem is solved ("світло вже дали") counts only
`resolved_factor` of its weight, so with several problems the one still open wins. Too low a score, or a close
runner-up, gives `unclassified`: a person decides, never a silent guess.
"""

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from services.classifier.ruleset import UNCLASSIFIED, Hit, Rule, RulesError, RuleSet, parse_rules
from shared.appeals import registration_fields
from shared.contracts.base import derived_event_id
from shared.contracts.classifier import AppealClassified, Classification, FiredRule, SecondOpinion, Urgency, most_urgent
from shared.contracts.intake import AppealRegistered
from shared.language import Analysed

__all__ = [
    "DEFAULT_POLICY",
    "Policy",
    "RuleSet",
    "RulesError",
    "classify",
    "classify_text",
    "parse_rules",
    "weigh_second_opinion",
]

HINT_RULE = "hint.requested_category"


# The engine builds these from its own rule ids and words: no input to validate, and a decision builds dozens.
_fired = FiredRule.model_construct
_NOT_CARRIED = frozenset({"event_id", "occurred_at", "schema_version"})


def _negated(analysed: Analysed, first: int, rules: RuleSet) -> bool:
    """A negation word within the window before the match, in the same clause ("газом не пахне" is not)."""
    words = analysed.words
    clause = words[first].clause
    for position in range(max(0, first - rules.negation_window), first):
        if words[position].clause == clause and words[position].text in rules.negations:
            return True
    return False


_SENTENCE_END = re.compile(r"[.!?\n]")


def _in_question(analysed: Analysed, first: int) -> bool:
    """The sentence of the word ends with "?" ("Чи є у вас психолог, який ...?" asks, it does not say it is there)."""
    end = _SENTENCE_END.search(analysed.text, analysed.words[first].start)
    return end is not None and end.group() == "?"


def _alternated(analysed: Analysed, first: int, rules: RuleSet) -> bool:
    """ "То є, то нема": the word before the statement makes it one side of an alternation."""
    return first > 0 and analysed.words[first - 1].text in rules.alternation


def _resolved_clauses(analysed: Analysed, hits: list[Hit], rules: RuleSet) -> set[int]:
    return {
        hit.clause
        for hit in hits
        if not _negated(analysed, hit.first, rules)
        and not _in_question(analysed, hit.first)
        and not _alternated(analysed, hit.first, rules)
    }


def _landmark_positions(hits: list[Hit], places: list[Hit], analysed: Analysed) -> set[int]:
    """Indexes of words that may begin a landmark: the one or two words after "біля", "возле", "near", in the same
    clause and up to a verb ("біля будинку прорвало трубу": the pipe burst, the house is the landmark); and the
    words of a place phrase ("на зупинці")."""
    words = analysed.words
    positions: set[int] = set()
    for hit in hits:
        # "біля зупинки": the next two words; "до метро": the landmark's own last word and the two after it.
        positions |= set(range(hit.first + 1, hit.last + 1))
        for position in range(hit.last + 1, min(hit.last + 3, len(words))):
            if words[position].verb or words[position].clause != hit.clause:
                break
            positions.add(position)
    for hit in places:
        positions |= set(range(hit.first, hit.last + 1))
    return positions


def _regex_hits(analysed: Analysed, rules: RuleSet) -> list[tuple[Rule, str, int, int]]:
    """(rule, matched text, clause, first word index) for every regex match."""
    starts = [word.start for word in analysed.words]
    found = []
    for rule in rules.regex_rules:
        for pattern in rule.regex:
            for match in pattern.finditer(analysed.text):
                first = max(bisect.bisect_right(starts, match.start()) - 1, 0)
                found.append((rule, match.group(), analysed.clause_at(match.start()), first))
    return found


class _Evidence:
    """What fired for each rule: its words and whether any of them is in the foreground (not in a clause that says
    it is solved, not a landmark)."""

    def __init__(self) -> None:
        self.words: dict[str, list[str]] = defaultdict(list)
        self.open: dict[str, bool] = defaultdict(bool)
        self.background: dict[str, str] = {}  # why a rule with no word in the foreground counts less

    def add(self, rule_id: str, matched: str, resolved: bool, landmark: bool) -> None:
        if matched not in self.words[rule_id]:
            self.words[rule_id].append(matched)
        self.open[rule_id] |= not (resolved or landmark)
        if resolved or landmark:
            self.background.setdefault(rule_id, "resolved" if resolved else "landmark")


def classify_text(text: str, rules: RuleSet, requested_category: str | None = None) -> Classification:
    """`requested_category`: the category the resident chose when filing, a hint worth
    `rules.requested_category_weight` in the scores (shown as the rule `hint.requested_category`)."""
    analysed = rules.lexicon.analyse(text, rules.clause_words, rules.spellings, rules.english)
    by_kind: dict[str, list[Hit]] = defaultdict(list)
    for hit in rules.terms.find(analysed):
        by_kind[hit.term.kind].append(hit)
    resolved = _resolved_clauses(analysed, by_kind["resolved"], rules)
    category_hits = [(hit.term.rule, hit.matched, hit.clause, hit.first) for hit in by_kind["category"]]
    marker_hits = [(hit.term.rule, hit.matched, hit.clause, hit.first) for hit in by_kind["urgency"]]
    for rule, matched, clause, first in _regex_hits(analysed, rules):
        target = marker_hits if rule.id.startswith("urgency.") else category_hits
        target.append((rule.id, matched, clause, first))

    landmarks = _landmark_positions(by_kind["landmark"], by_kind["place"], analysed)
    categories = _Evidence()
    for rule_id, matched, clause, first in category_hits:
        categories.add(rule_id, matched, resolved=clause in resolved, landmark=first in landmarks)

    fired: list[FiredRule] = []
    scores: dict[str, float] = defaultdict(float)
    # Rule ids and category codes whose exclusions are in the text.
    excluded = {hit.term.rule for hit in by_kind["exclude"]}
    counted = {
        rule_id: rules.rules[rule_id]
        for rule_id in categories.words
        if rule_id not in excluded and rules.rules[rule_id].category not in excluded
    }
    # When every subject is in a "solved" clause, the complaint that follows is about one of them after all
    # ("Укриття відчинене, дякуємо, але там немає вентиляції").
    anything_open = any(
        categories.open[rule_id] or rule.category in rules.counts_when_resolved for rule_id, rule in counted.items()
    )
    for rule_id, words in categories.words.items():
        rule = rules.rules[rule_id]
        if rule_id not in counted:
            fired.append(_fired(rule=rule_id, words=tuple(words), discounted="excluded"))
            continue
        is_open = categories.open[rule_id] or not anything_open or rule.category in rules.counts_when_resolved
        factor = 1.0 if is_open else rules.resolved_factor
        # More different words of one rule make it likelier the subject, up to half its weight again.
        score = rule.weight * factor * min(1.5, 1 + 0.25 * (len(words) - 1))
        scores[rule.category] += score
        discounted = "" if factor == 1 else categories.background.get(rule_id, "resolved")
        fired.append(_fired(rule=rule_id, words=tuple(words), score=score, discounted=discounted))

    lead = _lead_category(category_hits, counted, landmarks, resolved)
    if lead is not None and rules.lead_bonus:
        # Residents name the main problem first: the first subject in the foreground gets a small lead.
        scores[lead] += rules.lead_bonus
        fired.append(_fired(rule=f"{lead}.named_first", words=(lead,), score=rules.lead_bonus))
    if requested_category is not None and requested_category != UNCLASSIFIED and rules.requested_category_weight:
        scores[requested_category] += rules.requested_category_weight
        fired.append(_fired(rule=HINT_RULE, words=(requested_category,), score=rules.requested_category_weight))
    category, confidence = _decide(scores, rules)
    urgency, markers = _urgency(category, marker_hits, analysed, resolved, excluded, rules)
    fired += markers
    winners = [
        rule
        for rule in fired
        if rule.rule.startswith(f"{category}.") and not rule.discounted and rule.rule in rules.rules
    ]
    counted_markers = [rule for rule in markers if not rule.discounted]
    return Classification(
        category=category,
        urgency=urgency,
        confidence=round(confidence, 3),
        matched_rules=tuple(rule.rule for rule in winners + counted_markers),
        matched_terms=tuple(dict.fromkeys(word for rule in winners + counted_markers for word in rule.words))[:20],
        ruleset=rules.version,
        fired=tuple(fired),
        scores={code: round(score, 3) for code, score in sorted(scores.items(), key=lambda item: -item[1])},
        requested_category=requested_category,
        requested_by="resident" if requested_category else None,
    )


@dataclass(frozen=True)
class Policy:
    """How the rules' decision meets the second opinion and the category chosen at filing.

    triage_below: a flagged appeal (the model disagrees with the rules) whose rules' confidence is under this goes
    to a person; operator_channels: channels where the category chosen at filing is an operator's decision."""

    triage_below: float = 0.6
    operator_channels: frozenset[str] = frozenset({"phone"})


DEFAULT_POLICY = Policy()


def weigh_second_opinion(
    classification: Classification, opinion: SecondOpinion | None, policy: Policy
) -> Classification:
    """The rules' decision with the model's opinion beside it: flagged when they disagree, held for a person
    (`unclassified`, the rules' choice kept in `rules_category`) when the rules were unsure as well. The urgency
    stays the rules': a danger the rules saw must not wait for the model to agree."""
    if opinion is None:
        return classification
    rules_category = classification.category
    agrees = opinion.category == rules_category
    update: dict = {"second_opinion": opinion.model_copy(update={"agrees": agrees})}
    if not agrees and rules_category != UNCLASSIFIED:
        update["flagged"] = True
        if classification.confidence < policy.triage_below:
            update |= {"category": UNCLASSIFIED, "rules_category": rules_category}
    return classification.model_copy(update=update)


def _decided_at_desk(classification: Classification, requested: str) -> Classification:
    """An operator at the desk chose the category: it decides, recorded as the operator's, the rules' explanation
    kept beside it."""
    return classification.model_copy(
        update={
            "category": requested,
            "decided_by": "operator",
            "requested_by": "operator",
            "rules_category": rules_choice
            if (rules_choice := classification.rules_category or classification.category) != requested
            else None,
        }
    )


def _lead_category(
    hits: list[tuple[str, str, int, int]],
    counted: dict[str, Rule],
    landmarks: set[int],
    resolved: set[int],
) -> str | None:
    foreground = [
        (first, counted[rule_id].category)
        for rule_id, _matched, clause, first in hits
        if rule_id in counted and clause not in resolved and first not in landmarks
    ]
    return min(foreground)[1] if foreground else None


def _decide(scores: dict[str, float], rules: RuleSet) -> tuple[str, float]:
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    if not ranked or ranked[0][1] <= 0:
        return UNCLASSIFIED, 0.0
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    share = best_score / (best_score + runner_up)
    confidence = share * min(1.0, best_score / rules.confident_score)
    # A tie is ambiguous whatever min_confidence allows: picking one would be a silent guess.
    if best_score < rules.min_score or share < rules.min_confidence or math.isclose(best_score, runner_up):
        return UNCLASSIFIED, confidence
    return best, confidence


def _urgency(
    category: str,
    hits: list[tuple[str, str, int, int]],
    analysed: Analysed,
    resolved: set[int],
    excluded: set[str],
    rules: RuleSet,
) -> tuple[Urgency, list[FiredRule]]:
    default: Urgency = rules.default_urgency.get(category, "normal")
    if category == UNCLASSIFIED or category in rules.fixed_urgency:
        return default, []
    words: dict[str, list[str]] = defaultdict(list)
    discounted: dict[str, str] = {}
    for rule_id, matched, clause, first in hits:
        rule = rules.rules[rule_id]
        if rule.only and category not in rule.only:
            continue
        # Only danger is negated ("газом не пахне"); for a missing service the negation is the complaint itself.
        if rule.category == "critical" and _negated(analysed, first, rules):
            reason = "negated"
        else:
            reason = "resolved" if clause in resolved else ""
        if matched not in words[rule_id]:
            words[rule_id].append(matched)
        # A marker counts when any of its matches counts, unless its exclusions are in the text.
        discounted[rule_id] = "" if not reason or discounted.get(rule_id) == "" else reason
        if rule_id in excluded:
            discounted[rule_id] = "excluded"
    markers = [
        _fired(rule=rule_id, words=tuple(found), discounted=discounted[rule_id]) for rule_id, found in words.items()
    ]
    levels = [rules.rules[marker.rule].category for marker in markers if not marker.discounted]
    if not levels:
        return default, markers
    return most_urgent(*levels), markers


def classify(
    event: AppealRegistered,
    rules: RuleSet,
    now: datetime,
    opinion: SecondOpinion | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> AppealClassified:
    """`opinion`: the learned model's for this text (computed for the whole batch by the handler), if one is loaded."""
    event_id = derived_event_id("classified", event.event_id)
    requested = event.requested_category
    at_desk = requested is not None and requested != UNCLASSIFIED and event.channel in policy.operator_channels
    # An operator's choice is no hint to the rules: they decide on the text alone, and the operator overrides.
    classification = classify_text(event.text, rules, None if at_desk else requested)
    classification = weigh_second_opinion(classification, opinion, policy)
    if at_desk:
        classification = _decided_at_desk(classification, requested)  # type: ignore[arg-type]
    classification = classification.model_copy(update={"decision_id": str(event_id), "decided_at": now})
    # The registered event's own fields as they are (a shallow copy): dumping nested models to dicts only to
    # validate them again cost about 5 % of the decision (167 -> 158 µs of CPU).
    carried = {name: value for name, value in event if name not in _NOT_CARRIED}
    return AppealClassified(
        **carried,
        event_id=event_id,
        occurred_at=now,
        classification=classification,
    )


def classified_from_records(appeal: dict, decision: dict) -> AppealClassified:
    """The classified event as first published, rebuilt from the stored appeal and the stored decision."""
    return AppealClassified(
        event_id=decision["_id"],
        occurred_at=decision["at"],
        **registration_fields(appeal),
        classification=Classification(**decision["classification"]),
    )
