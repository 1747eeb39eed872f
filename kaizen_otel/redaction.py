"""Scrubbing of secrets from spans, log records and audit records, with one set of rules.

Two kinds of rule, applied in this order:

1. **Keys.** An attribute or field whose key names a secret (``password``, ``token``, ``api_key``,
   ``authorization``, ``cookie``, ...) has its whole value replaced by ``[REDACTED]``. Keys are
   matched word by word with the non-secret suffixes known (``password_min_length``, ``api_key_id``
   are not secrets): see :mod:`kaizen_otel._internal.secret_keys`.
2. **Value patterns** in every string: bearer and Basic credentials, well-known API key formats,
   JWTs, private key blocks, passwords in URLs and ``password=...`` text, card numbers (issuer,
   length and Luhn), and optionally e-mail addresses. Only the secret itself is replaced, by a
   marker naming its kind (``[REDACTED:jwt]``): see :mod:`kaizen_otel._internal.secret_text`.

The marker never contains any part of the secret. ``gen_ai.usage.*`` attributes (token counts) are
never touched, nor are keys on the allow-list.

**It fails closed.** A value the scrubber cannot process (an object whose ``str()`` raises, a
structure nested deeper than :data:`MAX_DEPTH`, a cycle, containers past :data:`MAX_CONTAINERS`)
becomes ``[REDACTED:unprocessable]``
and is counted; the rest of the record is still scrubbed, and nothing is ever passed on raw
because scrubbing failed. Objects of other types are scrubbed as their ``str()`` (what an exporter
would print), sets as lists.

The processors run inside the SDK pipelines, before any exporter can see the data: the span
processor rewrites a span while it is ending, before any ``on_end`` (so even a processor added
ahead of ours sees the scrubbed span), and the log record processor rewrites the mutable record
in ``on_emit``. Counters ``kaizen.redactions`` and ``kaizen.redactions.unprocessable`` (attribute
``signal``) count replaced values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.metrics import Counter, MeterProvider, get_meter_provider
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status, StatusCode

from kaizen_otel._internal.secret_keys import key_words, words_sensitive
from kaizen_otel._internal.secret_text import TextScrubber
from kaizen_otel.exceptions import KaizenConfigError

__all__ = [
    "MARKER",
    "MAX_CONTAINERS",
    "MAX_DEPTH",
    "UNPROCESSABLE",
    "RedactingLogRecordProcessor",
    "RedactingSpanProcessor",
    "Redactor",
]

#: What a value under a sensitive key becomes.
MARKER = "[REDACTED]"
#: What a value the scrubber could not process becomes.
UNPROCESSABLE = "[REDACTED:unprocessable]"
#: Mappings and sequences nested deeper than this are replaced by :data:`UNPROCESSABLE`: real
#: data is far shallower, and it bounds the work on cyclic or hostile structures.
MAX_DEPTH = 32
#: At most this many mappings, sequences and objects are walked per record; the rest become
#: :data:`UNPROCESSABLE`. Bounds the work on shared or hostile structures.
MAX_CONTAINERS = 10_000

#: Attribute prefixes never scrubbed: GenAI token counts must survive any rule.
_NEVER_TOUCHED_PREFIXES = ("gen_ai.usage.",)

# Verdicts of the key rule.
_SCAN, _SECRET, _SKIP, _SECRET_IN_KEY, _ODD_KEY = 0, 1, 2, 3, 4
_NUMBERS = frozenset({int, float, bool, type(None)})
_KEY_CACHE_LIMIT = 4096
_CLEAN_CACHE_LIMIT = 4096
#: Strings up to this long are remembered when clean: names, ids, and the exception messages and
#: status descriptions that repeat while an error lasts. At most 4096 x 256 characters.
_CLEAN_CACHE_MAX_LEN = 256


class _Tally:
    """One scrub call: what it replaced, and the bounds on its walk (containers left, current path)."""

    __slots__ = ("budget", "path", "replaced", "unprocessable")

    def __init__(self) -> None:
        self.replaced = 0
        self.unprocessable = 0
        self.budget = MAX_CONTAINERS
        self.path: set[int] | None = None


class Redactor:
    """The rules, compiled once; shared by the span, log and audit paths.

    Args:
        enabled: when False every method returns its input unchanged (and counts nothing).
        extra_keys: more key fragments treated as sensitive, matched as whole words
            (``"customer_ref"`` matches ``app.customer_ref`` and ``customerRef``), whatever
            their suffix.
        extra_patterns: more regular expressions scrubbed from string values; the whole match is
            replaced, or only the group named ``secret`` when the pattern has one.
        allow_keys: attribute keys never scrubbed; an entry ending in ``*`` is a prefix.
        redact_emails: also scrub e-mail addresses.
        meter_provider: where the counters live (default: the global one).
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
        self._scrubber = TextScrubber(redact_emails=redact_emails, extra_patterns=extra_patterns)
        self._key_cache: dict[str, int] = {}
        # Short values seen clean before ("chat", a model name) are not scanned again: attribute
        # values repeat from span to span. Bounded: cleared when full.
        self._clean_values: set[str] = set()
        meter = (meter_provider or get_meter_provider()).get_meter("kaizen_otel.redaction")
        self._counter: Counter = meter.create_counter(
            "kaizen.redactions",
            unit="{value}",
            description="Values replaced by redaction because they held a secret.",
        )
        self._unprocessable_counter: Counter = meter.create_counter(
            "kaizen.redactions.unprocessable",
            unit="{value}",
            description="Values replaced by redaction because they could not be scanned.",
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
        words = tuple(key_words(fragment)) if isinstance(fragment, str) else ()
        if not words:
            raise KaizenConfigError(
                "redaction_extra_keys", fragment, "key fragments with at least one letter or digit"
            )
        return words

    # --- classification -----------------------------------------------------------------------

    def _classify(self, key: str) -> int:
        verdict = self._key_cache.get(key)
        if verdict is not None:
            return verdict
        if key in self._allow_exact or key.startswith(self._allow_prefixes + _NEVER_TOUCHED_PREFIXES):
            verdict = _SKIP
        elif self._scrubber.scrub(key) != key:
            verdict = _SECRET_IN_KEY  # a secret used as a key: {"sk-proj-...": "prod"}
        elif words_sensitive(key_words(key), self._extra_key_runs):
            verdict = _SECRET
        else:
            verdict = _SCAN
        if len(self._key_cache) < _KEY_CACHE_LIMIT:
            self._key_cache[key] = verdict
        return verdict

    def is_sensitive_key(self, key: str) -> bool:
        """Whether a value under ``key`` is replaced whole."""
        return self._classify(key) in (_SECRET, _SECRET_IN_KEY)

    # --- values -------------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """``text`` with every secret the value patterns find replaced by a marker."""
        if not self.enabled:
            return text
        return self._scrubber.scrub(text)

    def _text(self, text: str, tally: _Tally) -> str:
        clean = self._clean_values
        if text in clean:
            return text
        scrubbed = self._scrubber.scrub(text)
        if scrubbed != text:
            tally.replaced += 1
            return scrubbed
        if len(text) <= _CLEAN_CACHE_MAX_LEN:
            if len(clean) >= _CLEAN_CACHE_LIMIT:
                clean.clear()
            clean.add(text)
        return text

    def _walk(self, value: Any, depth: int, tally: _Tally) -> Any:
        """``value`` scrubbed (the same object when nothing changed); never raises."""
        try:
            kind = value.__class__
            if kind is str:
                return self._text(value, tally)
            if kind in _NUMBERS:
                return value
            return self._container(value, depth, tally)
        except Exception:  # includes RecursionError: fail closed, never pass the value on raw
            tally.unprocessable += 1
            return UNPROCESSABLE

    def _container(self, value: Any, depth: int, tally: _Tally) -> Any:
        """A mapping, sequence or other object; cut at a cycle, below ``MAX_DEPTH`` and past the budget.

        The depth limit alone does not bound the work: a list holding itself twice has 2^depth
        paths. Cutting where a container recurs on the current path, and after ``MAX_CONTAINERS``
        containers per record, does.
        """
        tally.budget -= 1
        path = tally.path
        if path is None:
            path = tally.path = set()
        marker = id(value)
        if depth >= MAX_DEPTH or tally.budget < 0 or marker in path:
            tally.unprocessable += 1
            return UNPROCESSABLE
        path.add(marker)
        try:
            if isinstance(value, Mapping):
                changed = self._mapping(value, depth + 1, tally)
                return value if changed is None else changed
            kind = value.__class__
            if kind is list or kind is tuple:
                return self._sequence(value, depth + 1, tally)
            return self._other(value, depth, tally)
        finally:
            path.discard(marker)

    def _sequence(self, value: list[Any] | tuple[Any, ...], depth: int, tally: _Tally) -> Any:
        items = [self._walk(item, depth, tally) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return tuple(items) if isinstance(value, tuple) else items

    def _other(self, value: Any, depth: int, tally: _Tally) -> Any:
        """Subclasses of the plain types keep their kind; anything else is scrubbed as text."""
        if isinstance(value, str):
            return self._text(value, tally)
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).decode("latin-1")  # one character per byte, so nothing is lost
            scrubbed = self._text(text, tally)
            return value if scrubbed is text else scrubbed.encode("latin-1", "replace")
        if isinstance(value, (list, tuple, set, frozenset)):
            items = list(value)
            new = self._sequence(items, depth + 1, tally)
            return value if new is items and isinstance(value, (list, tuple)) else new
        return self._text(str(value), tally)  # what an exporter or json.dumps(default=str) prints

    def _mapping(
        self, mapping: Mapping[Any, Any], depth: int, tally: _Tally, items: Iterable[Any] | None = None
    ) -> dict[Any, Any] | None:
        """A scrubbed copy of ``mapping``, or None when nothing had to change; ``items``: the
        (key, value) pairs still to look at, when the ones before them are known to stay."""
        result: dict[Any, Any] | None = None
        key_cache = self._key_cache
        clean = self._clean_values
        for key, value in mapping.items() if items is None else items:
            if key.__class__ is str:
                verdict = key_cache.get(key)
                if verdict is None:
                    verdict = self._classify(key)
            else:
                verdict = _ODD_KEY
            new_key = key
            if verdict == _SCAN:
                kind = value.__class__
                if kind is str:
                    if value in clean:  # the common case: a value seen clean before
                        continue
                elif kind in _NUMBERS or ((kind is tuple or kind is list) and _clean_items(value, clean)):
                    continue
                new = self._walk(value, depth, tally)
                if new is value:
                    continue
            elif verdict == _ODD_KEY:
                new_key = self._odd_key(key, tally)
                new = self._walk(value, depth, tally)
                if new is value and new_key is key:
                    continue
            elif verdict == _SECRET:
                if value is None or (value.__class__ is str and (value == "" or value == MARKER)):
                    continue
                new = MARKER
                tally.replaced += 1
            elif verdict == _SECRET_IN_KEY:
                new_key, new = self._scrubber.scrub(key), MARKER
                tally.replaced += 1
            else:
                continue
            if result is None:
                result = dict(mapping)
            if new_key is not key:
                del result[key]
            result[new_key] = new
        return result

    def _odd_key(self, key: Any, tally: _Tally) -> Any:
        """A key that is not a string: numbers stay, anything else becomes its scrubbed text."""
        if key.__class__ in _NUMBERS:
            return key
        text = str(key)
        return self._text(text, tally) if text else key

    # --- entry points, one per kind of record; each fails closed and counts -----------------------

    def redact_mapping(self, mapping: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of ``mapping`` (nested mappings and lists included), for audit records.

        The input is never modified; the counters are incremented with ``signal="audit"``.
        """
        if not self.enabled:
            return dict(mapping)
        tally = _Tally()
        scrubbed = self._walk(mapping, 0, tally)
        self._count(tally, "audit")
        if scrubbed is mapping:
            return dict(mapping)
        if not isinstance(scrubbed, dict):  # the mapping itself could not be walked
            return {"redaction": UNPROCESSABLE}
        return scrubbed

    def scrub_attributes(self, attributes: Mapping[str, Any] | None, signal: str) -> dict[str, Any] | None:
        """The scrubbed attributes, or None when nothing had to change (the common, cheap case)."""
        if not self.enabled or not attributes:
            return None
        if type(attributes) is BoundedAttributes:
            # Its Mapping interface goes through the ABC per item (~2.5x slower); the plain dict
            # inside holds the same, already cleaned, values.
            attributes = attributes._dict
        items: Iterable[Any] | None
        try:
            items = iter(attributes.items())
            first = self._first_unknown(items)
            if first is None:
                return None
            items = chain((first,), items)  # the pairs before it stay as they are
        except Exception:  # walked whole below, where a failure is replaced and counted
            items = None
        tally = _Tally()
        try:
            changed = self._mapping(attributes, 1, tally, items)
        except Exception:  # the mapping itself could not be walked: keep the keys, drop the values
            changed = _all_unprocessable(attributes, tally)
        self._count(tally, signal)
        return changed

    def _first_unknown(self, items: Iterator[tuple[str, Any]]) -> tuple[str, Any] | None:
        """The first (key, value) that needs a look, or None when every value is a number or a
        string seen clean before (or a tuple or list of them, like
        ``gen_ai.response.finish_reasons``) under a plain key.

        The common case for spans and records is answered without scanning or copying anything;
        otherwise the scrub goes on from that pair (``items`` is left just after it), so a span
        with one new value (a response id) is not walked twice.
        """
        key_cache = self._key_cache
        clean = self._clean_values
        for key, value in items:
            verdict = key_cache.get(key)
            if verdict == _SCAN:
                kind = value.__class__
                if kind is str:
                    if value in clean:
                        continue
                elif kind in _NUMBERS or ((kind is tuple or kind is list) and _clean_items(value, clean)):
                    continue
            elif verdict == _SKIP:
                continue
            return key, value
        return None

    def scrub_body(self, body: Any, signal: str = "log") -> tuple[Any, bool]:
        """A log body with secrets removed, and whether it changed."""
        if not self.enabled or body is None:
            return body, False
        tally = _Tally()
        new = self._walk(body, 0, tally)
        self._count(tally, signal)
        return new, new is not body

    def scrub_name(self, name: str | None, signal: str) -> str | None:
        """A span name, status description or event name with secrets removed (same object if clean)."""
        if not self.enabled or not name or (name.__class__ is str and name in self._clean_values):
            return name
        tally = _Tally()
        new = self._walk(name, MAX_DEPTH, tally)
        self._count(tally, signal)
        return new  # type: ignore[no-any-return]

    def _count(self, tally: _Tally, signal: str) -> None:
        if not (tally.replaced or tally.unprocessable):
            return
        attributes = self._count_attrs.get(signal) or {"signal": signal}
        try:
            if tally.replaced:
                self._counter.add(tally.replaced, attributes)
            if tally.unprocessable:
                self._unprocessable_counter.add(tally.unprocessable, attributes)
        except Exception:  # a metrics failure must never block scrubbing
            pass


def _clean_items(items: list[Any] | tuple[Any, ...], clean: set[str]) -> bool:
    """Whether every item is a number or a string seen clean before (``finish_reasons``)."""
    for item in items:
        kind = item.__class__
        if kind is str:
            if item not in clean:
                return False
        elif kind not in _NUMBERS:
            return False
    return True


def _all_unprocessable(attributes: Mapping[str, Any], tally: _Tally) -> dict[str, Any]:
    """Every value replaced by the marker (the keys kept when they can still be read)."""
    try:
        keys = [key for key in list(attributes) if isinstance(key, str)]
    except Exception:
        keys = []
    tally.unprocessable += max(len(keys), 1)
    return dict.fromkeys(keys or ["redaction"], UNPROCESSABLE)


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
    """Scrubs a span's name, status description, attributes, events and links before export.

    The SDK calls ``_on_ending`` on every processor with the live span *before* it builds the
    read-only span handed to ``on_end``, so rewriting there reaches every ``on_end`` regardless of
    the order processors were added in. SDKs without that hook fall back to rewriting the read-only
    span in ``on_end``, which requires this processor to be added before the exporting ones.

    Status descriptions matter most: the SDK sets ``"ValueError: <message>"`` on every span an
    exception leaves, and messages carry DSNs and keys. They are scrubbed here, for every span,
    whichever code produced it.
    """

    _uses_on_ending = hasattr(SpanProcessor, "_on_ending")
    #: Hooks with nothing to do, which the span dispatcher of ``configure()`` does not call.
    unused_hooks = ("on_end",) if _uses_on_ending else ()

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Scrub the name already, for processors that show a span while it runs (the live view
        lists a running agent by its span's name). Attributes are scrubbed once, at the end:
        scanning them at start too would double the cost of every long value."""
        redactor = self._redactor
        name = span._name
        if redactor.enabled and (name.__class__ is not str or name not in redactor._clean_values):
            _step(redactor, span, _scrub_span_name)

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
        # Each part is scrubbed on its own, so one that fails is replaced and the others still go
        # through; the checks here skip the calls in the common case (a clean name, no status).
        # The SDK's containers answer ``len()`` in Python; the deque and dict inside them in C.
        name = span._name
        if name.__class__ is not str or name not in redactor._clean_values:
            _step(redactor, span, _scrub_span_name)
        if getattr(span._attributes, "_dict", span._attributes):
            _step(redactor, span, _scrub_span_attributes)
        status = span._status
        if status._description if status.__class__ is Status else getattr(status, "description", True):
            _step(redactor, span, _scrub_status)
        if getattr(span._events, "_dq", span._events):
            _step(redactor, span, _scrub_events)
        if getattr(span._links, "_dq", span._links):
            _step(redactor, span, _scrub_links)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _step(redactor: Redactor, span: ReadableSpan, step: Callable[[Redactor, ReadableSpan], None]) -> None:
    try:
        step(redactor, span)
    except Exception:  # never break the application's span.end(); never export raw
        _scorch(redactor, span, step)


def _scrub_span_name(redactor: Redactor, span: ReadableSpan) -> None:
    name = span._name
    new = redactor.scrub_name(name, "span")
    if new is not name:
        span._name = new  # type: ignore[assignment]


def _scrub_span_attributes(redactor: Redactor, span: ReadableSpan) -> None:
    attributes = span._attributes
    if attributes:
        changed = redactor.scrub_attributes(attributes, "span")
        if changed is not None:
            span._attributes = _rebuilt(attributes, changed)


def _scrub_status(redactor: Redactor, span: ReadableSpan) -> None:
    status = span._status
    description = status.description if status is not None else None
    if description:
        new = redactor.scrub_name(description, "span")
        if new is not description:
            span._status = Status(status.status_code, new)


def _scrub_events(redactor: Redactor, span: ReadableSpan) -> None:
    for event in span._events or ():
        name = event._name
        new_name = redactor.scrub_name(name, "span")
        if new_name is not name and new_name is not None:
            event._name = new_name
        attributes = getattr(event, "_attributes", None)
        if attributes:
            changed = redactor.scrub_attributes(attributes, "span")
            if changed is not None:
                event._attributes = _rebuilt(attributes, changed)


def _scrub_links(redactor: Redactor, span: ReadableSpan) -> None:
    for link in span._links or ():
        attributes = link._attributes
        if attributes:
            changed = redactor.scrub_attributes(attributes, "span")
            if changed is not None:
                link._attributes = _rebuilt(attributes, changed)


def _scorch(redactor: Redactor, span: ReadableSpan, step: Any) -> None:
    """The part ``step`` could not scrub, replaced by the marker (last resort, counted)."""
    tally = _Tally()
    tally.unprocessable = 1
    try:
        if step is _scrub_span_name:
            span._name = UNPROCESSABLE
        elif step is _scrub_status:
            span._status = Status(StatusCode.ERROR, UNPROCESSABLE)
        elif step is _scrub_span_attributes:
            span._attributes = _rebuilt(span._attributes, _all_unprocessable(span._attributes or {}, tally))
        elif step is _scrub_events:
            span._events = ()  # type: ignore[assignment]
        else:
            span._links = ()  # type: ignore[assignment]
    except Exception:
        pass
    redactor._count(tally, "span")


class RedactingLogRecordProcessor(LogRecordProcessor):
    """Scrubs a log record's attributes, body and event name in ``on_emit``, before export.

    A ``ReadWriteLogRecord`` is mutable during ``on_emit``, and the SDK calls processors in the order
    they were added: add this one first.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        redactor = self._redactor
        if not redactor.enabled:
            return
        record = log_record.log_record
        try:
            attributes = record.attributes
            if getattr(attributes, "_dict", attributes):  # not BoundedAttributes.__len__
                changed = redactor.scrub_attributes(attributes, "log")
                if changed is not None:
                    record.attributes = _rebuilt(attributes, changed, immutable=False)
        except Exception:  # never break the application's log call; never export raw
            record.attributes = _rebuilt(None, {"redaction": UNPROCESSABLE}, immutable=False)
        clean = redactor._clean_values
        try:
            body = record.body
            if body is not None and (body.__class__ is not str or body not in clean):
                new_body, body_changed = redactor.scrub_body(body)
                if body_changed:
                    record.body = new_body
            event_name = getattr(record, "event_name", None)
            if event_name and (event_name.__class__ is not str or event_name not in clean):
                record.event_name = redactor.scrub_name(event_name, "log")
        except Exception:
            record.body = UNPROCESSABLE

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
