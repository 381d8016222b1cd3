"""The knowledge service's decisions, pure: whether the best answer is good enough to close an appeal with it, and
what a batch of assigned information requests gets."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from services.knowledge.search import Answer
from shared.contracts.base import derived_event_id
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import AppealAssigned
from shared.contracts.knowledge import ConsultationGiven


@dataclass(frozen=True, slots=True)
class AnswerThreshold:
    """The best answer closes an appeal on its own only when it is current, scores at least `min_score`, and leads
    the runner-up by at least `min_margin` of its own score (a close second means the question is ambiguous)."""

    min_score: float
    min_margin: float

    def margin(self, answers: list[Answer]) -> float:
        if not answers:
            return 0.0
        runner_up = answers[1].score if len(answers) > 1 else 0.0
        return (answers[0].score - runner_up) / answers[0].score

    def confident(self, answers: list[Answer]) -> Answer | None:
        """The answer to close the appeal with, or None: an operator answers."""
        if not answers or not answers[0].current:
            return None
        if answers[0].score >= self.min_score and self.margin(answers) >= self.min_margin:
            return answers[0]
        return None


class AnswerView(BaseModel):
    """One answer as the API and `cityline kb ask --json` show it."""

    article: str
    title: str
    categories: list[str]
    score: float
    url: str
    # Within the article's validity dates today (an article of next season's end is still shown, marked).
    current: bool


def answer_views(answers: list[Answer], language: str, base_url: str) -> list[AnswerView]:
    return [
        AnswerView(
            article=answer.article.id,
            title=answer.article.title.in_language(language),
            categories=list(answer.article.categories),
            score=answer.score,
            url=f"{base_url.rstrip('/')}/{answer.article.id}",
            current=answer.current,
        )
        for answer in answers
    ]


INFORMATION_REQUEST = "information_request"
CONTACT_CENTER = "contact_center"


@dataclass
class AutomaticAnswers:
    """What a batch of assigned appeals gets from the knowledge base: the consultations to store, the contact
    center's reports (`resolved`, with the article's title and link: the notifier sends it as the answer), and how
    many information requests were left to the operators."""

    consultations: list[ConsultationGiven] = field(default_factory=list)
    reports: list[DepartmentUpdate] = field(default_factory=list)
    referred: int = 0


def answer_text(answer: Answer, language: str, base_url: str) -> str:
    return f"{answer.article.title.in_language(language)}: {base_url.rstrip('/')}/{answer.article.id}"


def answer_information_requests(
    batch: list[AppealAssigned],
    search: Callable[[str], list[Answer]],
    threshold: AnswerThreshold,
    channels: frozenset[str],
    base_url: str,
    now: datetime,
) -> AutomaticAnswers:
    """Each information request from a web or app channel that the contact center was assigned, answered with the
    best article when that one is clearly good enough; the others stay with the operators, as before. Event ids
    derive from the assignment's, so a redelivered batch gives the same events."""
    decided = AutomaticAnswers()
    for assigned in batch:
        if (
            assigned.classification.category != INFORMATION_REQUEST
            or assigned.channel not in channels
            or assigned.assignment.department != CONTACT_CENTER
            or assigned.assignment.outcome != "assigned"
        ):
            continue
        best = threshold.confident(search(assigned.text))
        if best is None:
            decided.referred += 1
            continue
        language = assigned.contact.language if assigned.contact else "uk"
        decided.reports.append(
            DepartmentUpdate(
                event_id=derived_event_id("automatic-answer", assigned.event_id),
                correlation_id=assigned.correlation_id,
                appeal_id=assigned.appeal_id,
                department=CONTACT_CENTER,
                status="resolved",
                comment=answer_text(best, language, base_url),
            )
        )
        decided.consultations.append(
            ConsultationGiven(
                event_id=derived_event_id("automatic-consultation", assigned.event_id),
                correlation_id=assigned.correlation_id,
                channel=assigned.channel,
                category=INFORMATION_REQUEST,
                article=best.article.id,
                given_by="automatic",
                appeal_id=assigned.appeal_id,
                given_at=now,
            )
        )
    return decided


NOT_HELPED = "the resident says the automatic answer did not help"


def not_helped_report(appeal_id: str) -> DepartmentUpdate:
    """The contact center sends back to its operators an appeal it closed with an article that did not help: a
    `misrouted` report with no suggestion goes to triage. One per appeal, whatever the resident repeats."""
    return DepartmentUpdate(
        event_id=derived_event_id("not-helped", appeal_id),
        appeal_id=appeal_id,
        department=CONTACT_CENTER,
        status="misrouted",
        comment=NOT_HELPED,
    )
