"""Routing as data: every category to its department, district units for all ten districts, where an appeal is
(structured address, street gazetteer with house numbers, district and neighbourhood names) and due times."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.dispatcher.domain import (
    CONTACT_CENTER,
    LEGAL_MAX_DUE,
    RoutingError,
    load_routing,
    locate,
    route,
)
from services.dispatcher.gazetteer import Gazetteer, GazetteerError, Street, load_gazetteer, stem_term
from services.dispatcher.settings import DEFAULT_ROUTING, DispatcherSettings
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import DISTRICT_SCOPED, load_taxonomy
from tests.unit.fakes import NOW, classified_event

# Loaded here for parametrization at collection; test_dispatcher_domain checks they are Kyiv's ten districts.
DISTRICTS = list(load_taxonomy(DEFAULT_TAXONOMY).districts)


def city_wide(taxonomy):
    return [code for code, category in taxonomy.categories.items() if category.scope == "city"]


def district_scoped(taxonomy):
    return [code for code, category in taxonomy.categories.items() if category.scope == "district"]


def test_every_city_wide_category_goes_to_its_one_department_from_any_district(routing, taxonomy):
    for category in city_wide(taxonomy):
        expected = taxonomy.categories[category].department
        for district in [*DISTRICTS, None]:
            assignment = route(classified_event(category, district=district), routing, NOW).assigned.assignment
            assert assignment.department == expected, (category, district)
            outcome = "triage" if category == "unclassified" else "assigned"
            assert assignment.outcome == outcome, (category, district)


@pytest.mark.parametrize("district", DISTRICTS)
def test_district_scoped_categories_go_to_the_unit_of_each_district(routing, taxonomy, district):
    for category in district_scoped(taxonomy):
        pattern = DISTRICT_SCOPED[taxonomy.categories[category].department]
        dispatch = route(classified_event(category, district=district), routing, NOW)
        assert dispatch.assigned.assignment.department == pattern.format(district=district)
        assert dispatch.assigned.assignment.outcome == "assigned"
        assert dispatch.task.department == dispatch.assigned.assignment.department
        # the unit's name carries the district's name
        assert taxonomy.districts[district] in dispatch.assigned.assignment.department_name


def test_a_district_scoped_category_with_an_unknown_district_goes_to_the_contact_center_with_the_reason(routing):
    dispatch = route(classified_event("snow_ice", text="Не прибрано сніг біля будинку"), routing, NOW)
    assert dispatch.assigned.assignment.department == CONTACT_CENTER
    assert dispatch.assigned.assignment.outcome == "triage"
    assert "district is unknown" in dispatch.assigned.assignment.reason


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("Оболонський район, не вивозять сміття", "obolonskyi"),
        ("Прорвало трубу на Оболоні", "obolonskyi"),
        ("Троєщина, немає світла в під'їзді", "desnianskyi"),
        ("На Позняках яма посеред двору", "darnytskyi"),
        ("Борщагівка, не працює ліфт", "sviatoshynskyi"),
        ("Виноградар, зламана лавка", "podilskyi"),
        ("Лісовий масив, не горять ліхтарі", "desnianskyi"),
        ("Харківський масив, підтоплення", "darnytskyi"),
        ("Русанівка, зламане дерево", "dniprovskyi"),
        ("Теремки, немає гарячої води", "holosiivskyi"),
        ("Відрадний, не прибрано сніг", "solomianskyi"),
        ("на Подолі не працює світлофор", "podilskyi"),
    ],
)
def test_district_and_neighbourhood_names_in_text(routing, text, district):
    assert locate(classified_event("waste", text=text), routing) == district


@pytest.mark.parametrize(
    ("address_text", "district"),
    [
        ("вул. Липська, 5", "pecherskyi"),
        ("просп. Оболонський, 15", "obolonskyi"),
        ("вулиця Оболонська, 3", "podilskyi"),  # the street type tells it from Оболонський проспект
        ("Драгоманова 31б, кв. 4", "darnytskyi"),
        ("вул. Маршала Малиновського 12", "obolonskyi"),  # a former name
        ("вул. Лаврська, 10", "pecherskyi"),  # split in 2025 into Івана Мазепи and Новонаводницька
        ("проспект Рокоссовського, 5", "obolonskyi"),  # renamed Дмитра Павличка in 2025
        ("вулиця Рональда Рейгана 8", "desnianskyi"),
        ("ул. Крушельницкой, 7", "darnytskyi"),  # the Russian form
        ("вул. Милославська 20", "desnianskyi"),
        ("проспект Ватутіна, 2", None),  # a former name of a street crossing districts
        ("вул. Хрещатик, 22", None),  # crosses districts, split unknown
        ("Берестейський проспект, 20", None),
        ("Берестейський проспект, 20, Святошинський район", "sviatoshynskyi"),  # other evidence still counts
    ],
)
def test_streets_of_the_gazetteer_in_the_address(routing, address_text, district):
    assert locate(classified_event("waste", address_text=address_text), routing) == district


def test_a_structured_district_wins_over_the_street(routing):
    event = classified_event("waste", address_text="вул. Липська, 5", district="obolonskyi")
    assert locate(event, routing) == "obolonskyi"


def test_in_free_text_a_street_counts_only_with_its_type_or_a_house_number(routing):
    assert locate(classified_event("waste", text="Яма на вулиці Липській біля школи"), routing) == "pecherskyi"
    assert locate(classified_event("waste", text="Драгоманова 40, не вивезли сміття"), routing) == "darnytskyi"
    # "Липська" alone, as a word in a sentence, is not an address.
    assert locate(classified_event("waste", text="Липська пані скаржиться на сміття"), routing) is None


def test_the_gazetteer_has_at_least_300_streets_with_their_district(routing):
    streets = routing.gazetteer.streets
    assert sum(1 for street in streets if street.district) >= 300
    assert len(DISTRICTS) == 10
    assert {street.district for street in streets if street.district} == set(DISTRICTS)
    assert any(street.ambiguous for street in streets)


SEGMENTED = Street.model_validate(
    {
        "name": "Тестова",
        "type": "вулиця",
        "segments": [
            {"district": "pecherskyi", "from": 1, "to": 40},
            {"district": "holosiivskyi", "from": 41, "side": "odd"},
            {"district": "solomianskyi", "from": 42, "side": "even"},
        ],
    }
)


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("вул. Тестова, 12", "pecherskyi"),
        ("вул. Тестова, 40а", "pecherskyi"),
        ("вул. Тестова, 41", "holosiivskyi"),
        ("вул. Тестова, буд. 100", "solomianskyi"),
        ("вул. Тестова", None),  # no house number: the street alone does not tell
    ],
)
def test_a_street_crossing_districts_is_resolved_by_house_number(text, district):
    match = Gazetteer([SEGMENTED]).find(text, need_marker=False)
    assert match is not None and match.district == district


def test_street_names_match_in_any_case_form():
    # Folded as well: і/и/ы and є/е/э are one letter, the soft sign is dropped (Russian and Ukrainian forms meet).
    assert stem_term("Велика Васильківська") == "велик! василкивск!" == stem_term("Великая Васильківская")
    assert stem_term("Мира") == "мир!"
    gazetteer = Gazetteer([Street(name="Велика Васильківська", district="pecherskyi")])
    assert gazetteer.find("на Великій Васильківській", need_marker=False).street.name == "Велика Васильківська"
    assert gazetteer.find("Velyka Vasylkivs'ka 5", need_marker=False) is None  # no Latin form given
    latin = Gazetteer([Street(name="Велика Васильківська", district="pecherskyi", latin=["Velyka Vasylkivska"])])
    assert latin.find("Velyka Vasylkivs'ka 5", need_marker=False).district == "pecherskyi"
    assert latin.find("Velikaya Vasilkivskaya 5", need_marker=False).district == "pecherskyi"
    # A stem is matched whole: "Пушкіна" is not the start of "Пушкінська".
    pushkina = Gazetteer([Street(name="Пушкіна", district="desnianskyi")])
    assert pushkina.find("вул. Пушкінська, 9", need_marker=False) is None
    assert pushkina.find("на вулиці Пушкіна, 9", need_marker=False).district == "desnianskyi"


def test_a_former_name_two_streets_had_does_not_tell_the_district():
    gazetteer = Gazetteer(
        [
            Street(name="Євгена Коновальця", district="pecherskyi", former=["Щорса"]),
            Street(name="Вадима Модзалевського", district="desnianskyi", former=["Щорса"]),
        ]
    )
    assert gazetteer.find("ул. Щорса, 32", need_marker=False) is None
    assert gazetteer.find("вул. Євгена Коновальця, 32", need_marker=False).district == "pecherskyi"


def test_a_street_entry_gives_exactly_one_answer():
    with pytest.raises(ValidationError, match="exactly one of"):
        Street(name="Тестова", district="pecherskyi", ambiguous=True)
    with pytest.raises(ValidationError, match="exactly one of"):
        Street(name="Тестова")


def test_a_bad_gazetteer_names_the_file_and_the_street(tmp_path, taxonomy):
    path = tmp_path / "gazetteer.yaml"
    path.write_text("streets:\n  - {name: Тестова, district: atlantis}\n", encoding="utf-8")
    with pytest.raises(GazetteerError, match=r"gazetteer\.yaml:2: streets\.0: вулиця Тестова: unknown district"):
        load_gazetteer(path, taxonomy.districts)
    path.write_text("streets:\n  - {name: Тестова, district: podilskyi}\n  - {name: Тестова, district: podilskyi}\n")
    with pytest.raises(GazetteerError, match=r"gazetteer\.yaml:3: streets\.1: вулиця Тестова: repeats streets\.0"):
        load_gazetteer(path, taxonomy.districts)
    path.write_text(
        "streets:\n  - {name: Тестова, district: podilskyi}\n  - {name: Нова, ambiguous: true, district: podilskyi}\n"
    )
    with pytest.raises(GazetteerError, match=r"gazetteer\.yaml:3: streets\.1: .*exactly one of"):
        load_gazetteer(path, taxonomy.districts)
    # a Russian or Latin form that spells another street of the same type (in any case form) could never be told
    # apart (a former name may: people still use it for either street)
    path.write_text(
        "streets:\n  - {name: Тестова, district: podilskyi}\n"
        "  - {name: Нова, district: pecherskyi, russian: [Тестової]}\n",
        encoding="utf-8",
    )
    with pytest.raises(GazetteerError, match=r"yaml:3: streets\.1: вулиця Нова: 'Тестової' also names вулиця Тестова"):
        load_gazetteer(path, taxonomy.districts)


def test_routing_refuses_unknown_incident_categories(tmp_path, taxonomy):
    path = tmp_path / "routing.yaml"
    path.write_text(
        "district_names: {}\nshare_contact_with: []\nincidents: {categories: [teleportation]}\n", encoding="utf-8"
    )
    with pytest.raises(RoutingError, match=r"routing\.yaml: incidents: unknown category codes \['teleportation'\]"):
        load_routing(path, taxonomy)


# ---- due times ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "due"),
    [
        ("critical", timedelta(hours=24)),
        ("high", timedelta(days=3)),
        ("normal", timedelta(days=15)),
        ("low", timedelta(days=30)),
    ],
)
def test_default_due_times_follow_urgency(routing, urgency, due):
    assert route(classified_event("heating", urgency), routing, NOW).assigned.assignment.due_at == NOW + due


def test_due_times_are_configurable_in_settings(taxonomy):
    settings = DispatcherSettings(due_critical="PT6H", due_low="P45D")
    routing = load_routing(DEFAULT_ROUTING, taxonomy, settings.deadlines())
    assert route(classified_event("gas", "critical"), routing, NOW).assigned.assignment.due_at == NOW + timedelta(
        hours=6
    )
    assert route(classified_event("roads", "low"), routing, NOW).assigned.assignment.due_at == NOW + LEGAL_MAX_DUE
    # not overridden: the taxonomy's
    assert route(classified_event("roads", "normal"), routing, NOW).assigned.assignment.due_at == NOW + timedelta(
        days=15
    )


def test_a_due_time_beyond_the_legal_maximum_is_refused():
    with pytest.raises(ValidationError, match="at most 45 days"):
        DispatcherSettings(due_low="P46D")
    with pytest.raises(ValidationError, match="positive"):
        DispatcherSettings(due_high=0)


def test_load_routing_refuses_deadlines_beyond_the_law(taxonomy):
    with pytest.raises(RoutingError, match="deadline for low"):
        load_routing(DEFAULT_ROUTING, taxonomy, {"low": timedelta(days=60)})
