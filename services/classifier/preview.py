"""The classifier's live preview over HTTP: what it would decide for a text, with the full explanation.

The operator console shows it while an operator types. It is the handler's own decide step (`classify_text` with the
rules in force), so the preview and the later decision cannot disagree; nothing is stored or published.
"""

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from services.classifier.domain import DEFAULT_POLICY, Policy, RuleSet, classify_text, weigh_second_opinion
from services.classifier.opinion import LearnedModel
from shared.contracts.base import Code
from shared.contracts.classifier import Classification
from shared.contracts.intake import AppealText, Language


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: AppealText
    # Accepted for the caller's record: the rules read Ukrainian, Russian and English words alike, so the
    # decision does not depend on it (an unknown language is still refused).
    language: Language | None = None
    # The category the resident chose, if any: weighs in as it will in the decision.
    requested_category: Code | None = None


class PreviewResponse(BaseModel):
    classification: Classification


def build_preview_app(
    rules: Callable[[], RuleSet],
    model: LearnedModel | None = None,
    policy: Policy = DEFAULT_POLICY,
    dependencies: Sequence[Any] = (),
) -> FastAPI:
    """`rules` gives the rules in force (the RuleBook); `model` the second opinion, if loaded; `dependencies` guard
    every route (the staff token). The explanation shows the rules' decision and the model's opinion side by side."""
    app = FastAPI(
        title="CityLine classifier preview",
        description="What the classifier would decide for a text, and why. Nothing is stored.",
        dependencies=list(dependencies),
    )

    @app.post("/v1/preview", response_model=PreviewResponse)
    async def preview(request: PreviewRequest) -> PreviewResponse:
        classification = classify_text(request.text, rules(), request.requested_category)
        opinion = model.opinions([request.text])[0] if model else None
        return PreviewResponse(classification=weigh_second_opinion(classification, opinion, policy))

    return app
