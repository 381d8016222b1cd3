"""The gazetteer's spellings (KMU 2010, Russian form, matching keys), its build from the register, and the district
evaluation command."""

import io
import json

import pytest
import yaml

from cityline.gazetteer import build, natural_order, read_register
from cityline.route import evaluate_districts
from services.dispatcher.gazetteer import load_gazetteer
from services.dispatcher.placenames import informal_latin, kmu2010, match_key, russian_form


@pytest.mark.parametrize(
    ("ukrainian", "latin"),
    [
        # The examples of the 2010 table itself.
        ("Згорани", "Zghorany"), ("Розгон", "Rozghon"), ("Єнакієве", "Yenakiieve"), ("Наталія", "Nataliia"),
        ("Їжакевич", "Yizhakevych"), ("Кадиївка", "Kadyivka"), ("Йосипівка", "Yosypivka"), ("Стрий", "Stryi"),
        ("Юрій", "Yurii"), ("Крюківка", "Kriukivka"), ("Яготин", "Yahotyn"), ("Іванків", "Ivankiv"),
        ("Хрещатик", "Khreshchatyk"), ("Солом'янська", "Solomianska"), ("Гоща", "Hoshcha"), ("Русь", "Rus"),
    ],
)  # fmt: skip
def test_kmu2010_transliteration_follows_the_official_table(ukrainian, latin):
    assert kmu2010(ukrainian) == latin


def test_russian_forms_and_informal_latin():
    assert russian_form("Велика Васильківська") == "Велика Васильковская"
    assert russian_form("Київська") == "Киевская"
    assert russian_form("Лісна") == "Лисная"
    assert informal_latin("Крещатик") == "Kreschatik"


def test_matching_keys_fold_spellings_of_one_sound():
    assert match_key("васильківська") == match_key("васильківськая")[:-1]
    assert match_key("khreshchatyk") == match_key("hreschatik")
    assert match_key("luk'ianivs'ka") == match_key("lukyanivska")


REGISTER = [
    {"fullTitle": "Архипенка Олександра", "type": 0, "districtsFlags": 1, "oldFullTitle": "Бойченка Олександра"},
    {"fullTitle": "Олександра Кошиця", "type": 0, "districtsFlags": 1, "oldFullTitle": None},
    {"fullTitle": "Олександра Мишуги", "type": 0, "districtsFlags": 1, "oldFullTitle": "Проектна 13092"},
    {"fullTitle": "Абрикосова", "type": 0, "districtsFlags": 256, "oldFullTitle": None},
    {"fullTitle": "Абрикосова", "type": 0, "districtsFlags": 1, "oldFullTitle": None},
    {"fullTitle": "Хрещатик", "type": 0, "districtsFlags": 16 | 128, "oldFullTitle": None},
    {"fullTitle": "Кутузова", "type": 0, "districtsFlags": 128, "oldFullTitle": None},
]
CURATED = {
    "streets": [{"name": "Генерала Алмазова", "type": "вулиця", "district": "pecherskyi", "aliases": ["Кутузова"]}],
    "places": [{"name": "Лівобережна", "type": "станція метро", "district": "dniprovskyi"}],
}


def test_the_register_in_natural_order_with_districts_and_former_names():
    entries = {entry.name: entry for entry in read_register(REGISTER)}
    assert entries["Олександра Архипенка"].former == ["Олександра Бойченка"]  # "Проектна ..." is no name
    assert entries["Абрикосова"].districts == {"obolonskyi", "darnytskyi"}
    assert natural_order("Садова 2", {"Олександра"}) == "Садова 2"


def test_the_built_file_passes_the_gazetteers_checks(tmp_path, taxonomy):
    text, notes = build(REGISTER, CURATED)
    path = tmp_path / "gazetteer.yaml"
    path.write_text(text, encoding="utf-8")
    gazetteer = load_gazetteer(path, taxonomy.districts)
    streets = {street.label: street for street in gazetteer.streets}
    # The curated renaming takes the register's street: its name is now a former name.
    assert "вулиця Кутузова" not in streets and "Кутузова" in streets["вулиця Генерала Алмазова"].former
    assert streets["вулиця Хрещатик"].ambiguous and set(streets["вулиця Хрещатик"].districts) == {
        "pecherskyi", "shevchenkivskyi"}  # fmt: skip
    assert "Khreshchatyk" in streets["вулиця Хрещатик"].latin
    assert streets["вулиця Абрикосова"].ambiguous  # two streets of one name: the name alone does not tell
    assert gazetteer.find("станція метро Лівобережна", need_marker=True).district == "dniprovskyi"
    assert gazetteer.find("vul. Oleksandra Koshytsia 5", need_marker=True).district == "darnytskyi"
    assert gazetteer.find("ул. Кутузова 18", need_marker=True).district == "pecherskyi"
    assert yaml.safe_load(text)["streets"] and not notes


def test_the_district_evaluation_counts_right_wrong_and_unknown(tools_for_eval):
    lines = [
        {"text": "Немає води", "address": "вул. Хрещатик, 22", "district": "pecherskyi"},
        {"text": "Яма біля станції метро Лівобережна", "district": "dniprovskyi"},
        {"text": "Яма на вулиці Героїв Дніпра 5", "district": "podilskyi"},
        {"text": "Не горить ліхтар", "district": "obolonskyi"},
        {"text": "Не горить ліхтар", "district": None},
    ]
    stream = io.StringIO("\n".join(json.dumps(line, ensure_ascii=False) for line in lines))
    evaluation, problems = evaluate_districts(stream, "test.jsonl", tools_for_eval)
    assert problems == []
    report = evaluation.as_dict()
    assert (report["labelled"], report["not_labelled"]) == (4, 1)
    assert report["right"] + report["wrong"] + report["unknown"] == 4
    assert report["right"] >= 1 and report["unknown"] >= 1  # the lamp with no place is unknown
    assert {mistake["true"] for mistake in evaluation.mistakes} >= {"obolonskyi"}


@pytest.fixture
def tools_for_eval():
    from cityline.classify import load_tools
    from services.classifier.settings import DEFAULT_RULES
    from services.dispatcher.settings import DEFAULT_ROUTING
    from shared.settings import DEFAULT_TAXONOMY

    return load_tools(DEFAULT_TAXONOMY, DEFAULT_RULES, DEFAULT_ROUTING)
