"""Events of the classifier."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import Code
from shared.contracts.intake import AppealRegistered

Urgency = Literal["critical", "high", "normal", "low"]


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


class AppealClassified(AppealRegistered):
    """The registered appeal with its classification, so the dispatcher needs no read."""

    classification: Classification
