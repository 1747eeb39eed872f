"""Many agent steps in one process: ``python -m tests.reliability.apps.long_run STEPS VARIANT``.

VARIANT ``fixed``: one agent, model and tool name throughout. ``unbounded``: every step uses new
agent, model and tool names (as when names come from users or a remote API). Prints one JSON
line: RSS (kB) and thread count after a warm-up of 10 % of the steps and at the end, and the
seconds the steps took. configure() runs with its defaults (Prometheus endpoint on, batch span
processor exporting to a counting no-op, logs off).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import kaizen_otel
from benchmarks.bench_agent_step import CountingDropSpans


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def step(i: int, unbounded: bool) -> None:
    suffix = f"-{i}" if unbounded else ""
    with kaizen_otel.agent_run(f"agent{suffix}") as run:
        with kaizen_otel.llm_call("openai", f"gpt-4o-mini{suffix}") as call:
            call.record_usage(input_tokens=100, output_tokens=20)
        with kaizen_otel.tool_call(f"search{suffix}"):
            pass
        run.set_attribute("step", i)


def main() -> int:
    steps, variant = int(sys.argv[1]), sys.argv[2]
    unbounded = variant == "unbounded"
    obs = kaizen_otel.configure(prometheus_port=0, logs_exporter="none")
    from kaizen_otel._internal.selfmon import CountingBatchSpanProcessor, TelemetryStats

    sink = CountingDropSpans()
    sink_stats = TelemetryStats()  # counts what the sink's batch queue dropped when full
    assert obs.tracer_provider is not None
    obs.tracer_provider.add_span_processor(CountingBatchSpanProcessor(sink, sink_stats))
    warm = max(1, steps // 10)
    started = time.perf_counter()
    for i in range(warm):
        step(i, unbounded)
    obs.force_flush()
    warm_rss, warm_threads = rss_kb(), threading.active_count()
    for i in range(warm, steps):
        step(i, unbounded)
    obs.force_flush()
    seconds = time.perf_counter() - started
    end_rss, end_threads = rss_kb(), threading.active_count()
    if obs.metrics_url:
        import urllib.request

        scrape = len(urllib.request.urlopen(obs.metrics_url, timeout=30).read())
    else:
        scrape = 0
    print(
        json.dumps(
            {
                "phase": "done",
                "steps": steps,
                "variant": variant,
                "seconds": seconds,
                "warm_rss_kb": warm_rss,
                "end_rss_kb": end_rss,
                "warm_threads": warm_threads,
                "end_threads": end_threads,
                "spans": sink.count,
                "dropped_spans": sink_stats.signals["traces"].dropped,
                "scrape_bytes": scrape,
            }
        ),
        flush=True,
    )
    print(json.dumps({"phase": "exiting"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
