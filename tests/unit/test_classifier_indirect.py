"""services/classifier: the shipped rules on indirect, consequence-first wording, where a resident describes what
the problem does to them and never names its category ("діти сплять у шапках" is heating, "сидимо при свічках" is
electricity). Each case is written for this test, not copied from a labelled set."""

import pytest

from services.classifier.domain import classify_text

CASES = [
    # A cold home: the clothes and the heaters people resort to.
    ("Вдома спимо в шапках і під двома ковдрами, бо батареї холодні", "heating", "high"),
    ("Купили обігрівач, бо в квартирі пар з рота", "heating", "high"),
    ("Радиаторы еле живые, комнатной температуры, сидим в свитерах", "heating", "normal"),
    # A home without power: torches, candles, the neighbours' lit windows.
    ("Третій вечір сидимо при свічках, хоча за графіком має бути світло", "electricity", "high"),
    ("У нас полфазы: чайник не включается, а телевизор работает", "electricity", "high"),
    ("Лампочки тускнеют и вспыхивают, напряжение в сети скачет", "electricity", "normal"),
    # Hot water that is missing, or only lukewarm from the red tap.
    ("З обох кранів тече тільки холодна, гарячої немає третій день", "hot_water", "high"),
    # A weak gas flame.
    ("На плите маленькое пламя, чайник закипает целую вечность", "gas", "normal"),
    ("Запах у коридорі такий, ніби газ, і він дедалі сильніший", "gas", "critical"),
    # Sewage coming back up, a tap that barely trickles.
    ("Каналізація пішла назад, у підвалі нечистоти по коліно", "water_supply", "critical"),
    ("На останньому поверсі з крана ледь капає, відро набираємо пів години", "water_supply", "normal"),
    # A lift described by where it stopped.
    ("Застрягли між 4 і 5 поверхом, кнопка зв'язку мовчить", "elevators", "critical"),
    # Snow described by its effect.
    ("Тротуар на нашій вулиці суцільна ковзанка, люди посковзуються", "snow_ice", "normal"),
    # An ambulance that could not get in is about what blocked it.
    ("Двір не почищений від снігу, швидка не змогла заїхати", "snow_ice", "normal"),
    ("Сусід ставить машину поперек воріт, швидка не змогла заїхати до двору", "parking", "normal"),
    # Trades and works.
    ("Після робіт тепломережі так і залишили яму посеред проїзду", "roads", "normal"),
    ("Стовпи на зупинці обклеїли оголошеннями «кредит без довідок»", "public_order", "normal"),
    ("Забудовник третій рік не віддає квартиру, хочу безкоштовно перевірити договір", "legal_aid", "normal"),
    # People: a bedridden neighbour, sleeplessness after the front.
    ("Сусідка лежача, третій день у неї ні їжі, ні води, ніхто не приходить", "social_support", "high"),
    ("Чоловік повернувся з фронту, не спить ночами і зривається на дітей", "psychological_support", "normal"),
    # Debris where children play.
    ("Біля гаражів лежить уламок дрона, який не вибухнув, діти бігають поруч", "war_damage", "critical"),
    # A shelter that is there but cannot be entered.
    ("Укриття завалене старими меблями, під час тривоги зайти неможливо", "shelters", "high"),
    # The city's companies and the trades' own words.
    ("Київавтодор третій місяць не латає вибоїни на нашій вулиці", "roads", "normal"),
    ("У щитовій горять пробки, пахне паленим пластиком", "electricity", "critical"),
    ("Ливнівку забило, після дощу на дорозі озеро", "roads", "normal"),
    ("Колектори дзвонять щоранку, а кредит не мій", "legal_aid", "normal"),
    ("Сусід кричить, що вистрибне з вікна", "psychological_support", "critical"),
    # Reports in the official register by a school, a kindergarten or an OSBB go to the utility they name.
    ("Директор гімназії повідомляє про відсутність електропостачання в корпусі", "electricity", "high"),
    ("Завідувачка садочка повідомляє про відсутність ХВП з ранку", "water_supply", "high"),
    ("Весь під'їзд ходить з ліхтариками", "electricity", "high"),
    ("Стояк гарячої прорвало в підвалі, парить на весь під'їзд", "hot_water", "critical"),
    # Questions that never name a category.
    ("Який номер аварійної служби Київгазу?", "information_request", "low"),
    ("За яким графіком ходить міська електричка у вихідні?", "information_request", "low"),
]


@pytest.mark.parametrize(("text", "category", "urgency"), CASES, ids=[case[0][:40] for case in CASES])
def test_indirect_wording(rules, text, category, urgency):
    result = classify_text(text, rules)

    assert (result.category, result.urgency) == (category, urgency), result.fired
    assert result.matched_rules[0].startswith(f"{category}.")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # A parent's complaint about a cold school gym stays with the school, coats or not.
        ("У школі в спортзалі не працює опалення, діти на фізкультурі в куртках", "education"),
        # A "hot spot" is no hot water.
        ("Біля заправки справжня гаряча точка, але питання інше: коли повернуть газ?", "gas"),
        # "Буду вдячна, а вот..." is a complaint with manners, not thanks.
        ("Горячая вода есть, спасибо, а вот батареи совсем холодные", "heating"),
        # Selling a sofa is not a waste complaint.
        ("Продам диван, самовивіз", "unclassified"),
    ],
)
def test_words_in_another_sense_do_not_decide(rules, text, category):
    assert classify_text(text, rules).category == category


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        # pymorphy3 reads "плачу" as "I cry" and as "I pay": paying is no distress.
        ("Плачу за опалення вчасно, а батареї холодні", "psychological_support"),
        # The transliteration of English "like" is read as a form of "ліки".
        ("We would like new benches in the park, please", "healthcare"),
        # "leaning" and "leaking" meet through their transliterations.
        ("A dead poplar is leaning over the playground", "building_maintenance"),
    ],
)
def test_a_word_read_in_a_wrong_sense_scores_nothing(rules, text, absent):
    assert absent not in classify_text(text, rules).scores
