"""The knowledge base's articles: Markdown files with a YAML header, validated on load.

An article file is a header between two `---` lines and a Markdown body:

    ---
    id: heating-season-start          # the file is named after it: heating-season-start.md
    title: {uk: ..., ru: ..., en: ...}
    categories: [heating]             # taxonomy category codes
    keywords: [...]                   # words and phrases residents use
    questions: [...]                  # typical questions the article answers
    valid_from: 2026-10-01            # optional: the article is current only between these days
    valid_until: 2027-04-30
    source: who wrote it or where it comes from
    sample: true                      # sample content shipped with CityLine, not a city's own
    ---
    The answer, in Markdown.

`load_library(folder, categories)` refuses a folder with any invalid file, naming each file, line and field, so a
caller keeps the last good library. A city's export (a folder of such files, or JSON Lines with the same fields and
a `body`) is validated the same way by `read_export` and written into the articles folder by `write_articles`.
"""

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.yamlfile import DataFileError, Locator, load_located

DEFAULT_ARTICLES = Path(__file__).parent / "articles"
ARTICLE_ID = r"^[a-z0-9][a-z0-9-]{1,79}$"
_FENCE = "---"


class ArticleTitle(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    uk: str = Field(min_length=1, max_length=200)
    ru: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)

    def in_language(self, language: str) -> str:
        return getattr(self, language, self.uk)


class Article(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ARTICLE_ID)
    title: ArticleTitle
    categories: tuple[str, ...] = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None
    source: str = Field(min_length=1, max_length=500)
    sample: bool = False
    body: str = Field(min_length=1)

    @model_validator(mode="after")
    def _validity_in_order(self) -> "Article":
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self

    def current_on(self, day: date) -> bool:
        """Within its validity dates (a heating season's article is current only in that season)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    def searchable_text(self) -> dict[str, str]:
        """The article's text by field, for the index (which weighs the fields differently)."""
        return {
            "title": " ".join((self.title.uk, self.title.ru, self.title.en)),
            "keywords": " . ".join(self.keywords),
            "questions": " . ".join(self.questions),
            "body": self.body,
        }

    def as_markdown(self) -> str:
        import yaml

        header = self.model_dump(mode="json", exclude={"body"}, exclude_none=True)
        dumped = yaml.safe_dump(header, allow_unicode=True, sort_keys=False, width=120)
        return f"{_FENCE}\n{dumped}{_FENCE}\n\n{self.body.strip()}\n"


@dataclass(frozen=True)
class Library:
    articles: tuple[Article, ...]

    def by_id(self) -> dict[str, Article]:
        return {article.id: article for article in self.articles}


def split_front_matter(text: str, source: str) -> tuple[str, str]:
    """(header YAML, body) of an article file; DataFileError naming the file when the header is missing."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != _FENCE:
        raise DataFileError(f"{source}:1: an article starts with a '---' line, then its header, then '---'")
    for number, line in enumerate(lines[1:], start=1):
        if line.strip() == _FENCE:
            return "\n".join(lines[1:number]), "\n".join(lines[number + 1 :]).strip()
    raise DataFileError(f"{source}:1: the header's closing '---' line is missing")


def _errors(error: ValidationError, locator: Locator) -> list[str]:
    found = []
    for issue in error.errors():
        path = [part for part in issue["loc"] if not (isinstance(part, str) and "[" in part)]
        field = ".".join(str(part) for part in path) or "header"
        found.append(f"{locator.where(path)}: {field}: {issue['msg']}")
    return found


def _check_categories(article: Article, categories: Collection[str], where: str) -> list[str]:
    unknown = [code for code in article.categories if code not in categories]
    return [f"{where}: categories: unknown category {code!r} (see the taxonomy)" for code in unknown]


def parse_article(text: str, source: str, categories: Collection[str]) -> Article:
    """One article file; DataFileError with one line per problem, each naming the file, the line and the field."""
    header_text, body = split_front_matter(text, source)
    # A blank first line for the opening '---', so the header's lines are the file's lines.
    header, locator = load_located("\n" + header_text, source)
    if not isinstance(header, dict):
        raise DataFileError(f"{source}:2: header: the header is a mapping of fields (id, title, categories, ...)")
    try:
        article = Article.model_validate({**header, "body": body})
    except ValidationError as error:
        raise DataFileError("\n".join(_errors(error, locator))) from None
    problems = _check_categories(article, categories, locator.where(["categories"]))
    stem = Path(source).stem
    if stem != article.id and source.endswith(".md"):
        problems.append(f"{locator.where(['id'])}: id: {article.id!r} differs from the file name {stem!r}")
    if problems:
        raise DataFileError("\n".join(problems))
    return article


def _unique(articles: Iterable[tuple[str, Article]]) -> Library:
    seen: dict[str, str] = {}
    problems, kept = [], []
    for source, article in articles:
        if article.id in seen:
            problems.append(f"{source}: id: {article.id!r} is already the id of {seen[article.id]}")
        seen.setdefault(article.id, source)
        kept.append(article)
    if problems:
        raise DataFileError("\n".join(problems))
    return Library(tuple(sorted(kept, key=lambda article: article.id)))


def read_folder(folder: Path, categories: Collection[str]) -> Library:
    """Every `*.md` article of a folder; DataFileError listing every problem of every file."""
    if not folder.is_dir():
        raise DataFileError(f"{folder}: no such folder of articles")
    problems: list[str] = []
    parsed: list[tuple[str, Article]] = []
    for path in sorted(folder.glob("*.md")):
        try:
            parsed.append((str(path), parse_article(path.read_text(encoding="utf-8"), str(path), categories)))
        except (DataFileError, UnicodeDecodeError) as error:
            problems.append(str(error) if isinstance(error, DataFileError) else f"{path}:1: not UTF-8 text")
    if problems:
        raise DataFileError("\n".join(problems))
    if not parsed:
        raise DataFileError(f"{folder}: no article files (*.md)")
    return _unique(parsed)


def read_json_lines(path: Path, categories: Collection[str]) -> Library:
    """A JSON Lines export: one article object (the header's fields and `body`) a line."""
    problems: list[str] = []
    parsed: list[tuple[str, Article]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data: Any = json.loads(line)
            article = Article.model_validate(data)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON: {error.msg}")
            continue
        except ValidationError as error:
            problems += [
                f"{where}: {'.'.join(str(part) for part in issue['loc']) or 'line'}: {issue['msg']}"
                for issue in error.errors()
            ]
            continue
        problems += _check_categories(article, categories, where)
        parsed.append((where, article))
    if problems:
        raise DataFileError("\n".join(problems))
    return _unique(parsed)


def read_export(path: Path, categories: Collection[str]) -> Library:
    """A city's export: a folder of Markdown articles or a JSON Lines file."""
    return read_folder(path, categories) if path.is_dir() else read_json_lines(path, categories)


def write_articles(library: Library, folder: Path) -> list[Path]:
    """Each article as `<id>.md` in the folder (an article of the same id is replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for article in library.articles:
        path = folder / f"{article.id}.md"
        path.write_text(article.as_markdown(), encoding="utf-8")
        written.append(path)
    return written
