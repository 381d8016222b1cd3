"""services/classifier/domain.py: classification of real-looking appeal texts, and the rule file's validation."""

import re
from pathlib import Path

import pytest
import yaml

from services.classifier.domain import RulesError, classify, classify_text, compile_rules, load_rules, tokenize
from services.classifier.settings import DEFAULT_RULES
from shared.contracts.base import derived_event_id
from tests.unit.fakes import NOW, registered_event

# (text, category, urgency): texts the current rules.yaml decides, in Ukrainian, Russian and English.
CASES = [
    ("У квартирі холодні батареї вже третій день", "heating", "high"),
    ("Нет отопления, батареи ледяные", "heating", "high"),
    ("No heating in my flat since Monday", "heating", "high"),
    ("Немає гарячої води з понеділка", "hot_water", "high"),
    ("Нет горячей воды уже неделю", "hot_water", "high"),
    ("Прорив труби, заливає підвал водою з водопроводу", "water_supply", "critical"),
    ("Водоканал не реагує, каналізація засмічена", "water_supply", "high"),
    ("Сильний запах газу в під'їзді", "gas", "critical"),
    ("Пахнет газом на лестничной площадке", "gas", "critical"),
    ("There is a smell of gas in the kitchen", "gas", "critical"),
    ("Застряг у ліфті між 5 і 6 поверхом", "elevators", "critical"),
    ("Лифт не работает вторую неделю", "elevators", "high"),
    ("Немає світла у всьому будинку, ДТЕК не відповідає", "electricity", "high"),
    ("Power outage on our street, no electricity since morning", "electricity", "high"),
    ("Протікає дах, тече стеля на 9 поверсі", "building_maintenance", "normal"),
    ("Течет крыша в подъезде", "building_maintenance", "normal"),
    ("Не вивозять сміття, контейнери переповнені", "waste", "normal"),
    ("Garbage has not been collected for a week", "waste", "normal"),
    ("Большая яма на асфальте, разбил колесо", "roads", "normal"),
    ("Не світить ліхтар біля будинку, темно на вулиці", "street_lighting", "normal"),
    ("Аварійне дерево нахилилося над дитячим майданчиком", "greenery", "normal"),
    ("Машини заїжджають на газон", "greenery", "normal"),
    ("Не прибирають сніг у дворі, ожеледиця на тротуарі", "snow_ice", "high"),
    ("Незаконна торгівля біля метро, стихійні МАФи", "public_order", "normal"),
    ("Тролейбус 16 не ходить вже годину", "public_transport", "normal"),
    ("Не працює ескалатор на станції метро Либідська", "metro", "high"),
    ("Машини паркуються на тротуарі, заблокували виїзд", "parking", "normal"),
    ("Як оформити субсидію пенсіонеру?", "social_support", "normal"),
    ("Не можу записатися до сімейного лікаря в поліклініці", "healthcare", "normal"),
    ("Дитину не беруть у дитячий садок, черга не рухається", "education", "normal"),
    ("Потрібна консультація юриста щодо спадщини", "legal_aid", "low"),
    ("Мені дуже тривожно, не можу спати, потрібен психолог", "psychological_support", "high"),
    ("Не хочу жити", "psychological_support", "critical"),
    ("Укриття зачинене під час тривоги", "shelters", "high"),
    ("Після обстрілу вибиті вікна, уламки ракети у дворі", "war_damage", "high"),
    ("Підкажіть графік роботи ЦНАП", "information_request", "low"),
    ("Дякую комунальникам за оперативну роботу!", "gratitude", "low"),
    # Nothing the rules know, and a tie between two categories: a person decides.
    ("asdf qwerty zxcv", "unclassified", "normal"),
    ("Величезна яма на дорозі біля зупинки", "unclassified", "normal"),
]


@pytest.mark.parametrize(("text", "category", "urgency"), CASES, ids=[case[0][:40] for case in CASES])
def test_classify_text(rules, text, category, urgency):
    result = classify_text(text, rules)

    assert (result.category, result.urgency) == (category, urgency)
    assert result.ruleset == rules.version
    if category != "unclassified":
        assert result.confidence >= rules.min_confidence
        assert result.matched_rules[0].startswith(f"{category}:")
        assert result.matched_terms, "a decided category names the terms that fired"


def test_gibberish_has_no_score_and_no_terms(rules):
    result = classify_text("asdf qwerty zxcv 12345", rules)

    assert result.category == "unclassified"
    assert result.confidence == 0.0
    assert result.matched_rules == ()
    assert result.matched_terms == ()


def test_a_tie_is_unclassified_and_shows_both_candidates(rules):
    result = classify_text("Величезна яма на дорозі біля зупинки", rules)

    assert result.category == "unclassified"
    assert result.confidence == 0.5
    assert set(result.matched_rules) == {"roads:2", "public_transport:2"}


def test_whole_word_term_does_not_match_a_longer_word(rules):
    # "газ!" is the whole word only: a lawn (газон) is no gas leak.
    lawn = classify_text("Машини заїжджають на газон", rules)
    gas = classify_text("Відключили газ у будинку", rules)

    assert lawn.category == "greenery" and "газ" not in lawn.matched_terms
    assert gas.category == "gas" and gas.urgency == "critical"


def test_apostrophes_and_yo_are_normalized():
    assert tokenize("Під’їзд, підʼїзд, Ёлка") == ["під'їзд", "під'їзд", "елка"]


def test_classify_builds_the_event_deterministically(rules):
    registered = registered_event("Сильний запах газу в під'їзді")

    first = classify(registered, rules, NOW)
    again = classify(registered, rules, NOW)

    assert first == again
    assert first.event_id == derived_event_id("classified", registered.event_id)
    assert first.occurred_at == NOW
    assert first.classification.category == "gas"
    # The decision carries its own id and time, as the classifications collection keeps it.
    assert first.classification.decision_id == str(first.event_id)
    assert first.classification.decided_at == NOW
    # Everything the registration said travels on, so the dispatcher needs no read.
    assert (first.appeal_id, first.text, first.correlation_id, first.registered_at) == (
        registered.appeal_id,
        registered.text,
        registered.correlation_id,
        registered.registered_at,
    )


# --- the rule file -----------------------------------------------------------------------------


def _rules(**categories) -> dict:
    return {"version": "test", "urgency": {"critical": ["пожеж"]}, "categories": categories}


def test_the_shipped_rule_file_loads(rules):
    assert rules.version == yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))["version"]
    assert rules.default_urgency["gas"] == "critical"
    assert rules.default_urgency["legal_aid"] == "low"


def test_minimal_rule_file_compiles(taxonomy):
    ruleset = compile_rules(_rules(heating={"strong": ["батаре"]}), taxonomy)

    assert classify_text("Холодні батареї", ruleset).category == "heating"
    assert classify_text("Пожежа у підвалі", ruleset).urgency == "critical"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (_rules(teleportation={"strong": ["телепорт"]}), "unknown category codes ['teleportation']"),
        (_rules(heating={"strong": [], "terms": []}), "category heating has no terms"),
        (_rules(heating={}), "category heating has no terms"),
        (_rules(heating={"strong": ["  "]}), "term '  ' has no letters"),
        (_rules(heating={"strong": ["батаре"], "terms": ["!"]}), "term '!' has no letters"),
        (_rules(heating={"strong": ["батаре", "..."]}), "term '...' has no letters"),
        (_rules(heating={"terms": ["—"]}), "term '—' has no letters"),
        (_rules(heating={"strong": [""]}), "term '' has no letters"),
        (_rules(heating={"strong": ["батаре"]}) | {"urgency": {"critical": ["пожеж", "—"]}}, "term '—' has no letters"),
        (_rules(heating={"strong": ["батаре"]}) | {"urgency": {"high": ["!"]}}, "term '!' has no letters"),
        (_rules(heating={"strong": ["батаре"]}) | {"urgency": {"low": ["  "]}}, "term '  ' has no letters"),
        (_rules(heating={"strong": ["батаре"], "weight": 3}), "weight"),
        (_rules(heating={"strong": ["батаре"], "default_urgency": "urgent"}), "default_urgency"),
        ({"version": "test", "categories": {"heating": {"strong": ["x"]}}}, "urgency"),
        ({"version": "test", "urgency": {"medium": ["x"]}, "categories": {}}, "medium"),
        ({"version": "test", "urgency": {}, "categories": ["heating"]}, "categories"),
        (["not", "a", "mapping"], "RuleFile"),
        (_rules(heating={"strong": ["x"]}) | {"min_confidence": 1.5}, "min_confidence"),
    ],
    ids=[
        "unknown-category",
        "empty-term-lists",
        "no-term-lists",
        "blank-term",
        "bang-term",
        "dots-term",
        "dash-term",
        "empty-string-term",
        "dash-urgency-marker",
        "bang-urgency-marker",
        "blank-urgency-marker",
        "unknown-key",
        "bad-urgency",
        "no-urgency",
        "unknown-urgency-level",
        "categories-not-a-mapping",
        "not-a-mapping",
        "confidence-above-one",
    ],
)
def test_invalid_rules_are_refused_with_the_problem_named(taxonomy, raw, problem):
    with pytest.raises(RulesError) as caught:
        compile_rules(raw, taxonomy, source="rules-under-test.yaml")

    message = str(caught.value)
    assert message.startswith("rules-under-test.yaml: ")
    assert problem in message


@pytest.mark.parametrize(
    ("term", "text", "category"),
    [
        ("газ!", "Відключили газ у будинку", "gas"),
        ("газ!", "Машини на газоні", "unclassified"),
        ("газ !", "Відключили газ у будинку", "gas"),
        ("Газ", "Газон витоптали", "gas"),
        ("запах газ", "Сильний запах газу", "gas"),
        ("запах газ", "Газ і запах", "unclassified"),
    ],
)
def test_a_term_with_letters_and_punctuation_compiles(taxonomy, term, text, category):
    ruleset = compile_rules(_rules(gas={"strong": [term]}), taxonomy)

    assert classify_text(text, ruleset).category == category


def test_load_rules_names_the_file_when_yaml_is_broken(tmp_path: Path, taxonomy):
    path = tmp_path / "rules.yaml"
    path.write_text("version: [unclosed\n", encoding="utf-8")

    with pytest.raises(RulesError, match=re.escape(str(path))):
        load_rules(path, taxonomy)


def test_load_rules_names_a_missing_file(tmp_path: Path, taxonomy):
    with pytest.raises(RulesError, match=r"absent\.yaml"):
        load_rules(tmp_path / "absent.yaml", taxonomy)
