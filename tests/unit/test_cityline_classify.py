"""`cityline classify`: offline classification with the dispatcher's routing (--jsonl) and evaluation (--eval)."""

import json
import os
import subprocess
import sys

import pytest

from cityline.cli import main
from services.classifier.settings import DEFAULT_RULES


def lines(*items) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)) + "\n" for item in items)


@pytest.fixture
def appeals(tmp_path):
    path = tmp_path / "appeals.jsonl"
    path.write_text(
        lines(
            {"id": "a1", "text": "Третій день немає гарячої води", "address": "просп. Оболонський, 34"},
            {"id": "a2", "text": "У під'їзді на Оболоні не працює домофон, двері не зачиняються"},
            {"id": "a3", "text": "Протікає дах, мокра стеля в під'їзді"},
            "not json",
            {"id": "a5", "text": "   "},
            {"id": "a6", "text": "asdf qwerty"},
        ),
        encoding="utf-8",
    )
    return path


def test_jsonl_writes_one_decision_per_line_with_the_dispatchers_routing(appeals, capsys):
    code = main(["classify", "--jsonl", str(appeals)])

    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1, "two lines could not be classified"
    assert len(out) == 6
    first, second, third, not_json, blank, gibberish = out
    assert (first["id"], first["category"], first["urgency"]) == ("a1", "hot_water", "high")
    assert (first["district"], first["department"]) == ("obolonskyi", "kyivteploenergo")
    assert "hot_water.subject" in first["matched_rules"] and first["matched_terms"]
    assert first["ruleset"].startswith("2026-") and 0 < first["confidence"] <= 1
    # A district-scoped category goes to the district's unit when the text names the district, else to triage.
    assert (second["category"], second["district"], second["department"]) == (
        "building_maintenance",
        "obolonskyi",
        "housing_obolonskyi",
    )
    assert (third["category"], third["district"], third["department"], third["routing"]) == (
        "building_maintenance",
        None,
        "contact_center",
        "triage",
    )
    assert not_json == {"line": 4, "error": f"{appeals}:4: not JSON: Expecting value"}
    assert blank["line"] == 5 and "non-empty" in blank["error"]
    assert (gibberish["category"], gibberish["department"]) == ("unclassified", "contact_center")


def test_eval_reports_accuracy_precision_recall_and_confusions(tmp_path, capsys):
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(
        lines(
            {"text": "Немає гарячої води", "category": "hot_water", "urgency": "high"},
            {"text": "Батареї холодні", "category": "heating", "urgency": "normal"},
            {"text": "Не працює ліфт", "category": "heating", "urgency": "normal"},
            {"text": "Яма на дорозі", "category": "roads"},
        ),
        encoding="utf-8",
    )

    code = main(["classify", "--eval", str(labelled), "--json", "--no-baseline"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (report["appeals"], report["accuracy"], report["urgency_accuracy"]) == (4, 0.75, round(2 / 3, 4))
    assert report["per_category"]["heating"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert report["per_category"]["elevators"] == {"precision": 0.0, "recall": None, "support": 0}
    assert report["confusions"] == [{"true": "heating", "predicted": "elevators", "count": 1}]
    assert report["urgency_confusions"] == [{"true": "normal", "predicted": "high", "count": 1}]


def test_eval_prints_a_readable_report(tmp_path, capsys):
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(lines({"text": "Не працює ліфт", "category": "heating", "urgency": "normal"}), encoding="utf-8")

    assert main(["classify", "--eval", str(labelled), "--no-baseline"]) == 0

    out = capsys.readouterr().out
    assert "category accuracy 0.0 %" in out and "most frequent confusions" in out and "elevators" in out


def test_a_bad_rule_file_is_named_with_its_line(tmp_path, appeals, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text(DEFAULT_RULES.read_text(encoding="utf-8").replace("  heating:\n", "  heatin:\n", 1))

    assert main(["classify", "--jsonl", str(appeals), "--rules", str(rules)]) == 2

    assert f"{rules}:" in capsys.readouterr().err


def test_the_installed_command_reads_stdin():
    completed = subprocess.run(
        [sys.executable, "-m", "cityline.cli", "classify", "--jsonl", "-"],
        input=lines({"id": 7, "text": "Пахне газом у під'їзді"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    decision = json.loads(completed.stdout)
    assert (decision["id"], decision["category"], decision["urgency"], decision["department"]) == (
        7,
        "gas",
        "critical",
        "kyivgaz",
    )


def test_the_same_text_gets_the_same_explanation_in_every_process():
    # String hashing differs between processes; the explanation must not follow it.
    texts = lines(
        {"id": 1, "text": "Просимо встановити пандус біля входу в наш під'їзд, сусідка на візку не може вийти"},
        {"id": 2, "text": "Світло вже дали, а ліфт стоїть, nemaye garyachoi vody"},
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "cityline.cli", "classify", "--jsonl", "-"],
            input=texts,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "4")
    ]

    assert outputs[0] == outputs[1]


def test_text_explains_one_appeal_rule_by_rule(capsys):
    assert main(["classify", "--text", "Світло вже дали, а ліфт стоїть", "--address", "просп. Оболонський, 34"]) == 0

    out = capsys.readouterr().out
    assert "elevators, urgency normal" in out and "lift_service" in out and "district obolonskyi" in out
    assert "electricity.signs" in out and "resolved" in out and "elevators.subject" in out
