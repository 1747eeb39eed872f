"""What the source documents' API costs on top of the OTel instrument it stands on.

``MetricsCollector.counter`` / ``.histogram`` and ``await obs.record_metric(...)`` against the
same ``Counter.add`` / ``Histogram.record`` called directly, on the MeterProvider ``configure()``
installs by default (the Prometheus reader), interleaved round by round. The ratios are what the
thin layer adds; the absolute figures sit beside the documents' "0.005 ms per counter increment".
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from opentelemetry import metrics

import kaizen_otel
from benchmarks._util import table
from kaizen_otel.compat.manager import ObservabilityManager
from kaizen_otel.compat.metrics import MetricsCollector
from kaizen_otel.testing import reset_globals

CALLS = 20_000
ROUNDS = 7
LABELS = {"provider": "openai", "model": "gpt-4"}


def _time(fn: Callable[[int], None], calls: int) -> float:
    started = time.perf_counter()
    fn(calls)
    return (time.perf_counter() - started) / calls * 1e6


def _legs(collector: MetricsCollector, manager: ObservabilityManager) -> dict[str, Callable[[int], None]]:
    meter = metrics.get_meter("bench.raw")
    counter, histogram = meter.create_counter("raw_total"), meter.create_histogram("raw_ms")

    async def record_metric(calls: int) -> None:
        for _ in range(calls):
            await manager.record_metric("awaited_total", 1.0, "counter", LABELS)

    def raw_counter(calls: int) -> None:
        for _ in range(calls):
            counter.add(1, LABELS)

    def collector_counter(calls: int) -> None:
        for _ in range(calls):
            collector.counter("compat_total", 1, LABELS)

    def raw_histogram(calls: int) -> None:
        for _ in range(calls):
            histogram.record(150.5, LABELS)

    def collector_histogram(calls: int) -> None:
        for _ in range(calls):
            collector.histogram("compat_ms", 150.5, LABELS)

    return {
        "otel_counter_add": raw_counter,
        "collector_counter": collector_counter,
        "record_metric_awaited": lambda calls: asyncio.run(record_metric(calls)),
        "otel_histogram_record": raw_histogram,
        "collector_histogram": collector_histogram,
    }


def main(calls: int = CALLS, rounds: int = ROUNDS) -> dict[str, float]:
    reset_globals()
    kaizen_otel.configure(
        service_name="bench",
        prometheus_host="127.0.0.1",
        prometheus_port=0,
        enable_tracing=False,
        logs_exporter=("none",),
        process_metrics=False,
    )
    try:
        manager = ObservabilityManager(
            "bench", enable_tracing=False, enable_logging=False, enable_audit=False
        )
        legs = _legs(MetricsCollector(), manager)
        for fn in legs.values():
            _time(fn, calls // 5)
        samples: dict[str, list[float]] = {name: [] for name in legs}
        for _ in range(rounds):
            for name, fn in legs.items():
                samples[name].append(_time(fn, calls))
    finally:
        reset_globals()

    def paired(leg: str, baseline: str) -> float:
        return statistics.median(a / b for a, b in zip(samples[leg], samples[baseline], strict=True))

    results = {f"{name}_us": statistics.median(values) for name, values in samples.items()}
    results["collector_counter_vs_otel"] = paired("collector_counter", "otel_counter_add")
    results["record_metric_vs_otel"] = paired("record_metric_awaited", "otel_counter_add")
    results["collector_histogram_vs_otel"] = paired("collector_histogram", "otel_histogram_record")
    print(table(["measure", "value"], [(name, value) for name, value in results.items()]))
    return results


if __name__ == "__main__":
    main()
