"""services/classifier/rulebook.py: the rules in force change when the file changes; a bad file never replaces them."""

import logging

import pytest
import yaml

from services.classifier.domain import classify_text
from services.classifier.metrics import rules_file_refused, rules_reloads
from services.classifier.rulebook import RuleBook, read_rules
from services.classifier.ruleset import RulesError
from services.classifier.settings import DEFAULT_RULES
from shared.metrics import registry


@pytest.fixture
def rule_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(DEFAULT_RULES.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def with_new_rule(path, version: str) -> None:
    spec = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    spec["version"] = version
    spec["categories"]["greenery"]["rules"]["pests"] = {"weight": 4, "terms": ["кракозябра"]}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")


def reloads(outcome: str) -> float:
    return registry.get_sample_value("cityline_classifier_rules_reloads_total", {"outcome": outcome}) or 0.0


def test_the_version_names_the_file_and_its_fingerprint(rule_file, taxonomy):
    rules = read_rules(rule_file, taxonomy)
    version = yaml.safe_load(rule_file.read_text(encoding="utf-8"))["version"]

    assert rules.version.startswith(f"{version}@") and len(rules.version) == len(version) + 13


def test_an_unchanged_file_is_not_reloaded(rule_file, taxonomy):
    book = RuleBook(rule_file, taxonomy)
    rule_file.touch()

    assert book.reload() == "unchanged"


def test_a_changed_file_replaces_the_rules(rule_file, taxonomy):
    book = RuleBook(rule_file, taxonomy)
    before, reloaded = book(), reloads("reloaded")
    assert classify_text("Кракозябри у дворі", before).category == "unclassified"

    with_new_rule(rule_file, "v-next")

    assert book.reload() == "reloaded"
    assert book().version.startswith("v-next@")
    assert classify_text("Кракозябри у дворі", book()).category == "greenery"
    assert reloads("reloaded") == reloaded + 1
    assert registry.get_sample_value("cityline_classifier_ruleset_info", {"version": book().version}) == 1
    assert registry.get_sample_value("cityline_classifier_ruleset_info", {"version": before.version}) is None


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (lambda text: text.replace("  heating:\n", "  heatin:\n", 1), "unknown category code 'heatin'"),
        (lambda text: text + "\n  teleportation: [\n", "not valid YAML"),
        (lambda text: text.replace("weight: 3", "weight: -3", 1), "greater than 0"),
        (lambda text: text.replace("regex: [", "regex: ['(', ", 1), "does not compile"),
    ],
    ids=["unknown-category", "not-yaml", "negative-weight", "bad-regex"],
)
def test_a_bad_file_is_refused_and_the_last_good_rules_stay(rule_file, taxonomy, caplog, breakage, named):
    book = RuleBook(rule_file, taxonomy)
    good, refused = book(), reloads("refused")
    rule_file.write_text(breakage(rule_file.read_text(encoding="utf-8")), encoding="utf-8")

    with caplog.at_level(logging.ERROR):
        assert book.reload() == "refused"

    assert book() is good
    assert reloads("refused") == refused + 1
    assert rules_file_refused._value.get() == 1
    assert named in caplog.text and f"{rule_file}:" in caplog.text
    # Refused once, not again every few seconds while nobody has touched it.
    assert book.reload() == "unchanged"

    with_new_rule(rule_file, "fixed")
    assert book.reload() == "reloaded"
    assert rules_file_refused._value.get() == 0


def test_a_missing_file_is_refused_while_running(rule_file, taxonomy):
    book = RuleBook(rule_file, taxonomy)
    good = book()
    rule_file.unlink()

    assert book.reload() == "refused"
    assert book() is good


def test_a_bad_file_at_start_up_stops_the_service_with_the_line(rule_file, taxonomy):
    rule_file.write_text(rule_file.read_text(encoding="utf-8").replace("  heating:\n", "  heatin:\n", 1))

    with pytest.raises(RulesError, match=rf"^{rule_file}:\d+: categories.heatin: unknown category code"):
        RuleBook(rule_file, taxonomy)


def test_the_reload_counter_is_labelled_by_outcome_only():
    assert {label for metric in rules_reloads.collect() for s in metric.samples for label in s.labels} <= {"outcome"}


async def test_the_periodic_job_reloads_off_the_event_loop(rule_file, taxonomy):
    book = RuleBook(rule_file, taxonomy)
    with_new_rule(rule_file, "from-the-job")

    await book.reload_if_changed()

    assert book().version.startswith("from-the-job@")
