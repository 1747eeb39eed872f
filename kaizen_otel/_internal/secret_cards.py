"""Payment card numbers in text: an issuer range, a length that issuer uses, and the Luhn check.

Random 16-19 digit identifiers (snowflake ids, order numbers) are common in logs; ~30 % of them
start like a card and one in ten of those passes Luhn. Checking the length against the issuer's
range (Visa 13/16/19, Mastercard 16, Amex 15, ...) removes most of the rest: an 18-digit id can
only be taken for a Discover, JCB or UnionPay card, and ids starting with ``1`` (Twitter and Discord
snowflakes) never are. What remains is listed in docs/redaction.md.
"""

from __future__ import annotations

import re

__all__ = ["CARD_MARKER", "card_number_ok", "luhn_ok", "scrub_cards"]

CARD_MARKER = "[REDACTED:card]"

#: A run of digits, spaces and dashes long enough for a card (``4111 1111 1111 1111``). It starts
#: with a character class, which the regex engine skips to quickly; word boundaries and groups are
#: checked in Python on the few candidates.
_RUN_RE = re.compile(r"[0-9][0-9 -]{11,}[0-9]")
_GROUP_RE = re.compile(r"[0-9]+")
_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

#: (first digits as a range, allowed lengths); ranges compare the leading digits as integers.
_ISSUERS: tuple[tuple[int, int, int, frozenset[int]], ...] = (
    # (prefix length, low, high, lengths)
    (1, 4, 4, frozenset({13, 16, 19})),  # Visa
    (2, 51, 55, frozenset({16})),  # Mastercard
    (4, 2221, 2720, frozenset({16})),  # Mastercard 2-series
    (2, 34, 34, frozenset({15})),  # American Express
    (2, 37, 37, frozenset({15})),
    (3, 300, 305, frozenset({14, 16, 17, 18, 19})),  # Diners Club
    (2, 36, 36, frozenset({14, 16, 17, 18, 19})),
    (2, 38, 39, frozenset({14, 16, 17, 18, 19})),
    (4, 6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (3, 644, 649, frozenset({16, 17, 18, 19})),
    (2, 65, 65, frozenset({16, 17, 18, 19})),
    (4, 3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (2, 62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _issuer_ok(digits: str) -> bool:
    length = len(digits)
    for size, low, high, lengths in _ISSUERS:
        if length in lengths and low <= int(digits[:size]) <= high:
            return True
    return False


def card_number_ok(candidate: str) -> bool:
    """Whether ``candidate`` (digits, maybe with spaces or dashes) is a plausible card number."""
    digits = candidate.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and _issuer_ok(digits) and luhn_ok(digits)


def _glued(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] touches a letter, digit or ``_`` on either side (``mc2``, ``id4111``)."""
    return (start > 0 and text[start - 1] in _WORDISH) or (end < len(text) and text[end] in _WORDISH)


def _card_in_run(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of a card number made of whole digit groups of text[start:end], if there is one."""
    groups = [match.span() for match in _GROUP_RE.finditer(text, start, end)]
    for first, (group_start, _) in enumerate(groups):
        if group_start > 0 and text[group_start - 1] in _WORDISH:
            continue  # glued to a word on the left
        digits = 0
        for last in range(first, len(groups)):
            if last > first and groups[last][0] - groups[last - 1][1] != 1:
                break  # groups are joined by exactly one space or dash
            digits += groups[last][1] - groups[last][0]
            if digits > 19:
                break
            span_end = groups[last][1]
            candidate = text[group_start:span_end]
            if digits >= 13 and not _glued(text, group_start, span_end) and card_number_ok(candidate):
                return group_start, span_end
    return None


def scrub_cards(text: str) -> str:
    """``text`` with every plausible card number replaced by :data:`CARD_MARKER`."""
    pieces: list[str] = []
    last = 0
    for match in _RUN_RE.finditer(text):
        position = match.start()
        while position < match.end():
            found = _card_in_run(text, position, match.end())
            if found is None:
                break
            pieces.append(text[last : found[0]])
            pieces.append(CARD_MARKER)
            last = position = found[1]
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)
