"""One instrument with one attribute set, resolved once to the SDK aggregations it feeds.

Through the API, each ``record()`` / ``add()`` builds a ``Measurement`` that cleans its attribute
dict value by value, copies it, hashes it into a key (a sorted, recursive walk), and looks the
series up in every reader's storage: about 8 µs for the five attributes of a GenAI histogram, four
times per model call. The attribute sets the enrichment processor records are a handful, built once
and never mutated, so that work has the same answer every time. :class:`BoundRecord` asks the SDK
once, through the normal path, then keeps the aggregations that answer and hands them each value.

What the normal path does is kept:

* the measurement rules of ``configure()`` (``metric_attributes`` added; a value that would be cut
  is not bound, so every cut is still counted) and its dropped instruments;
* the exemplar filter, called per value with the value's context (the SDK's three filters decide
  from the context alone, so their answer for the context of the last value is reused: the four
  values of one model call share one context);
* values the SDK refuses (negative, NaN, infinite) and disabled meters take the normal path, which
  warns or ignores them as it always does;
* a series is bound only once it exists (the first value creates it), so the cardinality limit
  and its overflow series decide as before;
* nothing is bound when a reader resets its series at each collection (delta temporality).

A binding is checked on every value: the readers (``add_metric_reader``) and each series table
(a forked child's :func:`~kaizen_otel._internal.forks.forget_metrics` empties them) must be the
ones it was made with, else the value takes the normal path and the binding is made again.
Anything unexpected in the SDK's internals leaves the normal path in place for good.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry.attributes import _clean_attribute_value
from opentelemetry.context import get_current
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    TraceBasedExemplarFilter,
)

from kaizen_otel._internal.resets import on_reset

_log = logging.getLogger("kaizen_otel.metrics")

__all__ = ["RULES_ATTRIBUTE", "BoundRecord", "forget_decision"]

#: Set by ``apply_measurement_rules`` on the SDK's measurement consumer: ``(rules, dropped)``.
RULES_ATTRIBUTE = "_kaizen_measurement_rules"
#: Bind attempts before the normal path is kept for good (a series past the cardinality limit).
_TRIES = 3
_INF = math.inf
#: Exemplar filters whose answer depends on the context only.
_CONTEXT_ONLY = (AlwaysOffExemplarFilter, AlwaysOnExemplarFilter, TraceBasedExemplarFilter)
#: (filter, context, answer) of the last value a context-only filter decided; replaced whole, so a
#: reader on another thread sees one decision or another, never a mix.
_decided: tuple[Any, Any, bool] = (None, None, False)


def forget_decision() -> None:
    """Drop the last exemplar decision (and the context it holds)."""
    global _decided
    _decided = (None, None, False)


on_reset("bound_records", forget_decision)


class _Point:
    """What an aggregation reads of a ``Measurement``, without re-cleaning the attributes."""

    __slots__ = ("attributes", "context", "instrument", "time_unix_nano", "value")

    def __init__(
        self, value: float, time_unix_nano: int, instrument: Any, context: Any, attributes: Any
    ) -> None:
        self.value = value
        self.time_unix_nano = time_unix_nano
        self.instrument = instrument
        self.context = context
        self.attributes = attributes


class BoundRecord:
    """``instrument.record(amount, attributes, context)`` (or ``add``) for one fixed ``attributes``.

    Only for counters and histograms, whose values are never negative.
    """

    __slots__ = (
        "_attributes",
        "_consumer",
        "_filter",
        "_instrument",
        "_point_attributes",
        "_record",
        "_sample",
        "_storages",
        "_targets",
        "_tries",
    )

    def __init__(self, instrument: Any, attributes: Mapping[str, Any]) -> None:
        self._instrument = instrument
        self._attributes = attributes
        record = getattr(instrument, "record", None)
        self._record = record if record is not None else instrument.add
        #: ((view match, its series table, aggregation), ...) once bound.
        self._targets: tuple[tuple[Any, dict[Any, Any], Any], ...] | None = None
        self._consumer: Any = None
        self._storages: Any = None
        self._point_attributes: Any = None
        self._sample: Any = None
        #: The exemplar filter when it decides from the context alone (its answers are reused).
        self._filter: Any = None
        #: One more than the bind attempts: the first value only records (a set used once, like one
        #: built past a cache's limit, is not worth binding).
        self._tries = _TRIES + 1

    def __call__(self, amount: float, context: Any) -> None:
        global _decided
        targets = self._targets
        if targets is not None:
            if 0 <= amount < _INF and self._consumer._reader_storages is self._storages:
                instrument = self._instrument
                config = instrument._meter_config
                if config is None or config.is_enabled:
                    for match, table, _aggregation in targets:
                        if match._attributes_aggregation is not table:
                            break
                    else:
                        now = time_ns()
                        attributes = self._point_attributes
                        if context is None:
                            context = get_current()
                        point = _Point(amount, now, instrument, context, attributes)
                        decided = _decided
                        if decided[1] is context and decided[0] is self._filter is not None:
                            sample = decided[2]
                        else:
                            sample = self._sample(amount, now, attributes, context)
                            if self._filter is not None:
                                _decided = (self._filter, context, sample)
                        try:
                            for _match, _table, aggregation in targets:
                                aggregation.aggregate(point, sample)
                            return
                        except Exception:  # an SDK whose aggregations differ (it fails on the first
                            # one, before any took the value): the normal path, for good
                            self._targets, self._tries = None, 0
                            _log.debug(
                                "kaizen_otel: bound recording is off for %s", instrument.name, exc_info=True
                            )
                            self._record(amount, self._attributes, context)
                            return
            self._targets = None
            self._tries = _TRIES
        self._record(amount, self._attributes, context)
        tries = self._tries
        if tries:
            self._tries = tries - 1
            if tries <= _TRIES:
                self._bind()

    def _bind(self) -> None:
        """Find the aggregations the value just recorded went to (after the normal path)."""
        try:
            targets = self._resolve()
        except Exception:  # an SDK whose internals differ: the normal path, for good
            targets, self._tries = None, 0
        self._targets = targets

    def _resolve(self) -> tuple[tuple[Any, dict[Any, Any], Any], ...] | None:
        from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes

        instrument = self._instrument
        consumer = instrument._measurement_consumer
        storages = consumer._reader_storages
        exemplar_filter = consumer._sdk_config.exemplar_filter
        sample = exemplar_filter.should_sample
        instrument._meter_config  # noqa: B018  (read on every value: it must exist)
        attributes: Any = self._attributes
        rules = getattr(consumer, RULES_ATTRIBUTE, None)
        if rules is not None:
            measurement_rules, dropped = rules
            if instrument.name in dropped:
                self._tries = 0
                return None
            attributes = measurement_rules.effective(instrument.name, attributes)
            if attributes is None:  # the rules would change a value (and count it): not bound
                self._tries = 0
                return None
        attributes = _clean_attribute_value(dict(attributes), None)
        targets = []
        for storage in storages.values():
            for match in storage._get_or_init_view_instrument_match(instrument):
                if match._reset_on_collect:
                    self._tries = 0
                    return None
                keys = match._view._attribute_keys
                view_attributes = (
                    attributes if keys is None else {k: v for k, v in attributes.items() if k in keys}
                )
                table = match._attributes_aggregation
                aggregation = table.get(_hash_attributes(view_attributes))
                if aggregation is None:  # not created (yet), or folded into the overflow series
                    return None
                targets.append((match, table, aggregation))
        self._consumer = consumer
        self._storages = storages
        self._point_attributes = attributes
        self._sample = sample
        self._filter = exemplar_filter if type(exemplar_filter) in _CONTEXT_ONLY else None
        return tuple(targets)
