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

#: A run of 13 or more digits, single spaces or dashes allowed between them (``4111 1111 1111 1111``),
#: not glued to a word (``mc2``, ``id4111...x``).
_RUN_RE = re.compile(r"(?<![0-9A-Za-z_])[0-9](?:[ -]?[0-9]){12,}(?![0-9A-Za-z_])")
_GROUP_RE = re.compile(r"[0-9]+")

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


def _card_in_run(run: str) -> tuple[int, int] | None:
    """The span of a card number inside a run of digit groups: the whole run or whole groups of it."""
    if card_number_ok(run):
        return 0, len(run)
    groups = [match.span() for match in _GROUP_RE.finditer(run)]
    for first in range(len(groups)):
        for last in range(first, len(groups)):
            start, end = groups[first][0], groups[last][1]
            digits = end - start - (last - first)  # minus the separators
            if digits > 19:
                break
            if digits >= 13 and card_number_ok(run[start:end]):
                return start, end
    return None


def scrub_cards(text: str) -> str:
    """``text`` with every plausible card number replaced by :data:`CARD_MARKER`."""
    pieces: list[str] = []
    last = 0
    for match in _RUN_RE.finditer(text):
        found = _card_in_run(match.group(0))
        if found is None:
            continue
        start = match.start()
        pieces.append(text[last : start + found[0]])
        pieces.append(CARD_MARKER)
        last = start + found[1]
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)
