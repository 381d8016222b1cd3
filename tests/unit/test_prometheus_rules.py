"""CityLine's Prometheus files checked by Debian's promtool: config, rules, and the rules' unit tests.

A rules file that does not parse, an alert without its runbook, or rules that drifted from alerting.yaml fail here,
in `make test`, never at a deployment.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cityline.cli import main
from cityline.prometheus import (
    ALERTING_SETTINGS,
    PROMETHEUS_DIR,
    RULES,
    AlertingSettings,
    PrometheusSettings,
    render_rules,
    scrape_config,
)
from shared.yamlfile import DataFileError

PROMTOOL = shutil.which("promtool")
RULE_FILES = sorted(RULES.glob("*.yml"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sre.md"


def promtool(*args: str | Path) -> subprocess.CompletedProcess:
    assert PROMTOOL, "promtool is missing: apt-get install prometheus (deploy/ci/debian-packages.txt lists it)"
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=600)


def alerts() -> list[dict]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_the_rule_files_exist():
    assert {path.name for path in RULE_FILES} == {"alerts.rules.yml", "recording.rules.yml"}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_promtool_accepts_every_rules_file(path):
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_compose_config():
    result = promtool("check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout


def test_promtool_accepts_the_embedded_stacks_config(tmp_path):
    targets = {"intake": "127.0.0.1:8000", "classifier": "127.0.0.1:8001"}
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(targets, RULES, PrometheusSettings())))
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_unit_tests_pass():
    tests = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_rules_file_with_a_syntax_error_is_refused_naming_the_file(tmp_path):
    broken = tmp_path / "broken.rules.yml"
    text = (RULES / "alerts.rules.yml").read_text()
    broken.write_text(text.replace('expr: up{system="cityline"} == 0', 'expr: up{system="cityline" == 0', 1))
    assert broken.read_text() != text
    result = promtool("check", "rules", broken)
    assert result.returncode != 0
    assert "broken.rules.yml" in result.stdout + result.stderr


def test_a_rules_file_that_is_not_yaml_is_refused(tmp_path):
    broken = tmp_path / "notyaml.rules.yml"
    broken.write_text("groups:\n  - name: x\n    rules: [\n")
    assert promtool("check", "rules", broken).returncode != 0


def test_every_alert_has_a_summary_description_severity_and_a_runbook_section():
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in DOCS.read_text().splitlines()
        if line.startswith("#")
    }
    found = alerts()
    assert len(found) >= 10
    for rule in found:
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/sre.md" and anchor in headings, f"{rule['alert']}: no section {anchor} in {DOCS}"


def test_every_alert_is_unit_tested_both_firing_and_not_firing():
    tests = [yaml.safe_load(path.read_text()) for path in (PROMETHEUS_DIR / "tests").glob("*.yml")]
    cases = [case for document in tests for test in document["tests"] for case in test.get("alert_rule_test", [])]
    for rule in alerts():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} is never shown firing"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']} is never shown quiet"


def test_the_committed_rules_are_the_render_of_alerting_yaml():
    rendered = render_rules(AlertingSettings.load())
    assert set(rendered) == {path.name for path in RULE_FILES}
    for name, text in rendered.items():
        assert (RULES / name).read_text() == text, f"{name} differs: run `cityline prometheus-rules`"


def test_the_rules_hold_no_threshold_of_their_own():
    """Every number of an alert comes from alerting.yaml: other settings give other rules."""
    settings = AlertingSettings.load().with_changes(
        {"service_down": {"for": "7s"}, "consumer_lag": {"seconds": 33}, "dead_letters": {"window": "3m"}}
    )
    alerts_text = render_rules(settings)["alerts.rules.yml"]
    recording_text = render_rules(settings)["recording.rules.yml"]
    assert "for: 7s" in alerts_text and "> 33" in alerts_text
    assert "rate(cityline_dead_letters_total[3m])" in recording_text


def test_the_prometheus_rules_command_checks_and_writes(tmp_path, capsys):
    assert main(["prometheus-rules", "--check"]) == 0
    assert main(["prometheus-rules", "--out", str(tmp_path), "--check"]) == 2
    assert "run `cityline prometheus-rules`" in " ".join(capsys.readouterr().err.split())
    assert main(["prometheus-rules", "--out", str(tmp_path)]) == 0
    assert main(["prometheus-rules", "--out", str(tmp_path), "--check"]) == 0
    assert {path.name for path in tmp_path.iterdir()} == {path.name for path in RULE_FILES}


def test_a_wrong_setting_is_refused_naming_file_and_line(tmp_path):
    settings = tmp_path / "alerting.yaml"
    settings.write_text(ALERTING_SETTINGS.read_text().replace("  seconds: 120", "  seconds: -5", 1))
    with pytest.raises(DataFileError) as refused:
        AlertingSettings.load(settings)
    line = next(i for i, text in enumerate(settings.read_text().splitlines(), 1) if "seconds: -5" in text)
    assert f"alerting.yaml:{line}" in str(refused.value)
    assert "consumer_lag.seconds" in str(refused.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slo": {"latency_s": 0.7}}, "bucket"),
        ({"service_down": {"for": "soon"}}, "pattern"),
        ({"intake_silent": {"day_start_hour_utc": 20}}, "day_end_hour_utc"),
    ],
)
def test_settings_that_cannot_make_rules_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        AlertingSettings.load().with_changes(change)
