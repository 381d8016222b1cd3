"""The console's appeal page shows the rules' decision and the learned second opinion side by side, and says whose
the category chosen at filing was (the template rendered with the page's own model of a stored appeal)."""

from types import SimpleNamespace

from services.console.i18n import translations
from services.console.pages import templates
from services.console.repository import detail
from tests.unit.fakes import NOW


def page(classification: dict, requested_category: str | None, taxonomy) -> str:
    document = {
        "_id": "1000001",
        "status": "triage",
        "channel": "web",
        "received_at": NOW,
        "text": "З крана гаряча ледь тепла",
        "requested_category": requested_category,
        "classification": classification,
    }
    appeal = detail(document, {"status": "triage", "classification": classification})
    return templates.env.get_template("appeal.html").render(
        appeal=appeal,
        t=translations().translator("en"),
        taxonomy=taxonomy,
        user=None,
        nav=[],
        csrf="x",
        actions=[],
        may_triage=False,
        action_key="k",
        errors={},
        request=SimpleNamespace(url=SimpleNamespace(path="/appeals/1000001")),
    )


def test_a_flagged_appeal_shows_the_rules_choice_and_the_models(taxonomy):
    html = page(
        {
            "category": "unclassified",
            "urgency": "high",
            "confidence": 0.56,
            "flagged": True,
            "rules_category": "heating",
            "second_opinion": {
                "model": "2026-12-02.1@c8de6fe8fce1",
                "category": "hot_water",
                "urgency": "normal",
                "margin": 1.3,
                "agrees": False,
            },
            "requested_category": "hot_water",
            "requested_by": "resident",
        },
        "hot_water",
        taxonomy,
    )

    assert "The rules&#39; own choice" in html and taxonomy.categories["heating"].name in html
    assert "Second opinion (learned model)" in html and "disagrees with the rules: flagged" in html
    assert "2026-12-02.1@c8de6fe8fce1" in html and 'class="flagged"' in html
    assert "Category chosen by the resident" in html and "Category chosen by the operator" not in html


def test_an_operators_choice_is_shown_as_the_operators(taxonomy):
    html = page(
        {
            "category": "roads",
            "urgency": "normal",
            "confidence": 1.0,
            "decided_by": "operator",
            "requested_category": "roads",
            "requested_by": "operator",
        },
        "roads",
        taxonomy,
    )

    assert "Category chosen by the operator" in html and "Second opinion" not in html
