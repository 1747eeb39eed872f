"""MetricsCollector over OTel instruments, and Prometheus text with bucket-estimated percentiles."""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import kaizen_otel
from kaizen_otel import KaizenConfigError, MetricsCollector
from kaizen_otel.compat.metrics import histogram_buckets
from kaizen_otel.compat.quantiles import bucket_quantile


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(text: str, sample_name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"{sample_name}{labels} not in the export")


@pytest.fixture
def collector() -> MetricsCollector:
    kaizen_otel.configure(service_name="metrics-test")
    return MetricsCollector()


def test_counter_gauge_and_histogram_land_in_the_prometheus_text_with_their_labels(
    collector: MetricsCollector,
) -> None:
    collector.counter("api_calls_total", 1.0, labels={"provider": "openai"})
    collector.counter("api_calls_total", 2.0, labels={"provider": "openai"})
    collector.gauge("memory_bytes", 1024000, labels={"agent_id": "qa"})
    collector.gauge("memory_bytes", 2048, labels={"agent_id": "qa"})
    collector.histogram("request_duration_ms", 150.5, labels={"operation": "llm_call"})

    text = asyncio.run(collector.export())
    families = _families(text)

    assert families["api_calls"].type == "counter"
    assert _value(text, "api_calls_total", provider="openai") == 3.0
    assert families["memory_bytes"].type == "gauge"
    assert _value(text, "memory_bytes", agent_id="qa") == 2048.0
    assert families["request_duration_ms"].type == "histogram"
    assert _value(text, "request_duration_ms_count", operation="llm_call") == 1.0


def test_a_histogram_of_one_observation_reports_that_value_as_every_percentile(
    collector: MetricsCollector,
) -> None:
    collector.histogram("latency_ms", 250.5, labels={"operation": "llm_call"})
    text = collector.export_text()
    for suffix in ("p50", "p95", "p99"):
        assert _value(text, f"latency_ms_{suffix}", operation="llm_call") == 250.5


def test_p95_of_a_known_distribution_is_within_the_width_of_its_bucket(collector: MetricsCollector) -> None:
    rng = random.Random(17)
    values = [rng.expovariate(1 / 120.0) for _ in range(5000)]  # milliseconds, mean 120
    for value in values:
        collector.histogram("step_duration_ms", value)

    estimate = _value(collector.export_text(), "step_duration_ms_p95")

    true_p95 = sorted(values)[math.ceil(0.95 * len(values)) - 1]
    bounds = histogram_buckets("step_duration_ms")
    upper = min(b for b in bounds if b >= true_p95)
    lower = max(b for b in bounds if b < true_p95)
    assert abs(estimate - true_p95) <= upper - lower
    assert lower <= estimate <= upper


def test_percentiles_follow_each_label_set_separately(collector: MetricsCollector) -> None:
    for value in range(1, 101):
        collector.histogram("tool_ms", float(value), labels={"tool": "fast"})
        collector.histogram("tool_ms", float(value) * 50, labels={"tool": "slow"})
    text = collector.export_text()
    assert _value(text, "tool_ms_p50", tool="fast") <= 100
    assert _value(text, "tool_ms_p50", tool="slow") >= 1000


def test_names_ending_in_seconds_get_second_buckets_and_timers_record_in_their_unit(
    collector: MetricsCollector,
) -> None:
    with collector.timer_sync("block_duration_seconds"):
        time.sleep(0.01)
    with collector.timer_sync("block_duration_ms"):
        time.sleep(0.01)
    text = collector.export_text()
    seconds = _value(text, "block_duration_seconds_sum")
    millis = _value(text, "block_duration_ms_sum")
    assert 0.01 <= seconds < 5 and 10 <= millis < 5000
    assert _value(text, "block_duration_seconds_bucket", le="0.005") == 0.0
    assert _value(text, "block_duration_seconds_bucket", le="10.0") == 1.0


def test_the_async_timer_records_the_block_even_when_it_raises(collector: MetricsCollector) -> None:
    async def failing() -> None:
        async with collector.timer("llm_call_duration_ms", labels={"model": "gpt-4"}):
            await asyncio.sleep(0.005)
            raise RuntimeError("model down")

    with pytest.raises(RuntimeError):
        asyncio.run(failing())
    assert _value(collector.export_text(), "llm_call_duration_ms_count", model="gpt-4") == 1.0


def test_one_name_is_one_instrument_shared_by_every_collector(collector: MetricsCollector) -> None:
    other = MetricsCollector()
    collector.counter("shared_total")
    other.counter("shared_total", 4)
    assert collector._instrument("shared_total", "counter") is other._instrument("shared_total", "counter")
    text = collector.export_text()
    assert text.count("# TYPE shared_total counter") == 1
    assert _value(text, "shared_total") == 5.0


def test_a_name_used_with_a_second_type_is_a_clear_error(collector: MetricsCollector) -> None:
    collector.counter("queue_depth")
    with pytest.raises(ValueError, match=r"'queue_depth' is already a counter; it cannot also be .* a gauge"):
        collector.gauge("queue_depth", 3)


def test_bad_names_and_negative_counts_are_refused_with_the_reason(collector: MetricsCollector) -> None:
    with pytest.raises(KaizenConfigError, match="metric name"):
        collector.counter("9lives")
    with pytest.raises(ValueError, match="can only increase"):
        collector.counter("errors_total", -1)
    with pytest.raises(KaizenConfigError, match="backend"):
        MetricsCollector(backend="statsd")


def test_explicit_buckets_replace_the_defaults_for_that_histogram() -> None:
    kaizen_otel.configure(service_name="buckets-test")
    collector = MetricsCollector(buckets={"score": [0.25, 0.5, 0.75]})
    collector.histogram("score", 0.6)
    text = collector.export_text()
    assert _value(text, "score_bucket", le="0.75") == 1.0
    assert _value(text, "score_bucket", le="0.5") == 0.0


def test_a_collector_made_before_configure_records_into_the_pipeline_installed_later() -> None:
    early = MetricsCollector()
    early.counter("before_total")  # the OTel API's no-op until a provider is installed
    kaizen_otel.configure(service_name="late-test")
    early.counter("after_total", 2)
    assert _value(early.export_text(), "after_total") == 2.0


def test_the_export_is_what_the_metrics_endpoint_serves_plus_percentiles(collector: MetricsCollector) -> None:
    import urllib.request

    collector.histogram("served_ms", 42.0)
    handle = kaizen_otel.get_observability()
    assert handle is not None and handle.metrics_url is not None
    with urllib.request.urlopen(handle.metrics_url, timeout=5) as response:
        served = response.read().decode()
    exported = collector.export_text()
    assert "served_ms_bucket" in served and "served_ms_p95" not in served
    assert _value(served, "served_ms_count") == _value(exported, "served_ms_count") == 1.0


@pytest.mark.parametrize(("q", "expected"), [(0.25, 11.25), (0.5, 17.5), (0.9, 35.0), (1.0, 40.0)])
def test_bucket_quantiles_interpolate_linearly_inside_the_bucket(q: float, expected: float) -> None:
    # 10 observations: 2 up to 10, 4 in (10, 20], 4 in (20, 40]; as cumulative (bound, count) pairs.
    buckets = [(10.0, 2.0), (20.0, 6.0), (40.0, 10.0), (math.inf, 10.0)]
    assert bucket_quantile(q, buckets) == pytest.approx(expected)


def test_bucket_quantiles_of_the_edges() -> None:
    assert math.isnan(bucket_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))
    assert bucket_quantile(0.5, [(1.0, 0.0), (math.inf, 4.0)]) == 1.0  # above the last bound
    assert bucket_quantile(0.5, [(8.0, 4.0), (math.inf, 4.0)]) == 4.0  # first bucket starts at 0


def test_reset_globals_forgets_every_cached_instrument(collector: MetricsCollector) -> None:
    from kaizen_otel.compat import metrics as compat_metrics
    from kaizen_otel.testing import reset_globals

    collector.counter("cached_total")
    assert len(compat_metrics._BY_PROVIDER) >= 1
    reset_globals()
    assert len(compat_metrics._BY_PROVIDER) == 0
