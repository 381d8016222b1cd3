"""The learned second opinion beside the rules, and the category chosen at filing: training, the model file, how the
opinion and the hint weigh in the decision, the handler, the live preview and `cityline classify --train/--eval`."""

import json
from pathlib import Path

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from cityline.cli import main
from services.classifier.domain import Policy, classify, classify_text, weigh_second_opinion
from services.classifier.handlers import build_router
from services.classifier.opinion import Example, ModelError, data_hash, load_model, read_labelled, train
from services.classifier.preview import build_preview_app
from services.classifier.settings import ClassifierSettings
from shared.contracts import topics
from shared.contracts.classifier import Classification, SecondOpinion
from tests.unit.fakes import NOW, FakeClassifierRepository, published, registered_event

# A tiny labelled set the model can learn: three subjects, each in several wordings.
EXAMPLES = [
    Example(text, category, urgency)
    for category, urgency, texts in (
        ("heating", "high", ["батареї холодні", "немає опалення", "холодні радіатори вдома", "опалення не дали"]),
        ("roads", "normal", ["яма на дорозі", "вибоїна на дорозі", "розбитий асфальт", "яма біля дороги"]),
        ("elevators", "critical", ["застряг у ліфті", "ліфт застряг", "людина в ліфті застрягла", "ліфт не їде"]),
    )
    for text in texts
]


@pytest.fixture(scope="module")
def model():
    return train(EXAMPLES, version="test")


def opinion(category: str, urgency: str = "normal") -> SecondOpinion:
    return SecondOpinion(model="test@0", category=category, urgency=urgency, margin=0.5)


def decision(category: str, confidence: float, urgency: str = "high") -> Classification:
    return Classification(category=category, urgency=urgency, confidence=confidence)


def test_the_model_learns_the_subjects_and_names_its_training_data(model):
    said = model.opinions(["холодні батареї в квартирі", "величезна яма на дорозі", "застрягли в ліфті"])

    assert [(o.category, o.urgency) for o in said] == [
        ("heating", "high"),
        ("roads", "normal"),
        ("elevators", "critical"),
    ]
    assert model.version == f"test@{data_hash(EXAMPLES)}"
    assert model.meta["examples"] == len(EXAMPLES)
    assert all(o.margin > 0 for o in said)


def test_the_training_data_hash_ignores_order_and_sees_a_changed_label():
    assert data_hash(EXAMPLES) == data_hash(list(reversed(EXAMPLES)))
    relabelled = [Example(EXAMPLES[0].text, "roads", EXAMPLES[0].urgency), *EXAMPLES[1:]]
    assert data_hash(relabelled) != data_hash(EXAMPLES)


def test_the_saved_model_decides_as_the_trained_one(model, tmp_path):
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = load_model(path)
    texts = ["батареї ледь теплі", "яма", "ліфт стоїть, людина всередині", "щось незрозуміле"]

    assert loaded.version == model.version
    assert [(o.category, o.urgency) for o in loaded.opinions(texts)] == [
        (o.category, o.urgency) for o in model.opinions(texts)
    ]


def test_an_unusable_model_file_is_refused_naming_the_file(tmp_path):
    garbage = tmp_path / "model.npz"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"model\.npz: not a readable model file"):
        load_model(garbage)

    import numpy as np

    partial = tmp_path / "partial.npz"
    np.savez(partial, meta=np.array(json.dumps({"format": 1, "version": "x"})))
    with pytest.raises(ModelError, match=r"partial\.npz: the model file lacks 'chars_terms'"):
        load_model(partial)


def test_training_needs_more_than_one_category():
    with pytest.raises(ModelError, match="at least two categories"):
        train([Example("яма", "roads", "normal"), Example("ще яма", "roads", "high")], version="x")


def test_a_bad_labelled_line_is_named(tmp_path):
    labelled = tmp_path / "set.jsonl"
    labelled.write_text('{"text": "яма", "category": "roads", "urgency": "normal"}\n{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(ModelError, match=r"set.jsonl:2: needs an object with text, category and urgency"):
        read_labelled([labelled])


@pytest.mark.parametrize(
    ("rules", "model_says", "category", "flagged", "rules_category"),
    [
        (decision("heating", 0.9), opinion("heating"), "heating", False, None),  # they agree
        (decision("heating", 0.9), opinion("hot_water"), "heating", True, None),  # rules sure: flagged only
        (decision("heating", 0.55), opinion("hot_water"), "unclassified", True, "heating"),  # unsure too: a person
        (decision("unclassified", 0.0, "normal"), opinion("roads"), "unclassified", False, None),  # a person anyway
    ],
)
def test_a_disagreement_is_flagged_and_goes_to_a_person_when_the_rules_are_unsure(
    rules, model_says, category, flagged, rules_category
):
    weighed = weigh_second_opinion(rules, model_says, Policy(triage_below=0.6))

    assert (weighed.category, weighed.flagged, weighed.rules_category) == (category, flagged, rules_category)
    assert weighed.urgency == rules.urgency  # the rules' urgency stays, even when held for a person
    assert weighed.second_opinion.agrees is (model_says.category == rules.category)


def test_without_a_model_the_rules_decide_alone():
    rules = decision("heating", 0.3)
    assert weigh_second_opinion(rules, None, Policy()) is rules


def test_the_residents_choice_tips_a_close_call_and_is_shown(rules):
    text = "Не горить ліхтар, на дорозі яма"
    alone = classify_text(text, rules)
    hinted = classify_text(text, rules, requested_category="street_lighting")

    assert alone.category == "unclassified"  # a tie: without the hint a person would decide
    assert hinted.category == "street_lighting"
    assert hinted.scores["street_lighting"] == pytest.approx(
        alone.scores.get("street_lighting", 0) + rules.requested_category_weight
    )
    assert ("hint.requested_category", ("street_lighting",)) in [(f.rule, f.words) for f in hinted.fired]
    assert (hinted.requested_category, hinted.requested_by) == ("street_lighting", "resident")


def test_the_residents_choice_alone_does_not_decide(rules):
    hinted = classify_text("Допоможіть будь ласка", rules, requested_category="roads")
    assert hinted.category == "unclassified"
    assert hinted.requested_category == "roads"


def test_an_operators_choice_at_the_desk_is_the_decision_recorded_as_theirs(rules):
    event = registered_event("Батареї холодні третій день").model_copy(
        update={"channel": "phone", "requested_category": "hot_water"}
    )
    decided = classify(event, rules, NOW).classification

    assert (decided.category, decided.decided_by, decided.requested_by) == ("hot_water", "operator", "operator")
    assert decided.rules_category == "heating"
    assert "hint.requested_category" not in [f.rule for f in decided.fired]  # the rules judged the text alone


async def test_the_handler_publishes_the_second_opinion_beside_the_rules(rules, parked, model):
    router = build_router(ClassifierSettings(), FakeClassifierRepository(), lambda: rules, parked, lambda: NOW, model)
    broker = KafkaBroker()
    broker.include_router(router)
    (appeal_classified,) = router.publishers

    async with TestKafkaBroker(broker) as br:
        await br.publish(
            registered_event("Батареї холодні, немає опалення").model_dump(mode="json"), topics.APPEALS_REGISTERED
        )
        (event,) = published(appeal_classified)

    classification = event["classification"]
    assert classification["category"] == "heating"
    assert classification["second_opinion"]["category"] == "heating"
    assert classification["second_opinion"]["model"] == model.version
    assert classification["flagged"] is False


async def test_the_preview_shows_the_rules_the_opinion_and_the_hint(rules, model):
    app = build_preview_app(lambda: rules, model, Policy())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.post(
            "/v1/preview", json={"text": "Біля під'їзду яма і не світить ліхтар", "requested_category": "roads"}
        )
        bad = await http.post("/v1/preview", json={"text": "яма", "requested_category": "Roads!"})

    classification = response.json()["classification"]
    assert classification["requested_category"] == "roads"
    assert "hint.requested_category" in [rule["rule"] for rule in classification["fired"]]
    assert classification["second_opinion"]["model"] == model.version
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "requested_category"]


def labelled_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "set.jsonl").write_text(
        "".join(
            json.dumps({"text": e.text, "category": e.category, "urgency": e.urgency, "lang": "uk"}, ensure_ascii=False)
            + "\n"
            for e in EXAMPLES
        ),
        encoding="utf-8",
    )
    return folder


def test_train_writes_a_versioned_model_the_service_can_load(tmp_path, capsys):
    folder = labelled_folder(tmp_path / "labelled")
    path = tmp_path / "model.npz"

    assert main(["classify", "--train", "--labelled", str(folder), "--model", str(path), "--version", "v1"]) == 0

    loaded = load_model(path)
    assert loaded.version == f"v1@{data_hash(EXAMPLES)}"
    assert loaded.meta["sources"] == ["set.jsonl"]
    assert f"model {loaded.version}, {len(EXAMPLES)} appeals" in capsys.readouterr().out


def test_eval_sets_the_rules_beside_a_baseline_that_never_saw_the_measured_appeals(tmp_path, capsys):
    folder = labelled_folder(tmp_path / "labelled")
    measured = tmp_path / "measured.jsonl"
    # One of the measured appeals is also in the labelled folder: the baseline must not train on it.
    measured.write_text(
        (folder / "set.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[0]
        + json.dumps({"text": "вибоїна і яма на дорозі", "category": "roads", "urgency": "normal", "lang": "ru"})
        + "\n",
        encoding="utf-8",
    )

    assert main(["classify", "--eval", str(measured), "--json", "--labelled", str(folder)]) == 0

    report = json.loads(capsys.readouterr().out)["versus_baseline"]
    assert set(report["by_language"]) == {"all", "uk", "ru"}
    assert report["by_language"]["all"]["rules"]["appeals"] == 2
    assert report["by_language"]["all"]["baseline"]["appeals"] == 2
    assert report["baseline_model"].endswith("@" + data_hash(EXAMPLES[1:]))
    routing = report["second_opinion"]
    assert {"rules_alone", "with_second_opinion", "flagged_share"} <= set(routing)
