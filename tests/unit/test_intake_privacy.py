"""services/intake/privacy.py: what a public read may show of notes, comments and addresses. Table-driven."""

import pytest

from services.intake.privacy import (
    EMAIL,
    FLAT,
    NAME,
    PHONE,
    mask_private,
    public_address,
    public_coordinate,
)


@pytest.mark.parametrize(
    ("text", "public"),
    [
        # phone numbers as people write them
        ("Дзвонили за номером +380 67 123 45 67", f"Дзвонили за номером {PHONE}"),
        ("тел. 067-123-45-67, ввечері", f"тел. {PHONE}, ввечері"),
        ("+38 (067) 123-45-67", PHONE),
        ("0671234567 або 380671234567", f"{PHONE} або {PHONE}"),
        ("звонить 8 067 123 45 67", f"звонить {PHONE}"),
        ("(044) 234-56-78 або 234-56-78", f"{PHONE} або {PHONE}"),
        ("+7 (495) 123-45-67", PHONE),
        # e-mails
        ("відповідь на ivan.petrenko+1@ukr.net надіслано", f"відповідь на {EMAIL} надіслано"),
        # flat numbers: Ukrainian, Russian, English
        ("витік у кв. 15", f"витік у {FLAT}"),
        ("кв.15а та кв 7", f"{FLAT} та {FLAT}"),
        ("квартира 15, квартирі №16, квартиры 17", f"{FLAT}, {FLAT}, {FLAT}"),
        ("в квартире 23 нет воды", f"в {FLAT} нет воды"),
        ("flat 15, apt. 4", f"{FLAT}, {FLAT}"),
        # names after a title, with initials, with a patronymic
        ("Зателефонували пані Олені Петренко", f"Зателефонували пані {NAME}"),
        ("гр. Іваненко повідомлено", f"гр. {NAME} повідомлено"),
        ("гражданин Иванов уведомлен", f"гражданин {NAME} уведомлен"),
        ("Відповідь надав Петренко І. В.", f"Відповідь надав {NAME}"),
        ("звернення І.В. Петренка", f"звернення {NAME}"),
        ("Заявник: Іваненко Петро Васильович, 5 поверх", f"Заявник: {NAME}, 5 поверх"),
        ("Иванова Мария Петровна звонила", f"{NAME} звонила"),
        # the operator's name in a triage note
        ("operator Ірина: Йдеться про прорив труби", "operator: Йдеться про прорив труби"),
        # all at once, as a department writes it
        (
            "Зателефонували за +380671234567, кв. 15, пан Коваль обіцяв доступ",
            f"Зателефонували за {PHONE}, {FLAT}, пан {NAME} обіцяв доступ",
        ),
        # what must stay: appeal numbers, dates, times, house numbers, department words
        (
            "Звернення 1000001 від 01.12.2026 о 10:30: буд. 22, під'їзд 2, бригада КП Київводоканал виїхала",
            "Звернення 1000001 від 01.12.2026 о 10:30: буд. 22, під'їзд 2, бригада КП Київводоканал виїхала",
        ),
        ("Заплановано на 2026-12-03, 9:00-18:00", "Заплановано на 2026-12-03, 9:00-18:00"),
        ("Прийнято в роботу", "Прийнято в роботу"),
    ],
)
def test_private_details_are_masked_and_the_rest_stays(text, public):
    assert mask_private(text) == public


@pytest.mark.parametrize(
    ("text", "names", "public"),
    [
        ("Олена Петренко просила передзвонити", ["Олена Петренко"], f"{NAME} {NAME} просила передзвонити"),
        ("Передали Олені, петренко не відповідає", ["Олена Петренко"], f"Передали {NAME}, {NAME} не відповідає"),
        ("Прийнято", ["Олена Петренко"], "Прийнято"),
    ],
)
def test_the_residents_own_name_is_masked_in_its_forms(text, names, public):
    assert mask_private(text, names) == public


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("вул. Хрещатик, 22, кв. 15", "вул. Хрещатик, 22"),
        ("просп. Перемоги 10 квартира 3", "просп. Перемоги 10"),
        ("ул. Крещатик, д. 22, кв.15", "ул. Крещатик, д. 22"),
        ("вул. Липська, 5", "вул. Липська, 5"),
        ("вул. Б. Хмельницького, 5, кв. 3", "вул. Б. Хмельницького, 5"),  # a street named after a person stays
        ("кв. 15", None),
        (None, None),
    ],
)
def test_addresses_lose_their_flat(address, public):
    assert public_address(address) == public


def test_coordinates_are_rounded_to_the_block():
    assert public_coordinate(50.450123) == 50.45
    assert public_coordinate(30.523456) == 30.523
    assert public_coordinate(None) is None
