"""shared/textmatch.py: normalizing and splitting text, compiling terms, and finding them in a text."""

import pytest

from shared.textmatch import Term, TermIndex, compile_term, normalize, tokenize


def find(terms: list[Term], text: str) -> list[tuple[str, str]]:
    return [(term.label, matched) for term, matched in TermIndex(terms).find(tokenize(text))]


# --- normalize and tokenize --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("ПОДІЛ", "поділ"),
        ("Під’їзд", "під'їзд"),
        ("Підʼїзд", "під'їзд"),
        ("Під`їзд", "під'їзд"),
        ("Ёлка, ЁЛКА", "елка, елка"),
        ("Gas Smell", "gas smell"),
        ("", ""),
    ],
)
def test_normalize_lowers_and_folds_apostrophes_and_yo(text, normalized):
    assert normalize(text) == normalized


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Немає опалення, батареї холодні!", ["немає", "опалення", "батареї", "холодні"]),
        ("Пуща-Водиця, Теремки-2", ["пуща-водиця", "теремки-2"]),
        ("Солом’янська площа", ["солом'янська", "площа"]),
        ("вул. Хрещатик, 1", ["вул", "хрещатик", "1"]),
        ("...  — !", []),
        ("", []),
    ],
)
def test_tokenize_splits_words_keeping_apostrophes_and_hyphens(text, tokens):
    assert tokenize(text) == tokens


# --- compile_term ------------------------------------------------------------------------------


def test_compile_term_keeps_label_and_weight_and_normalizes_the_words():
    assert compile_term("darnytskyi", "Харківськ  Масив", 2.0) == Term("darnytskyi", ("харківськ", "масив"), 2.0)
    assert compile_term("gas", "газ").weight == 1.0


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("газ!", ("газ!",)),
        ("газ !", ("газ",)),  # the mark belongs to the word it is attached to
        ("газ! плита", ("газ!", "плита")),
        ("  поділ!  ", ("поділ!",)),
        ("вітряні гори!", ("вітряні", "гори!")),
        ("газ", ("газ",)),
    ],
)
def test_compile_term_marks_a_whole_word_with_a_trailing_bang(raw, words):
    assert compile_term("x", raw).words == words


@pytest.mark.parametrize("raw", ["!", "...", "—", "  ", "", "!!", "« »", "?!"])
def test_compile_term_refuses_a_term_with_no_letters(raw):
    with pytest.raises(ValueError, match=r"has no letters") as caught:
        compile_term("x", raw)

    assert repr(raw) in str(caught.value)


# --- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "tokens", "start", "matches"),
    [
        ("батаре", ["батареї"], 0, True),
        ("батаре", ["батарея"], 0, True),
        ("батаре", ["батаре"], 0, True),
        ("батаре", ["стара", "батарея"], 0, False),
        ("батаре", ["стара", "батарея"], 1, True),
        ("газ!", ["газ"], 0, True),
        ("газ!", ["газон"], 0, False),
        ("газ!", ["газу"], 0, False),
        ("харківськ масив", ["харківський", "масив"], 0, True),
        ("харківськ масив", ["харківський", "масиви"], 0, True),
        ("харківськ масив", ["харківський", "район", "масив"], 0, False),
        ("харківськ масив", ["масив", "харківський"], 0, False),
        # A term longer than what is left of the text does not match.
        ("харківськ масив", ["харківський"], 0, False),
        ("вітряні гори!", ["вітряні", "гори"], 0, True),
        ("вітряні гори!", ["вітряні", "горіхи"], 0, False),
    ],
)
def test_term_matches_at(raw, tokens, start, matches):
    assert compile_term("x", raw).matches_at(tokens, start) is matches


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Харківський масив", [("darnytskyi", "харківський масив")]),
        ("Мінський масив", [("obolonskyi", "мінський масив")]),
        ("Лісовий масив", [("desnianskyi", "лісовий масив")]),
        ("житловий масив", []),
        ("на Подолі", [("podilskyi", "подолі")]),
        ("Хочу поділитися", []),
        ("Як подолати черги", []),
        ("Поділ", [("podilskyi", "поділ")]),
        ("Подільський район", [("podilskyi", "подільський")]),
    ],
)
def test_term_index_finds_stems_whole_words_and_names_of_several_words(text, found):
    terms = [
        compile_term("darnytskyi", "харківськ масив"),
        compile_term("obolonskyi", "мінськ масив"),
        compile_term("desnianskyi", "лісов масив"),
        compile_term("podilskyi", "поділ!"),
        compile_term("podilskyi", "подолі!"),
        compile_term("podilskyi", "подільськ"),
    ]

    assert find(terms, text) == found


def test_term_index_finds_every_term_in_the_order_of_the_text():
    terms = [compile_term("heating", "батаре"), compile_term("heating", "опаленн"), compile_term("urgent", "терміново")]

    found = find(terms, "Терміново! Немає опалення, батареї холодні, батарея тече")

    assert found == [
        ("urgent", "терміново"),
        ("heating", "опалення"),
        ("heating", "батареї"),
        ("heating", "батарея"),
    ]


def test_term_index_tells_apart_terms_that_share_their_first_letters():
    terms = [compile_term("gas", "газ!"), compile_term("greenery", "газон"), compile_term("gas", "газопостач")]

    assert find(terms, "газ газон газопостачання газета") == [
        ("gas", "газ"),
        ("greenery", "газон"),
        ("gas", "газопостачання"),
    ]


def test_term_index_reports_overlapping_terms_each():
    terms = [compile_term("smell", "запах газ"), compile_term("gas", "газ")]

    assert find(terms, "Сильний запах газу") == [("smell", "запах газу"), ("gas", "газу")]


def test_term_index_matches_across_case_apostrophes_and_yo():
    terms = [compile_term("solomianskyi", "Солом’ян"), compile_term("tree", "ёлк")]

    assert find(terms, "СОЛОМʼЯНСЬКА площа") == [("solomianskyi", "солом'янська")]
    assert find(terms, "Ёлки у дворі") == [("tree", "елки")]


def test_term_index_of_nothing_finds_nothing():
    assert TermIndex([]).find(tokenize("Харківський масив")) == []
    assert find([compile_term("x", "батаре")], "") == []
