"""shared/taxonomy.py and the topic list it drives: departments, deadlines, validation on load."""

import re
from datetime import timedelta

import pytest
import yaml
from pydantic import ValidationError

from shared.contracts import topics
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import Taxonomy, TaxonomyError, load_taxonomy


def raw_taxonomy() -> dict:
    return yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))


def test_department_codes_are_41_with_district_units_expanded(taxonomy):
    codes = taxonomy.department_codes()

    assert len(codes) == 41
    assert len(set(codes)) == 41
    assert "district_housing" not in codes and "district_admin" not in codes
    assert {"kyivgaz", "contact_center", "housing_obolonskyi", "rda_shevchenkivskyi"} <= set(codes)
    assert sum(code.startswith("housing_") for code in codes) == 10
    assert sum(code.startswith("rda_") for code in codes) == 10


@pytest.mark.parametrize(
    ("category", "district", "department"),
    [
        ("heating", None, "kyivteploenergo"),
        ("heating", "podilskyi", "kyivteploenergo"),
        ("gas", None, "kyivgaz"),
        ("unclassified", None, "contact_center"),
        ("building_maintenance", "darnytskyi", "housing_darnytskyi"),
        ("snow_ice", "solomianskyi", "rda_solomianskyi"),
        ("war_damage", "holosiivskyi", "rda_holosiivskyi"),
        ("war_damage", None, None),
        ("snow_ice", "atlantis", None),
    ],
)
def test_department_for(taxonomy, category, district, department):
    assert taxonomy.department_for(category, district) == department


@pytest.mark.parametrize(
    ("urgency", "delta"),
    [
        ("critical", timedelta(hours=24)),
        ("high", timedelta(days=3)),
        ("normal", timedelta(days=15)),
        ("low", timedelta(days=30)),
    ],
)
def test_due_after(taxonomy, urgency, delta):
    assert taxonomy.due_after(urgency) == delta


def test_department_names(taxonomy):
    assert taxonomy.department_name("kyivgaz") == "ПрАТ «Київгаз»"
    assert taxonomy.department_name("housing_obolonskyi") == (
        "КП «Керуюча компанія з обслуговування житлового фонду Оболонський району»"
    )
    assert taxonomy.department_name("rda_pecherskyi") == "Печерський районна в місті Києві державна адміністрація"
    with pytest.raises(KeyError):
        taxonomy.department_name("housing_atlantis")


def test_every_department_code_has_a_name(taxonomy):
    names = {code: taxonomy.department_name(code) for code in taxonomy.department_codes()}

    assert all(name and "{" not in name for name in names.values())


def test_aliases_resolve_to_their_category():
    raw = raw_taxonomy()
    raw["aliases"] = {"ice": "snow_ice"}

    taxonomy = Taxonomy.model_validate(raw)

    assert taxonomy.category("ice").department == "district_admin"
    assert taxonomy.department_for("ice", "podilskyi") == "rda_podilskyi"


def _broken(change) -> dict:
    raw = raw_taxonomy()
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            _broken(lambda t: t["categories"]["gas"].update(department="gaz_service")),
            "category gas: unknown department 'gaz_service'",
        ),
        (_broken(lambda t: t["categories"]["snow_ice"].update(scope="city")), "category snow_ice: scope city"),
        (_broken(lambda t: t["categories"]["heating"].update(scope="district")), "category heating: scope district"),
        (_broken(lambda t: t.update(aliases={"ice": "frost"})), "alias ice: unknown category 'frost'"),
        (_broken(lambda t: t["categories"].pop("unclassified")), "category 'unclassified' is required"),
        (_broken(lambda t: t["departments"].pop("contact_center")), "contact_center"),
        (_broken(lambda t: t["urgency"]["low"].update(due="2w")), "due must look like 24h or 15d"),
        (_broken(lambda t: t.update(holidays=[])), "holidays"),
    ],
    ids=[
        "unknown-department",
        "scoped-as-city",
        "city-as-scoped",
        "bad-alias",
        "no-unclassified",
        "no-contact-center",
        "bad-due",
        "unknown-key",
    ],
)
def test_invalid_taxonomy_is_rejected(tmp_path, raw, problem):
    with pytest.raises(ValidationError, match=re.escape(problem)):
        Taxonomy.model_validate(raw)

    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: ", str(caught.value))  # the file and the line
    assert problem in str(caught.value)


def test_load_taxonomy_names_a_missing_file(tmp_path):
    with pytest.raises(TaxonomyError, match=r"absent\.yaml"):
        load_taxonomy(tmp_path / "absent.yaml")


def test_all_topics_has_pipeline_department_and_dead_letter_topics(taxonomy):
    all_topics = topics.all_topics(taxonomy)

    # pipeline topics (with appeals.escalated and appeals.replies), tasks and incidents per department, dead letters
    # of the pipeline, the notifications' dead letters, and the consultations given
    assert len(all_topics) == 8 + 41 + 41 + 8 + 1 + 1
    assert topics.CONSULTATIONS_GIVEN in all_topics
    assert topics.NOTIFICATIONS_DLQ in all_topics
    assert "dept.housing_podilskyi.incidents" in all_topics and "appeals.escalated" in all_topics
    assert set(all_topics.values()) == {topics.DEFAULT_PARTITIONS}
    assert "dept.housing_podilskyi.assignments" in all_topics
    assert "appeals.intake.dlq" in all_topics
    assert topics.department_assignments("kyivgaz") == "dept.kyivgaz.assignments"
    assert topics.dead_letter("appeals.assigned") == "appeals.assigned.dlq"
