"""The knowledge base offline: article files refused with file, line and field named; the search over lemmas,
typos, surzhyk and Latin letters; the automatic answer's threshold; `cityline kb ask/eval/import`."""

import json
from datetime import date
from pathlib import Path

import pytest

from cityline.cli import main
from services.knowledge.articles import DEFAULT_ARTICLES, parse_article, read_export, read_folder
from services.knowledge.domain import AnswerThreshold
from services.knowledge.search import Answer, KnowledgeIndex
from shared.language import Lexicon
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import load_taxonomy
from shared.yamlfile import DataFileError
from tests.unit.fakes import NOW

CATEGORIES = load_taxonomy(DEFAULT_TAXONOMY).categories
TODAY = date(2026, 12, 2)

GOOD = """---
id: night-buses
title: {uk: Нічні автобуси, ru: Ночные автобусы, en: Night buses}
categories: [public_transport]
keywords: [нічний автобус, ночной автобус]
questions: ["Чи ходять автобуси вночі?"]
source: a test
---
Нічні автобуси ходять щогодини.
"""


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return KnowledgeIndex(read_folder(DEFAULT_ARTICLES, CATEGORIES), Lexicon())


def test_the_shipped_articles_are_valid_and_many_and_marked_as_samples():
    library = read_folder(DEFAULT_ARTICLES, CATEGORIES)
    assert len(library.articles) >= 60
    assert all(article.sample for article in library.articles)


def test_a_good_article_parses_with_every_field():
    article = parse_article(GOOD, "night-buses.md", CATEGORIES)
    assert article.title.ru == "Ночные автобусы" and article.categories == ("public_transport",)
    assert article.body == "Нічні автобуси ходять щогодини."


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (("[public_transport]", "[buses]"), "night-buses.md:4: categories: unknown category 'buses'"),
        ((", en: Night buses", ""), "night-buses.md:3: title.en: Field required"),
        (("source: a test\n", ""), "night-buses.md:2: source: Field required"),
        (("id: night-buses", "id: Night Buses"), "night-buses.md:2: id: String should match pattern"),
        (("id: night-buses", "id: day-buses"), "night-buses.md:2: id: 'day-buses' differs from the file name"),
        (("a test", "a test\nvalid_from: 2027-05-01\nvalid_until: 2027-04-01"), "valid_until is before valid_from"),
        (("a test", "a test\nautor: me"), "night-buses.md:8: autor: Extra inputs are not permitted"),
        (("keywords: [нічний", "keywords: [[нічний"), "not valid YAML"),
        (("---\nid", "id"), "night-buses.md:1: an article starts with a '---' line"),
    ],
)  # fmt: skip
def test_a_wrong_article_is_refused_naming_the_file_the_line_and_the_field(broken, expected):
    with pytest.raises(DataFileError) as refused:
        parse_article(GOOD.replace(*broken, 1), "night-buses.md", CATEGORIES)
    assert expected in str(refused.value)


def test_a_folder_with_one_bad_file_is_refused_whole_naming_it(tmp_path):
    (tmp_path / "night-buses.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "broken.md").write_text("no header", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"broken\.md:1"):
        read_folder(tmp_path, CATEGORIES)


def test_a_json_lines_export_names_the_line_of_a_bad_article(tmp_path):
    export = tmp_path / "export.jsonl"
    good = parse_article(GOOD, "night-buses.md", CATEGORIES).model_dump(mode="json")
    export.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "x-y", "categories": []}) + "\n")
    with pytest.raises(DataFileError, match=r"export\.jsonl:2: categories"):
        read_export(export, CATEGORIES)


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("коли дадуть опалення", "heating-season-start"),
        ("когда включат отопление", "heating-season-start"),  # Russian
        ("koly dadut svitlo", "electricity-outage-schedule"),  # Latin letters
        ("кагда включат атапление", "heating-season-start"),  # spelt as heard
        ("графiк вiдключень свiтла", "electricity-outage-schedule"),  # Latin "i" inside Cyrillic words
        ("де найближче укритя", "shelters-find-nearest"),  # a typo
        ("where is the nearest shelter", "shelters-find-nearest"),  # English
    ],
)
def test_the_search_finds_the_article_however_the_resident_writes(index, question, article):
    assert index.search(question, TODAY)[0].article.id == article


@pytest.mark.parametrize("question", ["", "   ", "як що де", "!!!", "قطع الكهرباء", "停电", "🙂" * 50, "1551 1551"])
def test_a_question_with_nothing_the_articles_hold_gets_no_answers(index, question):
    assert index.search(question, TODAY) == []


def test_answers_are_ranked_and_say_whether_the_article_is_current(index):
    answers = index.search("коли закінчиться опалювальний сезон", TODAY, limit=3)
    assert [answer.score for answer in answers] == sorted((answer.score for answer in answers), reverse=True)
    season_end = next(answer for answer in answers if answer.article.id == "heating-season-end")
    assert season_end.current is False  # valid from March
    assert index.search("коли закінчиться опалювальний сезон", date(2027, 4, 1))[0].current is True


def _answers(*scores: float, current: bool = True) -> list[Answer]:
    article = parse_article(GOOD, "night-buses.md", CATEGORIES)
    return [Answer(article, score, current) for score in scores]


@pytest.mark.parametrize(
    ("scores", "current", "closes"),
    [
        ((8.0, 2.0), True, True),
        ((8.0, 6.0), True, False),
        ((3.0,), True, False),
        ((8.0,), False, False),
        ((), True, False),
    ],
)
def test_the_automatic_answer_needs_a_current_article_a_high_score_and_a_clear_lead(scores, current, closes):
    assert (AnswerThreshold(4.0, 0.4).confident(_answers(*scores, current=current)) is not None) is closes


def test_kb_ask_prints_the_answers_as_json(capsys):
    assert main(["kb", "ask", "коли дадуть опалення", "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)["answers"]
    assert answers[0] == {
        "article": "heating-season-start",
        "title": "Коли починається опалювальний сезон",
        "categories": ["heating"],
        "score": answers[0]["score"],
    }
    assert answers[0]["score"] > answers[-1]["score"]


def test_kb_eval_prints_top_1_and_top_3(tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "коли дадуть опалення", "article": "heating-season-start"}\n'
        '{"question": "коли дадуть опалення", "article": "metro-hours"}\n'
    )
    assert main(["kb", "eval", str(questions), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["questions"], figures["top1"], figures["top3"]) == (2, 0.5, 0.5)


def test_kb_eval_names_the_line_of_an_unknown_article(tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "a", "article": "heating-season-start"}\n{"question": "b", "article": "nope"}\n')
    assert main(["kb", "eval", str(questions)]) == 2
    assert "q.jsonl:2: article: no article 'nope'" in capsys.readouterr().err.replace("\n", " ")


def test_kb_import_writes_a_valid_export_and_nothing_of_an_invalid_one(tmp_path, capsys):
    export, into = tmp_path / "export", tmp_path / "articles"
    export.mkdir()
    (export / "night-buses.md").write_text(GOOD, encoding="utf-8")
    assert main(["kb", "import", str(export), "--into", str(into)]) == 0
    assert parse_article((into / "night-buses.md").read_text(), "night-buses.md", CATEGORIES).title.en == "Night buses"
    (export / "bad.md").write_text(GOOD.replace("[public_transport]", "[nope]"), encoding="utf-8")
    (into / "night-buses.md").unlink()
    assert main(["kb", "import", str(export), "--into", str(into)]) == 2
    assert not list(Path(into).glob("*.md"))


def _request(text: str, *, channel: str = "web", category: str = "information_request", outcome: str = "assigned"):
    from tests.unit.fakes import assigned_event

    event = assigned_event(category=category, department="contact_center", outcome=outcome)
    return event.model_copy(update={"text": text, "channel": channel})


@pytest.mark.parametrize(
    ("event", "answered", "referred"),
    [
        (_request("Підкажіть де найближчий ЦНАП і графік роботи"), True, 0),
        (_request("Підкажіть будь ласка куди звернутися з питанням"), False, 1),  # no clear article
        (_request("Підкажіть де найближчий ЦНАП і графік роботи", channel="phone"), False, 0),  # an operator's
        (_request("Підкажіть де найближчий ЦНАП і графік роботи", category="heating"), False, 0),
        (_request("Підкажіть де найближчий ЦНАП і графік роботи", outcome="triage"), False, 0),
    ],
)
def test_the_automatic_answer_closes_only_clear_information_requests_from_web_and_apps(
    index, event, answered, referred
):
    from services.knowledge.domain import answer_information_requests

    decided = answer_information_requests(
        [event], lambda text: index.search(text, TODAY), AnswerThreshold(4.0, 0.4), frozenset({"web"}),
        "https://kb.example/a", NOW,
    )  # fmt: skip
    assert (bool(decided.reports), decided.referred) == (answered, referred)
    if answered:
        (report,), (consultation,) = decided.reports, decided.consultations
        assert (report.status, report.department, report.appeal_id) == ("resolved", "contact_center", event.appeal_id)
        assert report.comment == "ЦНАП: адреси і графік роботи: https://kb.example/a/cnap-addresses"
        assert (consultation.article, consultation.given_by, consultation.appeal_id) == (
            "cnap-addresses",
            "automatic",
            event.appeal_id,
        )
        again = answer_information_requests(
            [event], lambda text: index.search(text, TODAY), AnswerThreshold(4.0, 0.4), frozenset({"web"}),
            "https://kb.example/a", NOW,
        )  # fmt: skip
        assert again.reports[0].event_id == report.event_id  # a redelivery gives the same report


def test_the_contact_center_may_reopen_only_an_appeal_it_resolved():
    from services.dispatcher.domain.reports import reopened_by_contact_center
    from services.knowledge.domain import not_helped_report

    report = not_helped_report("1000001")
    assert (report.status, report.department) == ("misrouted", "contact_center")
    assert reopened_by_contact_center(report, "resolved")
    assert not reopened_by_contact_center(report, "rejected")
    assert not reopened_by_contact_center(report.model_copy(update={"department": "kyivgaz"}), "resolved")
