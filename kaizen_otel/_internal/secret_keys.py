"""Which attribute and field names hold a secret: whole words, with the non-secret suffixes known.

A key is split into words (``x-api-key``, ``apiKey`` and ``API_KEY`` all become ``api key``) and is
sensitive when one word is a sensitive term (``password``, ``token``, ...) or two adjacent words
form a sensitive pair (``api key``, ``client secret``). Words are matched whole, never as
substrings: ``passage``, ``author`` and ``tokenizer`` are ordinary names.

Precision rules on top of that, because a false positive hides what one needs to debug:

- a key that *ends* in a word naming something about the secret rather than the secret itself
  (``password_min_length``, ``api_key_id``, ``secret_arn``, ``jwt_issuer``, ``authorization_url``,
  ``cookie_consent``, ``token_expires_at``) is not sensitive: see :data:`NON_SECRET_SUFFIXES`;
- ``token`` next to a counting word (``token_count``, ``max_token``) is a count of tokens.

A value under a non-sensitive key is still scanned by the value patterns, so a URL with a
password under ``authorization_url`` loses its password all the same. ``redaction_extra_keys``
makes a key sensitive whatever its suffix; ``redaction_allow_keys`` makes one never scrubbed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = [
    "NON_SECRET_SUFFIXES",
    "SENSITIVE_PAIRS",
    "SENSITIVE_WORDS",
    "contains_run",
    "key_words",
    "words_sensitive",
]

#: Single words that make a key sensitive.
SENSITIVE_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "apikey",
        "authorization",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "privatekey",
        "jwt",
        "bearer",
        "cvv",
        "cvc",
        "otp",
        "xsrf",
        "csrf",
        "accountkey",
        "sas",
    }
)
#: Two consecutive words that make a key sensitive (``api_key``, ``x-api-key``, ``apiKey``).
SENSITIVE_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("access", "key"),
        ("secret", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("account", "key"),
        ("client", "secret"),
        ("set", "cookie"),
        ("session", "key"),
        ("card", "number"),
        ("auth", "header"),
        ("connection", "string"),
        ("webhook", "url"),
    }
)
#: A key whose last word is one of these names something *about* a secret (its length, id,
#: location, issuer, expiry, ...), not the secret: ``password_min_length``, ``api_key_id``.
NON_SECRET_SUFFIXES = frozenset(
    {
        "length",
        "len",
        "min",
        "max",
        "id",
        "ids",
        "arn",
        "url",
        "uri",
        "urn",
        "endpoint",
        "issuer",
        "audience",
        "consent",
        "name",
        "names",
        "type",
        "types",
        "kind",
        "hint",
        "policy",
        "expiry",
        "expires",
        "expiration",
        "expired",
        "ttl",
        "lifetime",
        "age",
        "at",
        "ms",
        "seconds",
        "timestamp",
        "version",
        "count",
        "counts",
        "enabled",
        "required",
        "rotation",
        "rotated",
        "changed",
        "updated",
        "created",
        "strength",
        "scope",
        "scopes",
        "algorithm",
        "alg",
        "field",
        "fields",
        "param",
        "path",
        "file",
        "dir",
        "provider",
        "source",
        "label",
        "format",
        "mode",
        "status",
        "error",
        "errors",
        "limit",
        "used",
        "usage",
        "timeout",
        "valid",
        "present",
    }
)
#: Words next to ``token`` that mean a count or a setting, not a credential.
_TOKEN_QUALIFIERS = frozenset(
    {
        "count",
        "counts",
        "usage",
        "limit",
        "limits",
        "max",
        "min",
        "num",
        "number",
        "total",
        "estimated",
        "estimate",
        "length",
        "len",
        "budget",
        "type",
        "ids",
        "index",
        "rate",
        "per",
        "size",
        "used",
    }
)
#: Pairs whose second word is itself a non-secret suffix but which name a secret as a whole.
_SECRET_DESPITE_SUFFIX = frozenset({("webhook", "url")})

_WORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def key_words(key: str) -> list[str]:
    """The lower-case words of a key: ``X-Api-Key`` -> ``["x", "api", "key"]``."""
    return [word.lower() for word in _WORD_RE.findall(key)]


def words_sensitive(words: Sequence[str], extra: Iterable[tuple[str, ...]] = ()) -> bool:
    """Whether a key made of ``words`` names a secret (``extra``: user word runs, always sensitive)."""
    if any(contains_run(words, run) for run in extra):
        return True
    if not words:
        return False
    if words[-1] in NON_SECRET_SUFFIXES and tuple(words[-2:]) not in _SECRET_DESPITE_SUFFIX:
        return False
    for index, word in enumerate(words):
        if word in SENSITIVE_WORDS:
            if word == "token" and _token_is_count(words, index):
                continue
            return True
        if index and (words[index - 1], word) in SENSITIVE_PAIRS:
            return True
    return False


def _token_is_count(words: Sequence[str], index: int) -> bool:
    neighbours = (*words[max(0, index - 1) : index], *words[index + 1 : index + 2])
    return any(word in _TOKEN_QUALIFIERS for word in neighbours)


def contains_run(words: Sequence[str], run: tuple[str, ...]) -> bool:
    """Whether ``run`` occurs in ``words`` as consecutive whole words."""
    size = len(run)
    return any(tuple(words[i : i + size]) == run for i in range(len(words) - size + 1))
