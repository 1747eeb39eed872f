"""Every measurement on its way into the SDK: label values capped, ``metric_attributes`` added.

One place sees every measurement, whoever recorded it (our helpers, the redaction and audit
counters, self-monitoring, third-party instrumentations): the MeterProvider's measurement
consumer for synchronous instruments, and each observable instrument's callback. Two rules
apply there:

- a string label value longer than ``metric_label_max_length`` is cut and ends with ``…``, and
  counted (``kaizen_telemetry_truncated_label_values_total``): agent, tool and model names can come
  from users or from a remote API's response, and a 10 kB name would be sent with every scrape.
  A value that is not valid UTF-8 (a lone surrogate) gets ``?`` in its place, counted the same
  way: one such value made every later ``/metrics`` scrape fail with 500;
- ``metric_attributes`` (team, tenant) are added to every ``kaizen.*`` measurement that lacks
  them, so every family of ours carries them, not only those our helpers record.

The common case, short values and attributes already present, costs a loop over the values.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kaizen_otel._internal.bound_records import RULES_ATTRIBUTE

_log = logging.getLogger("kaizen_otel.metrics")

MARK = "…"
_NONE: Mapping[str, Any] = {}


class MeasurementRules:
    """The two rules, as one callable ``Measurement -> Measurement``."""

    def __init__(self, max_length: int, extra: Mapping[str, str], on_truncate: Callable[[], None]) -> None:
        self._max = max_length
        self._extra = dict(extra)
        self._probe = next(iter(self._extra), None)
        self._on_truncate = on_truncate
        self._warned = False

    def __call__(self, measurement: Any) -> Any:
        attributes = measurement.attributes
        if (
            self._probe is not None
            and (not attributes or self._probe not in attributes)
            and measurement.instrument.name.startswith("kaizen.")
        ):
            attributes = {**self._extra, **(attributes or {})}
        if attributes:
            limit = self._max
            for value in attributes.values():
                kind = type(value)
                if kind is str:
                    if len(value) <= limit and (value.isascii() or _encodable(value)):
                        continue
                elif (kind is not tuple and kind is not list) or not any(
                    type(v) is str and self._bad(v) for v in value
                ):
                    continue
                attributes = self._truncated(measurement.instrument.name, attributes)
                break
        if attributes is measurement.attributes:
            return measurement
        return dataclasses.replace(measurement, attributes=attributes)

    def effective(self, instrument: str, attributes: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The attributes these rules hand the SDK for ``instrument``, or None when they would cut
        or mend a value (which is counted per measurement, so such a set is never bound)."""
        if self._probe is not None and self._probe not in attributes and instrument.startswith("kaizen."):
            attributes = {**self._extra, **attributes}
        for value in attributes.values():
            kind = type(value)
            if kind is str:
                if self._bad(value):
                    return None
            elif (kind is tuple or kind is list) and any(type(v) is str and self._bad(v) for v in value):
                return None
        return attributes

    def _bad(self, value: str) -> bool:
        """Too long, or not encodable as UTF-8 (a lone surrogate made every later scrape fail)."""
        return len(value) > self._max or (not value.isascii() and not _encodable(value))

    def _truncated(self, instrument: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        self._on_truncate()
        if not self._warned:
            self._warned = True
            _log.warning(
                "kaizen_otel: a label value of metric %r is longer than %d characters; such values "
                "are cut and end with %r (metric_label_max_length / KAIZEN_OTEL_METRIC_LABEL_MAX_LENGTH)",
                instrument,
                self._max,
                MARK,
            )
        return {key: self._cut(value) for key, value in attributes.items()}

    def _cut(self, value: Any) -> Any:
        if type(value) is str:
            if not value.isascii() and not _encodable(value):
                value = value.encode("utf-8", "replace").decode("utf-8")
            return value if len(value) <= self._max else value[: self._max - 1] + MARK
        if type(value) in (tuple, list):
            return tuple(self._cut(v) for v in value)
        return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def apply_measurement_rules(
    meter_provider: Any, rules: MeasurementRules, dropped: frozenset[str] = frozenset()
) -> bool:
    """Route the provider's measurements through ``rules``; False when this SDK hides its consumer.

    ``dropped``: names of synchronous instruments every view of the provider drops. Their
    measurements stop here: each would otherwise go through the rules, every reader's storage and
    the attribute hashing of a drop aggregation, to be discarded there.
    """
    consumer = getattr(meter_provider, "_measurement_consumer", None)
    if consumer is None or not hasattr(consumer, "register_asynchronous_instrument"):
        _log.warning("this OpenTelemetry SDK hides its measurement consumer; label values are not capped")
        return False
    consume = consumer.consume_measurement
    register = consumer.register_asynchronous_instrument
    setattr(consumer, RULES_ATTRIBUTE, (rules, dropped))  # what a BoundRecord must apply itself

    apply = rules.__call__
    limit = rules._max
    plain = rules._probe is None  # no metric_attributes to add: most measurements pass untouched
    _str, _tuple, _list = str, tuple, list

    def consume_measurement(measurement: Any) -> None:
        # The common case in one frame: short ASCII strings and numbers, nothing to add. Anything
        # else (a long or non-ASCII string, a sequence, attributes to add) goes through the rules.
        if dropped and measurement.instrument.name in dropped:
            return
        if plain:
            for value in (measurement.attributes or _NONE).values():
                kind = value.__class__
                if kind is _str:
                    if len(value) <= limit and value.isascii():
                        continue
                elif kind is not _tuple and kind is not _list:
                    continue
                break
            else:
                consume(measurement)
                return
        consume(apply(measurement))

    def register_asynchronous_instrument(instrument: Any) -> None:
        callback = instrument.callback

        def ruled_callback(options: Any) -> Iterable[Any]:
            return [rules(measurement) for measurement in callback(options)]

        instrument.callback = ruled_callback
        register(instrument)

    consumer.consume_measurement = consume_measurement
    consumer.register_asynchronous_instrument = register_asynchronous_instrument
    return True
