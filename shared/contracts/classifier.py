"""Events of the classifier."""

from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import Code
from shared.contracts.intake import AppealRegistered

Urgency = Literal["critical", "high", "normal", "low"]
# The most urgent first.
URGENCY_ORDER: tuple[Urgency, ...] = get_args(Urgency)


def most_urgent(*levels: Urgency) -> Urgency:
    return min(levels, key=URGENCY_ORDER.index)


class FiredRule(BaseModel):
    """One rule of the classifier's rule file that fired, with the words that made it fire."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rule: str  # "heating.radiators", or an urgency marker "urgency.critical.gas_smell"
    words: tuple[str, ...] = ()
    score: float = 0.0  # what it added to its category's score (0 for urgency markers)
    # Why it counted less or not at all: "resolved" (the text says it is solved or not the subject), "landmark"
    # ("біля зупинки"), "negated" (a danger marker after "не"), "excluded" (an exclusion term is in the text).
    discounted: str = ""


class Classification(BaseModel):
    """What the appeal is about, how urgent it is, and why the classifier thinks so."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    category: Code
    urgency: Urgency
    confidence: float = Field(ge=0.0, le=1.0)
    matched_rules: tuple[str, ...] = ()
    matched_terms: tuple[str, ...] = ()
    ruleset: str = ""
    # Who decided: the rule engine or an operator in manual triage.
    decided_by: Literal["rules", "operator"] = "rules"
    # The decision's own id (the AppealClassified event id) and time, as kept in `classifications`.
    decision_id: str = ""
    decided_at: AwareDatetime | None = None
    # The explanation in full: every rule that fired or was discounted, and each category's score.
    fired: tuple[FiredRule, ...] = ()
    scores: dict[str, float] = Field(default_factory=dict)


class AppealClassified(AppealRegistered):
    """The registered appeal with its classification, so the dispatcher needs no read."""

    classification: Classification
