"""services/dispatcher/domain.py: every category of the taxonomy to its department, deadlines, contact sharing."""

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from services.dispatcher.domain import RoutingError, find_district, load_routing, locate, route
from services.dispatcher.settings import DEFAULT_ROUTING
from shared.contracts.base import derived_event_id
from shared.contracts.intake import ResidentContact
from shared.textmatch import TermIndex
from tests.unit.fakes import NOW, PHONE, classified_event

DISTRICTS = (
    "holosiivskyi",
    "darnytskyi",
    "desnianskyi",
    "dniprovskyi",
    "obolonskyi",
    "pecherskyi",
    "podilskyi",
    "sviatoshynskyi",
    "solomianskyi",
    "shevchenkivskyi",
)

CITY_WIDE = {
    "heating": "kyivteploenergo",
    "hot_water": "kyivteploenergo",
    "water_supply": "kyivvodokanal",
    "electricity": "electric_networks",
    "gas": "kyivgaz",
    "elevators": "lift_service",
    "waste": "kyivkomunservis",
    "roads": "kyivavtodor",
    "street_lighting": "kyivmisksvitlo",
    "greenery": "kyivzelenbud",
    "public_order": "kyivblagoustrii",
    "public_transport": "kyivpastrans",
    "metro": "kyiv_metro",
    "traffic": "traffic_center",
    "parking": "kyivtransparkservis",
    "social_support": "social_policy",
    "healthcare": "health",
    "education": "education",
    "legal_aid": "legal_aid",
    "psychological_support": "psych_hotline",
    "shelters": "municipal_security",
    "information_request": "contact_center",
    "gratitude": "contact_center",
}
DISTRICT_SCOPED = {"building_maintenance": "housing", "snow_ice": "rda", "war_damage": "rda"}
DEADLINES = {
    "critical": timedelta(hours=24),
    "high": timedelta(days=3),
    "normal": timedelta(days=15),
    "low": timedelta(days=30),
}
SHARES_CONTACT = {"contact_center", "legal_aid", "psych_hotline", "social_policy", "health", "education"}
CONTACT = ResidentContact(name="Олена", phone=PHONE)


def test_the_tables_here_cover_every_category_of_the_taxonomy(taxonomy):
    assert set(CITY_WIDE) | set(DISTRICT_SCOPED) | {"unclassified"} == set(taxonomy.categories)
    assert set(DISTRICTS) == set(taxonomy.districts)


@pytest.mark.parametrize(("category", "department"), sorted(CITY_WIDE.items()))
def test_city_wide_category_goes_to_its_department(routing, taxonomy, category, department):
    # A district in the address changes nothing for a city-wide category.
    event = classified_event(category, "normal", text="Звернення без адреси", district="obolonskyi")

    assignment = route(event, routing, NOW).assigned.assignment

    assert assignment.department == department
    assert assignment.outcome == "assigned"
    assert assignment.department_name == taxonomy.departments[department]
    assert category in assignment.reason


@pytest.mark.parametrize("district", DISTRICTS)
@pytest.mark.parametrize(("category", "unit"), sorted(DISTRICT_SCOPED.items()))
def test_district_scoped_category_goes_to_the_unit_of_the_district(routing, taxonomy, category, unit, district):
    event = classified_event(category, "high", text="Звернення", district=district)

    dispatch = route(event, routing, NOW)
    assignment = dispatch.assigned.assignment

    assert assignment.department == f"{unit}_{district}"
    assert assignment.district == district
    assert assignment.outcome == "assigned"
    assert taxonomy.districts[district] in assignment.department_name
    assert "{district}" not in assignment.department_name and "(code:" not in assignment.department_name
    assert dispatch.task.department == f"{unit}_{district}"
    assert dispatch.task.district == district


@pytest.mark.parametrize("category", sorted(DISTRICT_SCOPED))
def test_district_scoped_category_without_a_district_goes_to_triage(routing, category):
    event = classified_event(category, "high", text="Бурульки над входом у будинок")

    dispatch = route(event, routing, NOW)
    assignment = dispatch.assigned.assignment

    assert assignment.department == "contact_center"
    assert assignment.outcome == "triage"
    assert assignment.district is None
    assert "district" in assignment.reason
    assert dispatch.task.status == "triage"


@pytest.mark.parametrize("district", [None, "pecherskyi"])
def test_unclassified_goes_to_triage_at_the_contact_center(routing, district):
    event = classified_event("unclassified", "normal", district=district)

    assignment = route(event, routing, NOW).assigned.assignment

    assert (assignment.department, assignment.outcome) == ("contact_center", "triage")
    assert "person" in assignment.reason


def test_the_district_can_come_from_the_text_of_the_appeal(routing):
    event = classified_event("snow_ice", "high", text="Не прибирають сніг біля метро Героїв Дніпра на Оболоні")

    assert route(event, routing, NOW).assigned.assignment.department == "rda_obolonskyi"


@pytest.mark.parametrize(("urgency", "delta"), sorted(DEADLINES.items()))
def test_due_at_is_now_plus_the_deadline_of_the_urgency(routing, urgency, delta):
    event = classified_event("heating", urgency)

    dispatch = route(event, routing, NOW)

    assert dispatch.assigned.assignment.due_at == NOW + delta
    assert dispatch.task.due_at == NOW + delta
    assert dispatch.task.urgency == urgency


@pytest.mark.parametrize(
    ("category", "district"),
    [*[(code, None) for code in sorted(CITY_WIDE)], ("unclassified", None), ("building_maintenance", "podilskyi")],
)
def test_task_carries_the_contact_only_for_departments_that_call_back(routing, category, district):
    event = classified_event(category, "normal", district=district, contact=CONTACT)

    task = route(event, routing, NOW).task

    if task.department in SHARES_CONTACT:
        assert task.contact == CONTACT
    else:
        assert task.contact is None
    # The address and the text always go with the task.
    assert task.text == event.text
    assert task.address == event.address


def test_shares_contact_exactly_with_the_departments_of_routing_yaml(routing):
    assert routing.share_contact_with == SHARES_CONTACT


def test_route_is_deterministic_and_derives_event_ids(routing, taxonomy):
    event = classified_event("gas", "critical", contact=CONTACT)

    first, again = route(event, routing, NOW), route(event, routing, NOW)

    assert first == again
    assert first.assigned.event_id == derived_event_id("assigned", event.event_id)
    assert first.task.event_id == derived_event_id("task", first.assigned.event_id)
    assert first.assigned.occurred_at == NOW == first.task.occurred_at
    assert first.task.correlation_id == event.correlation_id
    assert first.task.category_name == taxonomy.categories["gas"].name
    # The incoming classification had no decision id: the classified event is the decision.
    assert first.assigned.classification == event.classification.model_copy(
        update={"decision_id": str(event.event_id), "decided_at": event.occurred_at}
    )


def test_route_fills_the_decision_from_the_classified_event_when_the_classification_lacks_it(routing):
    event = classified_event("gas", "critical")
    assert (event.classification.decision_id, event.classification.decided_at) == ("", None)

    classification = route(event, routing, NOW + timedelta(minutes=1)).assigned.classification

    assert classification.decision_id == str(event.event_id)
    assert classification.decided_at == event.occurred_at
    assert (classification.category, classification.urgency) == ("gas", "critical")


def test_route_keeps_the_decision_the_classification_carries(routing):
    classified = classified_event("gas", "critical")
    decided_at = NOW - timedelta(seconds=7)
    classification = classified.classification.model_copy(
        update={"decision_id": "decision-of-an-operator", "decided_at": decided_at}
    )
    event = classified.model_copy(update={"classification": classification})

    assert route(event, routing, NOW).assigned.classification == classification


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("Прибирання снігу на Оболоні", "obolonskyi"),
        ("Троєщина, вул. Закревського 19", "desnianskyi"),
        ("Печерський район, бульвар Лесі Українки", "pecherskyi"),
        ("Печерськ, Печерський район", "pecherskyi"),
        ("вул. Хрещатик, центр міста", "shevchenkivskyi"),
        ("Лук'янівка", "shevchenkivskyi"),
        ("Солом’янська площа", "solomianskyi"),
        ("Позняки, вул. Драгоманова", "darnytskyi"),
        ("Академмістечко", "sviatoshynskyi"),
        ("Теремки-2", "holosiivskyi"),
        ("Русанівка, набережна", "dniprovskyi"),
        ("Поділ, Контрактова площа", "podilskyi"),
        ("Obolon, Kyiv", "obolonskyi"),
        ("Пуща-Водиця", "obolonskyi"),
        # Every word of a many-word name is a stem, the words in a row.
        ("Харківський масив", "darnytskyi"),
        ("вул. Ревуцького, Харківський масив", "darnytskyi"),
        ("Харьковский массив", "darnytskyi"),
        ("Мінський масив", "obolonskyi"),
        ("Минский массив, ул. Героев Днепра", "obolonskyi"),
        ("Лісовий масив", "desnianskyi"),
        ("Лесной массив", "desnianskyi"),
        ("Вітряні гори", "podilskyi"),
        ("житловий масив", None),
        ("масив Харківський", None),
        # A stem ending in "!" is the whole word only.
        ("Хочу поділитися враженнями", None),
        ("поділитися", None),
        ("Як подолати черги у ЦНАП?", None),
        ("подолати", None),
        ("Не вивозять сміття на Подолі", "podilskyi"),
        ("на Подолі", "podilskyi"),
        ("Подол, Контрактовая площадь", "podilskyi"),
        ("Podil, Kyiv", "podilskyi"),
        ("з Оболоні на Печерськ", None),
        ("вулиця Хрещатик, 1", None),
        ("", None),
    ],
)
def test_find_district(routing, text, district):
    assert find_district(text, routing) == district


def test_locate_prefers_the_district_code_then_the_address_text_then_the_appeal_text(routing):
    by_code = classified_event("waste", district="podilskyi", address_text="Оболонь", text="Печерськ")
    by_address = classified_event("waste", address_text="Оболонський район", text="Печерськ")
    by_text = classified_event("waste", text="Печерськ, сміття")
    # A code that is no district of the taxonomy is ignored.
    unknown_code = classified_event("waste", district="atlantis", text="Троєщина")

    assert locate(by_code, routing) == "podilskyi"
    assert locate(by_address, routing) == "obolonskyi"
    assert locate(by_text, routing) == "pecherskyi"
    assert locate(unknown_code, routing) == "desnianskyi"


# --- the routing file --------------------------------------------------------------------------


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"district_names": {"atlantis": ["атлант"]}, "share_contact_with": []}, "unknown district codes ['atlantis']"),
        (
            {"district_names": {"podilskyi": ["поділ"]}, "share_contact_with": ["nasa"]},
            "unknown department codes ['nasa']",
        ),
        ({"district_names": {}, "share_contact_with": [], "streets": {}}, "streets"),
        ({"district_names": {}}, "share_contact_with"),
        ({"district_names": ["podilskyi"], "share_contact_with": []}, "district_names"),
        ({"district_names": {"podilskyi": ["поділ!", "!"]}, "share_contact_with": []}, "term '!' has no letters"),
        ({"district_names": {"podilskyi": ["—"]}, "share_contact_with": []}, "term '—' has no letters"),
    ],
    ids=["unknown-district", "unknown-department", "extra-key", "missing-key", "bad-structure", "bang", "dash"],
)
def test_invalid_routing_is_refused_with_the_problem_named(tmp_path, taxonomy, data, problem):
    path = _write(tmp_path, data)

    with pytest.raises(RoutingError) as caught:
        load_routing(path, taxonomy)

    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_routing_may_share_contact_with_a_district_unit(tmp_path, taxonomy):
    path = _write(tmp_path, {"district_names": {"podilskyi": ["поділ"]}, "share_contact_with": ["housing_podilskyi"]})

    assert load_routing(path, taxonomy).share_contact_with == {"housing_podilskyi"}


def _shipped_names() -> list[tuple[str, str]]:
    data = yaml.safe_load(DEFAULT_ROUTING.read_text(encoding="utf-8"))
    return [(district, name) for district, names in data["district_names"].items() for name in names]


def test_shipped_routing_names_every_district(routing):
    assert isinstance(routing.district_names, TermIndex)
    assert {district for district, _ in _shipped_names()} == set(DISTRICTS)


@pytest.mark.parametrize(("district", "name"), _shipped_names(), ids=[name for _, name in _shipped_names()])
def test_every_shipped_name_finds_its_own_district_and_no_other(routing, district, name):
    # The name as a resident writes it: without the "!" that marks a whole word.
    assert find_district(name.rstrip("!"), routing) == district
