"""One `/metrics` scrape at 100, 1,000 and 2,000 histogram series: kaizen_otel's reader against
prometheus-client serving the same series, and against the OTel Prometheus reader as it comes.

Each variant renders the same series into its own registry with prometheus-client's
`generate_latest` (what the HTTP handler calls); the median of repeated scrapes is reported.
"""

from __future__ import annotations

import time

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from benchmarks._util import median, table
from kaizen_otel._internal.providers import OverflowAwarePrometheusReader
from kaizen_otel._internal.selfmon import TelemetryStats
from kaizen_otel.genai.semconv import OPERATION_DURATION_BUCKETS


def _scrape_ms(registry: CollectorRegistry, repeats: int) -> float:
    generate_latest(registry)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        generate_latest(registry)
        times.append(time.perf_counter() - started)
    return median(times) * 1000


def _prometheus_client(series: int) -> CollectorRegistry:
    registry = CollectorRegistry()
    hist = Histogram(
        "agent_step_duration_seconds",
        "Step duration",
        ["route"],
        registry=registry,
        buckets=OPERATION_DURATION_BUCKETS,
    )
    for i in range(series):
        hist.labels(route=f"r{i}").observe(0.1 + i % 7)
    return registry


def _otel(series: int, kaizen: bool) -> tuple[CollectorRegistry, MeterProvider]:
    registry = CollectorRegistry()
    reader = (
        OverflowAwarePrometheusReader(TelemetryStats(), 2000, registry)
        if kaizen
        else PrometheusMetricReader(registry=registry)
    )
    view = View(
        instrument_name="agent.step.duration",
        aggregation=ExplicitBucketHistogramAggregation(list(OPERATION_DURATION_BUCKETS)),
    )
    provider = MeterProvider(metric_readers=[reader], views=[view], shutdown_on_exit=False)
    hist = provider.get_meter("bench").create_histogram("agent.step.duration", unit="s")
    for i in range(series):
        hist.record(0.1 + i % 7, {"route": f"r{i}"})
    return registry, provider


def main(repeats: int = 30) -> dict[str, object]:
    rows, results = [], {}
    for series in (100, 1000, 2000):
        reps = max(5, repeats * 100 // series)
        base = _scrape_ms(_prometheus_client(series), reps)
        stock_registry, stock_provider = _otel(series, kaizen=False)
        ours_registry, ours_provider = _otel(series, kaizen=True)
        stock = _scrape_ms(stock_registry, reps)
        ours = _scrape_ms(ours_registry, reps)
        stock_provider.shutdown()
        ours_provider.shutdown()
        results[series] = {
            "prometheus_client_ms": base,
            "otel_reader_ms": stock,
            "kaizen_ms": ours,
            "kaizen_ratio": ours / base,
            "otel_reader_ratio": stock / base,
        }
        rows.append([series, base, stock, ours, f"{stock / base:.2f}x", f"{ours / base:.2f}x"])
    print(
        table(["series", "prom-client ms", "OTel reader ms", "kaizen ms", "OTel/prom", "kaizen/prom"], rows)
    )
    print("aim: kaizen/prom <= 1.0x; source documents' NFR: export < 1 s")
    return results


if __name__ == "__main__":
    main()
