"""What the public may see of an appeal's words: the one masking function of every public read. Pure.

Its own module because every public answer (the status API's history, Open311's status notes and address) goes
through it, and the table of what is masked is read and tested apart from the answers' shapes.

Masked: e-mail addresses, phone numbers (phonenumbers' matcher for Ukraine, plus digit runs a phone number is
written as that it does not take for valid), flat numbers (кв. 15, квартира 15, flat 15) and names (the resident's
own, names after a title such as пан/гр., "Surname N. P." initials, full names with a patronymic, and the operator's
name in a triage note). Coordinates shown to the public are rounded to PUBLIC_COORDINATE_DECIMALS.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from phonenumbers import Leniency, PhoneNumberMatcher

# Three decimals: about 110 m north-south and 70 m east-west in Kyiv (50.45° N) — the block, not the house.
PUBLIC_COORDINATE_DECIMALS = 3
PHONE, EMAIL, NAME, FLAT = "[телефон]", "[e-mail]", "[ім'я]", "[квартира]"

_UPPER, _LOWER = "A-ZА-ЯІЇЄҐЁ", "a-zа-яіїєґёъыэ'’ʼ"
_WORD = f"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?"
_INITIAL = f"[{_UPPER}]\\."


@dataclass(frozen=True)
class Rule:
    """One kind of private detail: what finds it and what stands in its place."""

    name: str
    pattern: re.Pattern[str]
    replacement: str


RULES = (
    Rule("e-mail", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE), EMAIL),
    # A flat, with its number (and a letter or a slash part): кв. 15, кв.15а, квартира 15, квартирі №15, flat 15.
    Rule(
        "flat",
        re.compile(
            r"(?<![\w])(?:кв(?:артир[а-яіїє]{0,3})?\.?|кв-ра|apt\.?|apartment|flat)\s*(?:№\s*)?\d+(?:\s?[а-яa-z])?"
            r"(?:/\d+)?(?![\w])",
            re.IGNORECASE,
        ),
        FLAT,
    ),
    # Names after a title or a role word: пан Іван, пані Олена Петренко, гр. Петренко, гражданин Иванов, Mr Smith.
    Rule(
        "titled name",
        re.compile(
            r"(?<![\w])((?i:пан|пані|панові|п\.|гр\.|громадян(?:ин|ка|ина|ці)|гражданин|гражданка|заявни(?:к|ця|ка)|"
            r"заявитель|mr\.?|mrs\.?|ms\.?)\s+)" + f"{_WORD}(?:\\s+{_WORD}){{0,2}}"
        ),
        rf"\1{NAME}",
    ),
    # Initials with a surname, either way round: Петренко І. В., І.В. Петренко.
    Rule(
        "initials",
        re.compile(f"{_WORD}\\s+{_INITIAL}\\s?(?:{_INITIAL})?|{_INITIAL}\\s?(?:{_INITIAL}\\s?)?{_WORD}"),
        NAME,
    ),
    # A full name with a patronymic: Петренко Іван Васильович, Иванова Мария Петровна.
    Rule(
        "patronymic",
        re.compile(
            f"(?:{_WORD}\\s+)?{_WORD}\\s+[{_UPPER}][{_LOWER}]+(?:ович|евич|йович|івна|ївна|овна|евна|ична|інична)(?![\\w])"
        ),
        NAME,
    ),
    # The operator's name in a triage decision's note ("operator Ірина: ..."): staff are not named to the public.
    Rule("operator", re.compile(r"\boperator [^:\n]{1,100}(?=:|$)"), "operator"),
)
# Written like a phone number but not a valid one for the matcher (8 067 ..., a local 234-56-78): digits with the
# usual separators, at least nine digits, or the local three-two-two form.
_PHONE_LIKE = re.compile(r"(?<![\w.,/])\+?\d[\d\s()\-]{7,}\d(?![\w])")
_LOCAL_PHONE = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{2}(?![\w-])")
_MIN_PHONE_DIGITS = 9
_MIN_LOCAL_DIGITS = 7


def _phones_masked(text: str) -> str:
    if sum(char.isdigit() for char in text) < _MIN_LOCAL_DIGITS:
        return text  # no phone number fits: spare the matcher, the dearest step here
    spans = [(match.start, match.end) for match in PhoneNumberMatcher(text, "UA", leniency=Leniency.VALID)]
    for match in _PHONE_LIKE.finditer(text):
        if sum(char.isdigit() for char in match.group()) >= _MIN_PHONE_DIGITS:
            spans.append(match.span())
    spans.extend(match.span() for match in _LOCAL_PHONE.finditer(text))
    for start, end in sorted(_merged(spans), reverse=True):
        text = text[:start] + PHONE + text[end:]
    return text


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _known_names_masked(text: str, names: Iterable[str]) -> str:
    """The resident's own name, word by word, in any case and with a Ukrainian/Russian ending changed."""
    for word in {part for name in names for part in re.split(r"[\s,.]+", name) if len(part) >= 3}:
        stem = word[:-2] if len(word) >= 6 else word[:-1] if len(word) >= 4 else word
        text = re.sub(rf"(?<![\w]){re.escape(stem)}[{_LOWER}]{{0,3}}(?![\w])", NAME, text, flags=re.IGNORECASE)
    return text


def mask_private(text: str, known_names: Iterable[str] = (), *, name_patterns: bool = True) -> str:
    """The text with e-mails, phone numbers, flat numbers and names replaced by what they are.

    `name_patterns=False` leaves names found only by their shape (an address names streets after people)."""
    # E-mails first: their digits are not a phone number; then phones, so that a name rule never eats digits.
    email, flat, *names = RULES
    text = _phones_masked(email.pattern.sub(email.replacement, text))
    text = flat.pattern.sub(flat.replacement, _known_names_masked(text, known_names))
    for rule in names if name_patterns else ():
        text = rule.pattern.sub(rule.replacement, text)
    return text


def public_address(text: str | None, known_names: Iterable[str] = ()) -> str | None:
    """A street address without its flat: "вул. Хрещатик, 22, кв. 15" -> "вул. Хрещатик, 22"."""
    if not text:
        return text
    masked = mask_private(text, known_names, name_patterns=False)
    without_flat = re.sub(rf"[\s,;]*{re.escape(FLAT)}", "", masked).strip(" ,;")
    return without_flat or None


def public_coordinate(value: float | None) -> float | None:
    return round(value, PUBLIC_COORDINATE_DECIMALS) if value is not None else None
