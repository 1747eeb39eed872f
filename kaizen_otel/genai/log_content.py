"""Message content out of GenAI log records, whoever emitted them, when capture is off.

Instrumentations record prompts and completions in log records as well as on spans: openai-v2
(through opentelemetry-util-genai) puts ``gen_ai.input.messages`` / ``gen_ai.output.messages`` in
the attributes of a ``gen_ai.client.inference.operation.details`` event; the older message events
(``gen_ai.user.message``, ``gen_ai.choice``, ..., emitted by opentelemetry-instrumentation-anthropic
and others) carry the text in the body. Each instrumentation has its own switch and some record
content by default, so ``capture_message_content=false`` is applied here, once, for all of them:
:class:`ContentDroppingLogProcessor` runs first on the logger provider ``configure()`` builds, so no
exporter, the console and the live view included, sees the text.

A log record is a GenAI event when its ``event_name`` (or, from the older Events API, its
``event.name`` attribute) starts with ``gen_ai.``. From such a record the content attributes of
:mod:`~kaizen_otel.genai.conventions` and the body fields in ``CONTENT_BODY_KEYS`` (at any depth) are
removed, and a body that is plain text is dropped. Any other record loses only attributes named in
``CONTENT_ATTRIBUTES`` (one set lookup per record: the logging bridge's records pass untouched).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord

from kaizen_otel.genai import conventions as cv

__all__ = ["ContentDroppingLogProcessor"]

_CONTENT = cv.CONTENT_ATTRIBUTES
_PREFIXES = cv.CONTENT_ATTRIBUTE_PREFIXES
_BODY_KEYS = cv.CONTENT_BODY_KEYS
_GENAI_EVENT = "gen_ai."
#: Bodies nested deeper than this are dropped whole rather than walked.
MAX_DEPTH = 16
_DROP = object()


def _without_content(value: Any, depth: int = 0) -> Any:
    """``value`` without content fields; ``_DROP`` when nothing of it may stay."""
    if depth > MAX_DEPTH:
        return _DROP
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            if key in _BODY_KEYS or (isinstance(key, str) and key.startswith(_PREFIXES)):
                continue
            item = _without_content(item, depth + 1)
            if item is not _DROP:
                kept[key] = item
        return kept
    if isinstance(value, (list, tuple)):
        items = [_without_content(item, depth + 1) for item in value]
        return [item for item in items if item is not _DROP]
    if depth == 0 and isinstance(value, (str, bytes)):
        return _DROP  # a GenAI event whose whole body is text: that text is the message
    return value


def _event_name(record: Any, attributes: Any) -> Any:
    name = getattr(record, "event_name", None)
    if name is None and attributes:
        name = attributes.get("event.name")
    return name


class ContentDroppingLogProcessor(LogRecordProcessor):
    """Removes message content from log records before any exporter sees them (capture off)."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        attributes: Any = record.attributes
        try:
            name = _event_name(record, attributes)
            if name.__class__ is str and name.startswith(_GENAI_EVENT):
                if attributes:
                    doomed = [k for k in attributes if k in _CONTENT or k.startswith(_PREFIXES)]
                    for key in doomed:
                        del attributes[key]
                body = record.body
                if body is not None:
                    body = _without_content(body)
                    record.body = None if body is _DROP or body == {} else body
            elif attributes and not _CONTENT.isdisjoint(attributes):
                for key in [k for k in attributes if k in _CONTENT]:
                    del attributes[key]
        except Exception:  # never break the application's log call; never export what we could not check
            record.body = None
            record.attributes = {}

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
