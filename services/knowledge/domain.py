"""The knowledge service's decisions, pure: whether the best answer is good enough to close an appeal with it."""

from dataclasses import dataclass

from pydantic import BaseModel

from services.knowledge.search import Answer


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
