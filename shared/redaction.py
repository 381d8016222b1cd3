"""Residents' phone numbers and e-mail addresses masked in text meant for logs: enough stays to tell two apart
(`+380*******67`, `o***@example.com`), never enough to contact anyone."""

import re

_EMAIL = re.compile(r"(?<![\w.%+-])([\w%+-])[\w.%+-]*@((?:[\w-]+\.)+[A-Za-z]{2,})")
# E.164 (+380671234567), the same without the plus (380671234567), and a Ukrainian number as people write it
# (067 123 45 67, 067-123-45-67, 0671234567). Appeal numbers (seven digits from 1000000) are none of these.
_PHONES = (
    re.compile(r"(?<![\w+])(\+?)(\d{3})(\d{5,10})(\d{2})(?!\d)"),
    re.compile(r"(?<![\w+])()(0\d{2})([\s-]?\d{3}[\s-]?\d{2}[\s-]?)(\d{2})(?!\d)"),
)


def _mask_phone(match: re.Match) -> str:
    plus, head, middle, tail = match.groups()
    if not plus and not (head.startswith("380") or head.startswith("0")):
        return match.group(0)
    return plus + head + re.sub(r"\d", "*", middle) + tail


def redact(text: str) -> str:
    text = _EMAIL.sub(r"\1***@\2", text)
    for pattern in _PHONES:
        text = pattern.sub(_mask_phone, text)
    return text
