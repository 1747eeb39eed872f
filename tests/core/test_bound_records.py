"""A BoundRecord lands every value where ``instrument.record()`` would, and says so the same way:
same series, sums, buckets and exemplars; rules, limits, forks and delta readers respected."""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider

from kaizen_otel._internal.bound_records import BoundRecord
from kaizen_otel._internal.forks import forget_metrics
from kaizen_otel._internal.measurements import MeasurementRules, apply_measurement_rules

ATTRS = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "m"}
VALUES = [120, 30, 0, 7.5, 120, 1e6]


def _points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    return [
        point
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def _histogram_state(reader: InMemoryMetricReader, name: str = "h") -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(sorted(p.attributes.items())), p.count, p.sum, p.min, p.max, tuple(p.bucket_counts))
        for p in _points(reader, name)
    )


def _side(**provider: Any) -> tuple[MeterProvider, InMemoryMetricReader]:
    reader = provider.pop("reader", None) or InMemoryMetricReader()
    return MeterProvider(metric_readers=[reader], shutdown_on_exit=False, **provider), reader


def test_values_through_a_binding_match_the_api_path_exactly() -> None:
    api_mp, api_reader = _side()
    bound_mp, bound_reader = _side()
    api = api_mp.get_meter("t").create_histogram("h")
    bound = BoundRecord(bound_mp.get_meter("t").create_histogram("h"), ATTRS)
    for value in VALUES * 3:
        api.record(value, ATTRS)
        bound(value, None)
    assert bound._targets is not None  # the later values took the bound path
    assert _histogram_state(bound_reader) == _histogram_state(api_reader)
    assert _histogram_state(bound_reader)[0][1] == len(VALUES) * 3


def test_a_counter_binding_adds_up_like_add() -> None:
    mp, reader = _side()
    counter = mp.get_meter("t").create_counter("c")
    assert isinstance(counter, Counter)
    bound = BoundRecord(counter, ATTRS)
    for _ in range(10):
        bound(0.25, None)
    counter.add(1, ATTRS)
    (point,) = _points(reader, "c")
    assert point.value == pytest.approx(3.5)
    assert dict(point.attributes) == ATTRS


def test_refused_values_are_refused_as_the_sdk_does() -> None:
    mp, reader = _side()
    histogram = mp.get_meter("t").create_histogram("h")
    assert isinstance(histogram, Histogram)
    bound = BoundRecord(histogram, ATTRS)
    for value in (1, 2, 3, -5, math.nan, math.inf, 4):
        bound(value, None)
    ((_, count, total, low, high, _),) = _histogram_state(reader)
    assert (count, total, low, high) == (4, 10, 1, 4)


def test_a_forked_child_records_into_its_own_fresh_series() -> None:
    mp, reader = _side()
    bound = BoundRecord(mp.get_meter("t").create_histogram("h"), ATTRS)
    for _ in range(5):
        bound(10, None)
    forget_metrics(mp)  # what the child does right after os.fork()
    bound(1, None)
    bound(2, None)
    assert bound._targets is not None  # bound again, to the child's series
    ((_, count, total, *_),) = _histogram_state(reader)
    assert (count, total) == (2, 3)


def test_a_reader_added_later_sees_the_values_after_it() -> None:
    mp, first = _side()
    bound = BoundRecord(mp.get_meter("t").create_histogram("h"), ATTRS)
    for _ in range(4):
        bound(1, None)
    second = InMemoryMetricReader()
    mp.add_metric_reader(second)
    for _ in range(3):
        bound(1, None)
    assert bound._targets is not None and len(bound._targets) == 2
    assert _histogram_state(first)[0][1] == 7
    assert _histogram_state(second)[0][1] == 3


def test_a_delta_reader_is_never_bound_and_loses_nothing() -> None:
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    mp, _ = _side(reader=reader)
    bound = BoundRecord(mp.get_meter("t").create_histogram("h"), ATTRS)
    seen = 0
    for _ in range(3):
        for _ in range(4):
            bound(1, None)
        seen += _histogram_state(reader)[0][1]
    assert bound._targets is None
    assert seen == 12


def test_a_view_that_keeps_some_keys_gets_the_same_series() -> None:
    views = [View(instrument_name="h", attribute_keys={"gen_ai.request.model"})]
    mp, reader = _side(views=views)
    bound = BoundRecord(mp.get_meter("t").create_histogram("h"), ATTRS)
    for _ in range(5):
        bound(2, None)
    assert bound._targets is not None
    ((attributes, count, total, *_),) = _histogram_state(reader)
    assert (attributes, count, total) == ((("gen_ai.request.model", "m"),), 5, 10)


def test_past_the_cardinality_limit_values_fold_into_the_overflow_series_as_before() -> None:
    views = [View(instrument_name="h", aggregation_cardinality_limit=2)]
    mp, reader = _side(views=views)
    histogram = mp.get_meter("t").create_histogram("h")
    histogram.record(1, {"k": "a"})
    histogram.record(1, {"k": "b"})
    late = BoundRecord(histogram, {"k": "c"})
    for _ in range(6):
        late(1, None)
    counts = {p.attributes.get("k", "overflow"): p.count for p in _points(reader, "h")}
    assert counts == {"a": 1, "b": 1, "overflow": 6}
    assert late._targets is None


def test_metric_attributes_are_added_and_a_value_to_cut_is_cut_and_counted_every_time() -> None:
    mp, reader = _side()
    cuts: list[int] = []
    rules = MeasurementRules(16, {"team": "search"}, lambda: cuts.append(1))
    assert apply_measurement_rules(mp, rules)
    meter = mp.get_meter("t")
    ours = BoundRecord(meter.create_counter("kaizen.c"), {"gen_ai.request.model": "m"})
    long_name = BoundRecord(meter.create_counter("kaizen.d"), {"gen_ai.request.model": "m" * 40})
    for _ in range(5):
        ours(1, None)
        long_name(1, None)
    (point,) = _points(reader, "kaizen.c")
    assert dict(point.attributes) == {"team": "search", "gen_ai.request.model": "m"}
    assert point.value == 5
    assert ours._targets is not None
    (cut,) = _points(reader, "kaizen.d")
    assert cut.attributes["gen_ai.request.model"].endswith("…") and cut.value == 5
    assert long_name._targets is None
    assert len(cuts) == 5


def test_exemplars_are_offered_with_the_value_and_its_context() -> None:
    mp, reader = _side(exemplar_filter=AlwaysOnExemplarFilter())
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("t")
    bound = BoundRecord(mp.get_meter("t").create_histogram("h"), ATTRS)
    bound(1, None)
    bound(2, None)
    assert bound._targets is not None
    with tracer.start_as_current_span("call") as span:
        bound(42, trace.set_span_in_context(span))
    (point,) = _points(reader, "h")
    assert any(e.value == 42 and e.span_id == span.get_span_context().span_id for e in point.exemplars)


def test_exemplar_decisions_are_made_per_context_as_the_api_makes_them() -> None:
    api_mp, api_reader = _side()  # the SDK's default filter: exemplars only from sampled spans
    bound_mp, bound_reader = _side()
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("t")
    names = ("h", "h2")
    api = [api_mp.get_meter("t").create_histogram(name) for name in names]
    bound = [BoundRecord(bound_mp.get_meter("t").create_histogram(name), ATTRS) for name in names]
    contexts: list[Any] = [None, None]
    for _ in range(3):
        with tracer.start_as_current_span("call") as span:
            contexts.append(trace.set_span_in_context(span))
        contexts.append(trace.set_span_in_context(trace.INVALID_SPAN))
    for step, context in enumerate(contexts):
        for index in range(2):  # both instruments with one context, as a model call does
            api[index].record(step + index, ATTRS, context)
            bound[index](step + index, context)
    assert all(record._targets is not None for record in bound)

    def exemplars(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
        data = reader.get_metrics_data()  # one collection: it hands the exemplars out once
        assert data is not None
        return sorted(
            (metric.name, e.value, e.span_id)
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            for point in metric.data.data_points
            for e in point.exemplars
        )

    kept = exemplars(bound_reader)
    assert kept == exemplars(api_reader)
    assert {name for name, _, _ in kept} == set(names)  # both instruments kept sampled values


class _AggregationOfAnotherSDK:
    """Stands in for an SDK release whose aggregations take other arguments."""

    def aggregate(self, measurement: Any) -> None:
        raise AssertionError("not reached: the call itself fails")


def test_an_sdk_whose_aggregations_differ_loses_no_value_and_keeps_the_normal_path() -> None:
    mp, reader = _side()
    bound = BoundRecord(mp.get_meter("t").create_histogram("h"), ATTRS)
    for value in VALUES:
        bound(value, None)
    assert bound._targets is not None
    bound._targets = tuple((match, table, _AggregationOfAnotherSDK()) for match, table, _ in bound._targets)
    for value in VALUES:
        bound(value, None)
    assert bound._targets is None  # the normal path from now on, without binding again
    bound(1, None)
    assert bound._targets is None
    assert _histogram_state(reader)[0][1] == 2 * len(VALUES) + 1
