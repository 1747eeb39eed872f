"""Scrubbing of secrets from span attributes, log records and audit records, with one set of rules.

Two kinds of rule, applied in this order:

1. **Keys.** An attribute or field whose key *looks* sensitive (``password``, ``secret``, ``token``,
   ``api_key``, ``authorization``, ``cookie``, ...) has its whole value replaced by ``[REDACTED]``.
   Keys are split into words (``x-api-key``, ``apiKey`` and ``API_KEY`` all become ``api key``)
   and matched word by word, never as substrings: ``tokens``, ``tokenizer`` and ``max_tokens`` are
   not secrets, and ``token_count``-style keys (``token`` next to ``count``, ``usage``, ``limit``,
   ...) are token *counts*, not tokens.
2. **Value patterns** in every string: bearer tokens, well-known API key formats, JWTs, private key
   blocks, passwords in URLs and ``password=...`` text, card numbers (only when the Luhn check and
   an issuer prefix both pass), and optionally e-mail addresses. Only the secret itself is
   replaced, by a marker naming its kind (``[REDACTED:jwt]``).

The marker never contains any part of the secret (no "last four characters"). ``gen_ai.usage.*``
attributes (token counts) are never touched, nor are keys on the allow-list. Non-string values
are only ever replaced by the key rule, so numeric look-alikes (token counts, ids) survive.

The processors run inside the SDK pipelines, before any exporter can see the data: the span
processor rewrites a span while it is ending, before any ``on_end`` (so even a processor added
ahead of ours sees the scrubbed span), and the log record processor rewrites the mutable record
in ``on_emit``. A counter ``kaizen.redactions`` (attribute ``signal``) counts replaced values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.metrics import Counter, MeterProvider, get_meter_provider
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from kaizen_otel.exceptions import KaizenConfigError

__all__ = [
    "MARKER",
    "RedactingLogRecordProcessor",
    "RedactingSpanProcessor",
    "Redactor",
]

#: What a value under a sensitive key becomes.
MARKER = "[REDACTED]"

#: Attribute prefixes never scrubbed: GenAI token counts must survive any rule.
_NEVER_TOUCHED_PREFIXES = ("gen_ai.usage.",)

#: Single words that make a key sensitive.
_SENSITIVE_WORDS = frozenset(
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
    }
)
#: Two consecutive words that make a key sensitive (``api_key``, ``x-api-key``, ``apiKey``).
_SENSITIVE_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("access", "key"),
        ("secret", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("client", "secret"),
        ("set", "cookie"),
        ("session", "key"),
        ("card", "number"),
        ("auth", "header"),
        ("connection", "string"),
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

_WORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


class _LazyPattern:
    """A regular expression compiled on first use.

    Most value patterns run only after a cheap substring test finds a candidate, and compiling all
    of them (Python's regex compiler is written in Python) cost ~1 ms of every ``configure()``.
    The first string that needs one pays for it once.
    """

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None

    def get(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source)
        return compiled


# --- value patterns ---------------------------------------------------------------------------
# Python's regex engine tries every alternative at every position, so one big alternation costs
# ~13 us on a 100-character clean string. Instead each kind has its own pattern that starts with a
# literal or a character class (which the engine skips to quickly) and runs only when a cheap
# substring test says it could match: a clean string costs ~2 us. Shape checks that a regex cannot
# express cheaply (card checksum, word boundaries, key formats) run in the replacement function,
# i.e. only on candidates.
_PRIVATE_KEY_RE = _LazyPattern(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY-----(?s:.*?)(?:-----END[ A-Z0-9]*PRIVATE KEY-----|\Z)"
)
_JWT_RE = _LazyPattern(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD_RE = _LazyPattern(r"(://[^\s/:@]+:)([^\s/@]+)@")
_BEARER_RE = _LazyPattern(r"(bearer\s+)((?=[A-Za-z0-9\-._~+/]*[0-9])[A-Za-z0-9\-._~+/]{12,}=*)")
_API_KEY_RE = _LazyPattern(
    r"(?:sk-|sk_live_|sk_test_|rk_live_|rk_test_|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-"
    r"|xox[abprs]-|AIza|hf_)[A-Za-z0-9_-]+"
)
#: The full shape of each key format, checked on candidates of ``_API_KEY_RE``.
_API_KEY_SHAPE_RE = _LazyPattern(
    r"sk-(?:proj|ant|svcacct|admin)-[A-Za-z0-9_-]{20,}"
    r"|sk-(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{20,}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|hf_[A-Za-z0-9]{30,}"
)
_API_KEY_TRIGGER_RE = re.compile(r"sk-|sk_|rk_|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox|AIza|hf_")
#: ``password=...``, ``"api_key": "..."``, ``token: ...`` inside free text; matched on lower-case text.
_SECRET_KV_RE = _LazyPattern(
    r"(password|passwd|passphrase|pwd|client[_-]?secret|secret|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|(?:access|refresh|auth|id|session|bearer|csrf|api)[_-]?token|token)"
    r"([\"']?\s*[:=]\s*[\"']?)([^\s&\"',;}]+)"
)
_CARD_RE = re.compile(r"[0-9][0-9 -]{11,22}[0-9]")
_CARD_STRICT_RE = _LazyPattern(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
_EMAIL_RE = _LazyPattern(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: Issuer prefixes of payment cards (Visa, Mastercard, Amex, Diners, Discover, JCB, UnionPay).
_CARD_PREFIX_RE = _LazyPattern(
    r"4|5[1-5]|2(?:2[2-9]|[3-6][0-9]|7[01]|720)|3[47]|3[068]|35|6(?:011|5|4[4-9]|2)"
)
_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _isolated(text: str, start: int, end: int, extra: str = "") -> bool:
    """Whether text[start:end] is not glued to neighbouring word characters (or ``extra``)."""
    if start and (text[start - 1] in _WORDISH or text[start - 1] in extra):
        return False
    return not (end < len(text) and (text[end] in _WORDISH or text[end] in extra))


def _card_ok(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and _CARD_PREFIX_RE.get().match(digits) is not None and _luhn_ok(digits)


def _scrub_cards(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for match in _CARD_RE.finditer(text):
        start, end = match.span()
        if not _isolated(text, start, end):
            continue
        for inner in _CARD_STRICT_RE.get().finditer(match.group(0)):
            if _card_ok(inner.group(0)):
                pieces.append(text[last : start + inner.start()])
                pieces.append("[REDACTED:card]")
                last = start + inner.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _replace_api_key(match: re.Match[str]) -> str:
    text = match.string
    start, end = match.span()
    if not _isolated(text, start, end, "-") or _API_KEY_SHAPE_RE.get().fullmatch(match.group(0)) is None:
        return match.group(0)
    return "[REDACTED:api_key]"


#: Every key of ``_SECRET_KV_RE`` contains one of these, at most ``_KV_LOOKBACK`` characters in.
_KV_TRIGGERS = ("pass", "pwd", "secret", "key", "token")
_KV_LOOKBACK = 10


def _scrub_secret_kv(text: str, lower: str) -> str:
    """Replace the values of ``password=...``-style pairs in free text.

    Running the pattern over the whole string costs ~25 us per KB (an alternation tried at every
    position); instead the trigger words are found with ``str.find`` and the pattern is tried only
    at the few positions just before each one. ``lower`` is ``text.lower()``.
    """
    if len(lower) != len(text):  # a few Unicode characters change length when lower-cased
        return text
    values: dict[int, int] = {}
    for trigger in _KV_TRIGGERS:
        hit = lower.find(trigger)
        while hit != -1:
            _kv_at(text, lower, hit, values)
            hit = lower.find(trigger, hit + len(trigger))
    if not values:
        return text
    pieces: list[str] = []
    last = 0
    for value_start in sorted(values):
        if value_start < last:
            continue
        pieces.append(text[last:value_start])
        pieces.append("[REDACTED:secret]")
        last = values[value_start]
    pieces.append(text[last:])
    return "".join(pieces)


def _kv_at(text: str, lower: str, hit: int, values: dict[int, int]) -> None:
    """Record the value span of a key=value pair whose key contains position ``hit``, if any."""
    pattern = _SECRET_KV_RE.get()
    for start in range(max(0, hit - _KV_LOOKBACK), hit + 1):
        if start and lower[start - 1].isalnum():
            continue
        match = pattern.match(lower, start)
        if match is None or not match.start(1) <= hit < match.end(1):
            continue
        value_start, value_end = match.span(3)
        if "token" in match.group(1) and text[value_start:value_end].isdigit():
            return  # "max_token=100" is a count, not a token
        values[value_start] = value_end
        return


def _scrub_bearer(text: str) -> str:
    lower = text.lower()
    if len(lower) != len(text):
        return text
    pieces: list[str] = []
    last = 0
    for match in _BEARER_RE.get().finditer(lower):
        if match.start() and lower[match.start() - 1].isalnum():
            continue
        value_start, value_end = match.span(2)
        pieces.append(text[last:value_start])
        pieces.append("[REDACTED:bearer]")
        last = value_end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


# Verdicts of the key rule.
_SCAN, _SECRET, _SKIP = 0, 1, 2
_SCALARS = frozenset({int, float, bool, type(None), bytes})
_KEY_CACHE_LIMIT = 4096
_CLEAN_CACHE_LIMIT = 4096
_CLEAN_CACHE_MAX_LEN = 64
#: No built-in pattern matches a shorter string ("pwd=x").
_SHORTEST_SECRET = 5


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _key_words(key: str) -> list[str]:
    return [word.lower() for word in _WORD_RE.findall(key)]


def _words_sensitive(words: Sequence[str], extra: Iterable[tuple[str, ...]]) -> bool:
    for index, word in enumerate(words):
        if word in _SENSITIVE_WORDS:
            if word == "token" and _token_is_count(words, index):
                continue
            return True
        if index and (words[index - 1], word) in _SENSITIVE_PAIRS:
            return True
    return any(_contains_run(words, run) for run in extra)


def _token_is_count(words: Sequence[str], index: int) -> bool:
    neighbours = (*words[max(0, index - 1) : index], *words[index + 1 : index + 2])
    return any(word in _TOKEN_QUALIFIERS for word in neighbours)


def _contains_run(words: Sequence[str], run: tuple[str, ...]) -> bool:
    size = len(run)
    return any(tuple(words[i : i + size]) == run for i in range(len(words) - size + 1))


class Redactor:
    """The rules, compiled once; shared by the span, log and audit paths.

    Args:
        enabled: when False every method returns its input unchanged (and counts nothing).
        extra_keys: more key fragments treated as sensitive, matched as whole words
            (``"customer_ref"`` matches ``app.customer_ref`` and ``customerRef``).
        extra_patterns: more regular expressions scrubbed from string values; the whole match is
            replaced, or only the group named ``secret`` when the pattern has one.
        allow_keys: attribute keys never scrubbed; an entry ending in ``*`` is a prefix.
        redact_emails: also scrub e-mail addresses.
        meter_provider: where the ``kaizen.redactions`` counter lives (default: the global one).
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[str] = (),
        allow_keys: Iterable[str] = (),
        redact_emails: bool = False,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.enabled = enabled
        self._extra_key_runs = tuple(self._key_run(fragment) for fragment in extra_keys)
        allow = tuple(allow_keys)
        self._allow_exact = frozenset(key for key in allow if not key.endswith("*"))
        self._allow_prefixes = tuple(key[:-1] for key in allow if key.endswith("*"))
        self._redact_emails = redact_emails
        self._extra = tuple(self._compile_extra(pattern) for pattern in extra_patterns)
        self._key_cache: dict[str, int] = {}
        # Short values seen clean before ("chat", a model name) are not scanned again: attribute
        # values repeat from span to span. Bounded: cleared when full.
        self._clean_values: set[str] = set()
        provider = meter_provider or get_meter_provider()
        self._counter: Counter = provider.get_meter("kaizen_otel.redaction").create_counter(
            "kaizen.redactions",
            unit="{value}",
            description="Attribute, field and body values replaced by redaction.",
        )
        self._count_attrs = {signal: {"signal": signal} for signal in ("span", "log", "audit")}

    @classmethod
    def from_settings(cls, settings: Any, *, meter_provider: MeterProvider | None = None) -> Redactor:
        """Build the redactor the ``redaction_*`` settings describe."""
        return cls(
            enabled=settings.redaction_enabled,
            extra_keys=settings.redaction_extra_keys,
            extra_patterns=settings.redaction_extra_patterns,
            allow_keys=settings.redaction_allow_keys,
            redact_emails=settings.redact_emails,
            meter_provider=meter_provider,
        )

    @staticmethod
    def _key_run(fragment: str) -> tuple[str, ...]:
        words = tuple(_key_words(fragment)) if isinstance(fragment, str) else ()
        if not words:
            raise KaizenConfigError(
                "redaction_extra_keys", fragment, "key fragments with at least one letter or digit"
            )
        return words

    @staticmethod
    def _compile_extra(pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise KaizenConfigError(
                "redaction_extra_patterns", pattern, f"a valid regular expression ({exc})"
            ) from exc

    # --- classification -----------------------------------------------------------------------

    def _classify(self, key: str) -> int:
        verdict = self._key_cache.get(key)
        if verdict is not None:
            return verdict
        if key in self._allow_exact or key.startswith(self._allow_prefixes + _NEVER_TOUCHED_PREFIXES):
            verdict = _SKIP
        elif _words_sensitive(_key_words(key), self._extra_key_runs):
            verdict = _SECRET
        else:
            verdict = _SCAN
        if len(self._key_cache) < _KEY_CACHE_LIMIT:
            self._key_cache[key] = verdict
        return verdict

    def is_sensitive_key(self, key: str) -> bool:
        """Whether a value under ``key`` is replaced whole."""
        return self._classify(key) == _SECRET

    # --- values -------------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """``text`` with every secret the value patterns find replaced by a marker."""
        if not self.enabled:
            return text
        return self._text(text)

    def _text(self, text: str) -> str:
        if len(text) >= _SHORTEST_SECRET:
            text = self._builtin_text(text)
        for pattern in self._extra:
            if pattern.search(text) is not None:
                text = pattern.sub(self._replace_extra, text)
        return text

    def _builtin_text(self, text: str) -> str:
        # Most specific first, so a JWT inside "Bearer ..." is reported as a JWT.
        if "PRIVATE KEY" in text:
            text = _PRIVATE_KEY_RE.get().sub("[REDACTED:private_key]", text)
        if "eyJ" in text:
            text = _JWT_RE.get().sub("[REDACTED:jwt]", text)
        if "://" in text:
            text = _URL_PASSWORD_RE.get().sub(r"\1[REDACTED:url_password]@", text)
        if _API_KEY_TRIGGER_RE.search(text) is not None:
            text = _API_KEY_RE.get().sub(_replace_api_key, text)
        lower = text.lower()
        if "bearer" in lower:
            text = _scrub_bearer(text)
            lower = text.lower()
        text = _scrub_secret_kv(text, lower)
        if len(text) >= 13:
            text = _scrub_cards(text)
        if self._redact_emails and "@" in text:
            text = _EMAIL_RE.get().sub("[REDACTED:email]", text)
        return text

    @staticmethod
    def _replace_extra(match: re.Match[str]) -> str:
        if "secret" in match.re.groupindex and match.group("secret") is not None:
            start, end = match.span("secret")
            whole_start = match.start(0)
            text = match.group(0)
            return text[: start - whole_start] + "[REDACTED:custom]" + text[end - whole_start :]
        return "[REDACTED:custom]"

    def _value(self, value: Any) -> tuple[Any, int]:
        """(scrubbed value, count of replaced values); the value object itself when unchanged."""
        if isinstance(value, str):
            clean = self._clean_values
            if value in clean:
                return value, 0
            scrubbed = self._text(value)
            if scrubbed != value:
                return scrubbed, 1
            if len(value) <= _CLEAN_CACHE_MAX_LEN:
                if len(clean) >= _CLEAN_CACHE_LIMIT:
                    clean.clear()
                clean.add(value)
            return value, 0
        if isinstance(value, Mapping):
            changed, count = self._mapping(value)
            return (changed, count) if changed is not None else (value, 0)
        if isinstance(value, (list, tuple)):
            total = 0
            items = []
            for item in value:
                new, count = self._value(item)
                items.append(new)
                total += count
            if not total:
                return value, 0
            return (tuple(items) if isinstance(value, tuple) else items), total
        return value, 0

    def _mapping(self, mapping: Mapping[str, Any]) -> tuple[dict[str, Any] | None, int]:
        """A scrubbed copy of ``mapping`` and the count, or (None, 0) when nothing matched."""
        result: dict[str, Any] | None = None
        total = 0
        key_cache = self._key_cache
        clean = self._clean_values
        for key, value in mapping.items():
            verdict = key_cache.get(key)
            if verdict is None:
                verdict = self._classify(key) if isinstance(key, str) else _SCAN
            if verdict == _SCAN:
                kind = value.__class__
                if kind is str:
                    if value in clean:  # the common case: a value seen clean before
                        continue
                elif kind in _SCALARS:
                    continue
                new, count = self._value(value)
                if not count:
                    continue
            elif verdict == _SECRET:
                if value is None or value == "" or value == MARKER:
                    continue
                new, count = MARKER, 1
            else:
                continue
            if result is None:
                result = dict(mapping)
            result[key] = new
            total += count
        return result, total

    def redact_mapping(self, mapping: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of ``mapping`` (nested mappings and lists included), for audit records.

        The input is never modified; the ``kaizen.redactions`` counter is incremented with
        ``signal="audit"`` by the number of values replaced.
        """
        if not self.enabled:
            return dict(mapping)
        changed, count = self._mapping(mapping)
        if changed is None:
            return dict(mapping)
        self._count(count, "audit")
        return changed

    def scrub_attributes(self, attributes: Mapping[str, Any] | None, signal: str) -> dict[str, Any] | None:
        """The scrubbed attributes, or None when nothing had to change (the common, cheap case)."""
        if not self.enabled or not attributes:
            return None
        if type(attributes) is BoundedAttributes:
            # Its Mapping interface goes through the ABC per item (~2.5x slower); the plain dict
            # inside holds the same, already cleaned, values.
            attributes = attributes._dict
        changed, count = self._mapping(attributes)
        if changed is not None:
            self._count(count, signal)
        return changed

    def scrub_body(self, body: Any, signal: str = "log") -> tuple[Any, bool]:
        """A log body with secrets removed, and whether it changed."""
        if not self.enabled or body is None:
            return body, False
        new, count = self._value(body)
        if count:
            self._count(count, signal)
        return new, bool(count)

    def _count(self, count: int, signal: str) -> None:
        try:
            self._counter.add(count, self._count_attrs.get(signal) or {"signal": signal})
        except Exception:  # a metrics failure must never block scrubbing
            pass


def _rebuilt(old: Any, values: Mapping[str, Any], *, immutable: bool = True) -> BoundedAttributes:
    """A BoundedAttributes like ``old`` (limits, dropped count) holding ``values``."""
    maxlen = getattr(old, "maxlen", None)
    max_value_len = getattr(old, "max_value_len", None)
    new = BoundedAttributes(
        maxlen=maxlen, attributes=values, immutable=immutable, max_value_len=max_value_len
    )
    new.dropped = getattr(old, "dropped", 0)
    return new


class RedactingSpanProcessor(SpanProcessor):
    """Scrubs span and span-event attributes before any exporter sees the span.

    The SDK calls ``_on_ending`` on every processor with the live span *before* it builds the
    read-only span handed to ``on_end``, so rewriting there reaches every ``on_end`` regardless of
    the order processors were added in. SDKs without that hook fall back to rewriting the read-only
    span in ``on_end``, which requires this processor to be added before the exporting ones.
    """

    _uses_on_ending = hasattr(SpanProcessor, "_on_ending")

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def _on_ending(self, span: Span) -> None:
        if self._uses_on_ending:
            self._scrub(span)

    def on_end(self, span: ReadableSpan) -> None:
        if not self._uses_on_ending:
            self._scrub(span)

    def _scrub(self, span: ReadableSpan) -> None:
        redactor = self._redactor
        if not redactor.enabled:
            return
        try:
            attributes = span._attributes
            changed = redactor.scrub_attributes(attributes, "span")
            if changed is not None:
                span._attributes = _rebuilt(attributes, changed)
            for event in span._events or ():
                event_changed = redactor.scrub_attributes(event._attributes, "span")
                if event_changed is not None:
                    event._attributes = _rebuilt(event._attributes, event_changed)
        except Exception:  # never break the application's span.end()
            return

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class RedactingLogRecordProcessor(LogRecordProcessor):
    """Scrubs a log record's attributes and body in ``on_emit``, before the exporting processors.

    A ``ReadWriteLogRecord`` is mutable during ``on_emit``, and the SDK calls processors in the order
    they were added: add this one first.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        redactor = self._redactor
        if not redactor.enabled:
            return
        try:
            record = log_record.log_record
            attributes = record.attributes
            changed = redactor.scrub_attributes(attributes, "log")
            if changed is not None:
                record.attributes = _rebuilt(attributes, changed, immutable=False)
            body = record.body
            if body is not None:
                new_body, body_changed = redactor.scrub_body(body)
                if body_changed:
                    record.body = new_body
        except Exception:  # never break the application's log call
            return

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
