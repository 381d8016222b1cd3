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


class SecondOpinion(BaseModel):
    """What the learned model (trained on labelled appeals and operators' triage decisions) thinks of the appeal,
    beside the rules' decision. It never decides by itself: it flags a disagreement."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    model: str  # the model's version, "<trained on>@<training data hash>"
    category: Code
    urgency: Urgency
    # How far the model's category leads its runner-up (decision-function units; under ~0.3 it is unsure).
    margin: float = 0.0
    agrees: bool = True  # the same category as the rules


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
    # Added with schema_version 1 (additive; older consumers ignore them, older documents read with the defaults):
    # the learned model's opinion, if a model is loaded; `flagged` when it disagrees with the rules. A flagged
    # appeal whose rules' confidence is also low is held for a person: `category` is then `unclassified` and
    # `rules_category` keeps what the rules chose.
    second_opinion: SecondOpinion | None = None
    flagged: bool = False
    rules_category: Code | None = None
    # The category chosen when the appeal was filed, and whose choice it was: a resident's counts as a hint in the
    # scores (rule `hint.requested_category`), an operator's at the desk is the decision (`decided_by` operator).
    requested_category: Code | None = None
    requested_by: Literal["resident", "operator"] | None = None


class AppealClassified(AppealRegistered):
    """The registered appeal with its classification, so the dispatcher needs no read."""

    classification: Classification
