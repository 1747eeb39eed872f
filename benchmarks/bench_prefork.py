"""Pre-fork `/metrics`: the merged scrape and the cost per record in a worker.

Scrape: 4 worker processes each hold 1,000 counter series and 100 histogram series (the same label
sets in every worker, so the merge sums them). kaizen_otel's workers write OTel metrics through
its multiprocess writer; the baseline workers use prometheus-client's own multiprocess mode
(`Counter`/`Histogram` with `PROMETHEUS_MULTIPROC_DIR`). Both directories are scraped with
`generate_latest` on the registry each side serves; the median of repeated scrapes is reported.

Per record: `counter.add()` with attributes in a configured process, single-process `/metrics`
against multiprocess mode (the extra work there is the periodic file write, not the record), and
the time one periodic write of 1,100 series takes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from benchmarks._util import median, table

WORKERS = 4
COUNTERS = 1_000
HISTOGRAMS = 100
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _in_children(work: Any) -> None:
    pids = []
    for index in range(WORKERS):
        pid = os.fork()
        if pid == 0:
            try:
                work(index)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)


def _kaizen_worker(directory: str) -> Any:
    def work(index: int) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

        from kaizen_otel._internal.multiproc import MultiprocessFileExporter

        reader = InMemoryMetricReader()
        view = View(instrument_name="bench.latency", aggregation=ExplicitBucketHistogramAggregation(BUCKETS))
        provider = MeterProvider(metric_readers=[reader], views=[view])
        meter = provider.get_meter("bench")
        counter = meter.create_counter("bench.requests")
        histogram = meter.create_histogram("bench.latency", unit="s")
        for i in range(COUNTERS):
            counter.add(index + 1, {"route": f"/r{i}"})
        for i in range(HISTOGRAMS):
            histogram.record(0.2, {"route": f"/r{i}"})
        exporter = MultiprocessFileExporter(directory)
        data = reader.get_metrics_data()
        assert data is not None
        exporter.export(data)
        exporter.shutdown()

    return work


def _prometheus_client_worker(directory: str) -> Any:
    def work(index: int) -> None:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # the multiprocess value class, as at import
        from prometheus_client import Counter, Histogram

        registry = CollectorRegistry()
        counter = Counter("bench_requests", "", ["route"], registry=registry)
        histogram = Histogram("bench_latency_seconds", "", ["route"], buckets=BUCKETS, registry=registry)
        for i in range(COUNTERS):
            counter.labels(route=f"/r{i}").inc(index + 1)
        for i in range(HISTOGRAMS):
            histogram.labels(route=f"/r{i}").observe(0.2)

    return work


def _scrape_ms(registry: CollectorRegistry, repeats: int = 15) -> tuple[float, int]:
    body = generate_latest(registry)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        generate_latest(registry)
        times.append(time.perf_counter() - started)
    return median(times) * 1000, len(body)


def _scrapes() -> dict[str, Any]:
    from kaizen_otel._internal.multiproc import merged_registry

    ours_dir = tempfile.mkdtemp(prefix="bench-prefork-kaizen-")
    theirs_dir = tempfile.mkdtemp(prefix="bench-prefork-promclient-")
    try:
        _in_children(_kaizen_worker(ours_dir))
        _in_children(_prometheus_client_worker(theirs_dir))
        theirs_registry = CollectorRegistry()
        MultiProcessCollector(theirs_registry, theirs_dir)
        ours, theirs = merged_registry(ours_dir), theirs_registry
        ours_bytes, theirs_bytes = len(generate_latest(ours)), len(generate_latest(theirs))
        timings: list[list[float]] = [[], []]
        for _ in range(15):  # alternating, so a busy machine slows both alike
            for which, registry in enumerate((ours, theirs)):
                timings[which].append(_scrape_ms(registry, repeats=1)[0])
        ours_ms, theirs_ms = median(timings[0]), median(timings[1])
    finally:
        shutil.rmtree(ours_dir, ignore_errors=True)
        shutil.rmtree(theirs_dir, ignore_errors=True)
    return {
        "kaizen_ms": ours_ms,
        "prometheus_client_ms": theirs_ms,
        "ratio": ours_ms / theirs_ms,
        "kaizen_bytes": ours_bytes,
        "prometheus_client_bytes": theirs_bytes,
    }


def _record_ns(multiproc_dir: str, calls: int = 50_000, rounds: int = 10) -> tuple[float, float]:
    """``counter.add()`` on a provider read by the Prometheus reader vs by the multiprocess writer.

    The two providers are built as ``configure()`` builds them and measured in alternating rounds,
    so a busy machine slows both alike.
    """
    from opentelemetry.sdk.metrics import MeterProvider

    from kaizen_otel._internal.multiproc import multiproc_reader
    from kaizen_otel._internal.providers import OverflowAwarePrometheusReader, genai_views
    from kaizen_otel._internal.selfmon import TelemetryStats

    stats = TelemetryStats()
    single = MeterProvider(
        metric_readers=[OverflowAwarePrometheusReader(stats, 2000, CollectorRegistry())],
        views=genai_views(2000),
    )
    multi = MeterProvider(
        metric_readers=[multiproc_reader(multiproc_dir, stats, 2000)], views=genai_views(2000)
    )
    attributes = {"route": "/checkout", "status": "200"}
    counters = [p.get_meter("bench").create_counter("bench.records") for p in (single, multi)]
    timings: list[list[float]] = [[], []]
    for counter in counters:
        for _ in range(10_000):
            counter.add(1, attributes)
    for _ in range(rounds):
        for which, counter in enumerate(counters):
            started = time.perf_counter()
            for _ in range(calls):
                counter.add(1, attributes)
            timings[which].append((time.perf_counter() - started) / calls * 1e9)
    single.shutdown()
    multi.shutdown()
    return median(timings[0]), median(timings[1])


def _write_ms() -> float:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from kaizen_otel._internal.multiproc import MultiprocessFileExporter

    directory = tempfile.mkdtemp(prefix="bench-prefork-write-")
    try:
        reader = InMemoryMetricReader()
        meter = MeterProvider(metric_readers=[reader]).get_meter("bench")
        counter = meter.create_counter("bench.requests")
        histogram = meter.create_histogram("bench.latency", unit="s")
        for i in range(COUNTERS):
            counter.add(1, {"route": f"/r{i}"})
        for i in range(HISTOGRAMS):
            histogram.record(0.2, {"route": f"/r{i}"})
        exporter = MultiprocessFileExporter(directory)
        times = []
        for _ in range(15):
            data = reader.get_metrics_data()
            assert data is not None
            started = time.perf_counter()
            exporter.export(data)
            times.append(time.perf_counter() - started)
        exporter.shutdown()
        return median(times) * 1000
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> dict[str, Any]:
    scrape = _scrapes()
    directory = tempfile.mkdtemp(prefix="bench-prefork-records-")
    try:
        single, multi = _record_ns(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    write = _write_ms()
    print(f"merged /metrics, {WORKERS} workers x ({COUNTERS} counter + {HISTOGRAMS} histogram series)")
    print(
        table(
            ["variant", "scrape ms", "bytes"],
            [
                ["kaizen_otel (OTel metrics, merged)", scrape["kaizen_ms"], scrape["kaizen_bytes"]],
                [
                    "prometheus-client multiprocess",
                    scrape["prometheus_client_ms"],
                    scrape["prometheus_client_bytes"],
                ],
            ],
        )
    )
    print(f"ratio kaizen / prometheus-client: {scrape['ratio']:.2f}x")
    print(
        table(
            ["per record (counter.add)", "ns"],
            [["single-process /metrics", single], ["multiprocess mode", multi]],
        )
    )
    print(f"ratio multiprocess / single: {multi / single:.2f}x")
    print(f"one periodic write of {COUNTERS + HISTOGRAMS} series: {write:.1f} ms")
    return {**scrape, "record_single_ns": single, "record_multiproc_ns": multi, "write_ms": write}
