from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.knowledge.articles import DEFAULT_ARTICLES
from services.knowledge.domain import AnswerThreshold
from shared.settings import ServiceSettings


class KnowledgeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_KNOWLEDGE_", extra="ignore", populate_by_name=True)

    service_name: str = "knowledge"
    http_port: int = 8005
    articles_path: Path = DEFAULT_ARTICLES
    # How often the articles folder is checked for changes (the index is rebuilt without a restart when valid).
    articles_reload_s: float = Field(5.0, gt=0)
    # Where a resident reads an article: the article's id is appended ("{base}/heating-season-start").
    article_base_url: str = "https://1551.gov.ua/kb"
    # The automatic answer's threshold (docs/knowledge.md: chosen on the dev questions so that at most 2 % of the
    # appeals it closes get a wrong article).
    answer_min_score: float = Field(4.0, ge=0)
    answer_min_margin: float = Field(0.4, ge=0, le=1)

    # The channels whose information requests the knowledge base answers by itself (web and apps: the resident reads
    # the article there); the others' go to the operators as before.
    answer_channels: tuple[str, ...] = ("web", "mobile", "superapp")

    def answer_threshold(self) -> AnswerThreshold:
        return AnswerThreshold(self.answer_min_score, self.answer_min_margin)
