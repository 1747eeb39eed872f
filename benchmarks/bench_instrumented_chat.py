"""CPU per chat call: the openai client with openai-v2, on kaizen_otel vs on the bare SDK.

The same instrumented call (``client.chat.completions.create`` against a local OpenAI-compatible
server with usage in the answer) runs on two pipelines in one process:

* bare: an SDK TracerProvider with a batch processor to a dropping exporter and a MeterProvider
  with an in-memory reader, handed to ``OpenAIInstrumentor().instrument(...)``;
* kaizen_otel: ``configure()`` with its defaults (redaction, enrichment with cost, roll-up to the
  enclosing run, budgets, heartbeat, the live view; /metrics), spans and logs to dropping exporters.

The two sides take turns call by call (the instrumentation is re-applied between calls, outside
the timing), in an order that alternates, so both see the same load on a shared machine: a call
answered by a server in another process leaves the CPU idle, and what other processes do meanwhile
changes how cold the next call runs. Each call is timed in process CPU time (export threads
included); a round ends with each side flushing its own spans and logs, timed into that side
(metrics are not collected: that is a scrape's cost, not a call's). The ratio is the median of
the per-round ratios. Two kaizen_otel setups, each in its own process against the bare SDK: the
defaults, and the enrichment alone (live view, redaction and the logging bridge off). The child
reports what each side emitted, so the comparison is seen to be like for like. Aim: <= 1.05x.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from benchmarks._util import run_child, table
except ImportError:  # run as a script
    from _util import run_child, table  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
CALLS = 80
ROUNDS = 7
#: The two kaizen_otel setups measured, each against the bare SDK in its own process.
SETUPS = {
    "defaults": {},
    "enrichment only": {"live_view": False, "redaction_enabled": False, "logging_bridge": False},
}
MESSAGES = [{"role": "user", "content": "what is the answer?"}]


def _fake_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.thirdparty.fake_models"],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    return proc, f"http://127.0.0.1:{port}/v1"


def _metric_series(reader: Any) -> dict[str, int]:
    """Series per metric name the reader holds."""
    data = reader.get_metrics_data()
    return {
        metric.name: len(metric.data.data_points)
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }


def _scraped_series(url: str) -> dict[str, int]:
    """Series per GenAI and cost family on a /metrics page (one ``_count`` or ``_total`` each)."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    found: dict[str, int] = {}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name.startswith(("gen_ai_", "kaizen_cost")) and name.endswith(("_count", "_total")):
            family = name.removesuffix("_count")
            found[family] = found.get(family, 0) + 1
    return found


def child(calls: int, rounds: int, setup: dict[str, Any]) -> dict[str, Any]:
    import openai
    from opentelemetry import trace
    from opentelemetry._logs import get_logger_provider
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from benchmarks.bench_agent_step import CountingDropSpans, configure_dropping

    server, base_url = _fake_server()
    try:
        client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)

        def call() -> None:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

        bare_spans = CountingDropSpans()
        tp = TracerProvider(shutdown_on_exit=False)
        bare_processor = BatchSpanProcessor(bare_spans)
        tp.add_span_processor(bare_processor)
        bare_reader = InMemoryMetricReader()
        mp = MeterProvider(metric_readers=[bare_reader], shutdown_on_exit=False)

        import kaizen_otel

        obs, kaizen_spans, kaizen_logs = configure_dropping(**setup)
        kaizen_tp: Any = trace.get_tracer_provider()
        kaizen_lp: Any = get_logger_provider()
        instrumentor = OpenAIInstrumentor()

        def on_bare() -> None:
            instrumentor.instrument(tracer_provider=tp, meter_provider=mp)

        def on_kaizen() -> None:
            instrumentor.instrument()  # the global providers configure() installed

        def kaizen_flush() -> None:
            kaizen_tp.force_flush()
            kaizen_lp.force_flush()

        sides: dict[str, tuple[Callable[[], None], Callable[[], object]]] = {
            "bare": (on_bare, bare_processor.force_flush),
            "kaizen": (on_kaizen, kaizen_flush),
        }

        def one(side: str) -> float:
            sides[side][0]()
            try:
                started = time.process_time()
                call()
                return time.process_time() - started
            finally:
                instrumentor.uninstrument()

        def flushed(side: str) -> float:
            started = time.process_time()
            sides[side][1]()
            return time.process_time() - started

        for _ in range(calls // 4):  # warm up both paths and caches
            one("bare")
            one("kaizen")
        for side in sides:
            flushed(side)
        counted = (bare_spans.count, kaizen_spans.count, kaizen_logs.count)
        samples: dict[str, list[float]] = {"bare": [], "kaizen": []}
        for round_ in range(rounds):
            spent = {"bare": 0.0, "kaizen": 0.0}
            gc.collect()
            for i in range(calls):
                order = ("bare", "kaizen") if (i + round_) % 2 == 0 else ("kaizen", "bare")
                for side in order:
                    spent[side] += one(side)
            for side in sides:
                spent[side] += flushed(side)
                samples[side].append(spent[side] / calls * 1e6)
        measured = calls * rounds
        emitted = {  # spans and log records per measured call; the series the run left
            "bare": {
                "spans": (bare_spans.count - counted[0]) / measured,
                "log records": 0.0,
                "metric series": _metric_series(bare_reader),
            },
            "kaizen": {
                "spans": (kaizen_spans.count - counted[1]) / measured,
                "log records": (kaizen_logs.count - counted[2]) / measured,
                "metric series": _scraped_series(obs.metrics_url) if obs.metrics_url else {},
            },
        }
        with kaizen_otel.agent_run("bench") as run:
            on_kaizen()
            try:
                call()
            finally:
                instrumentor.uninstrument()
        priced = run.cost_usd > 0 and run.tokens > 0
        obs.shutdown()
    finally:
        server.terminate()
        server.wait(timeout=10)
    ratios = [k / b for k, b in zip(samples["kaizen"], samples["bare"], strict=True)]
    return {
        "bare_sdk_us": statistics.median(samples["bare"]),
        "kaizen_us": statistics.median(samples["kaizen"]),
        "kaizen_vs_bare": statistics.median(ratios),
        "round_ratios": [round(r, 3) for r in ratios],
        "emitted": emitted,
        "run_priced": priced,
    }


def _run_child(calls: int, rounds: int, setup: dict[str, Any]) -> dict[str, Any]:
    args = ("--child", str(calls), str(rounds), json.dumps(setup))
    return dict(run_child("benchmarks.bench_instrumented_chat", *args, timeout=600))


def main(calls: int = CALLS, rounds: int = ROUNDS) -> dict[str, Any]:
    results = {name: _run_child(calls, rounds, setup) for name, setup in SETUPS.items()}
    rows: list[list[object]] = [["openai + openai-v2, bare SDK", results["defaults"]["bare_sdk_us"], 1.0]]
    for name, found in results.items():
        rows.append([f"openai + openai-v2, kaizen_otel {name}", found["kaizen_us"], found["kaizen_vs_bare"]])
    print(table(["variant", "µs CPU/call", "vs bare SDK"], rows))
    print(
        f"one chat.completions.create against a local server; process CPU time, median of {rounds} "
        f"rounds of {calls} calls per side, the sides taking turns call by call; aim <= 1.05x; "
        f"'enrichment only' has the live view, redaction and the logging bridge off; cost and "
        f"roll-up seen: {all(r['run_priced'] for r in results.values())}"
    )
    for name, found in results.items():
        print(f"{name}: round ratios {found['round_ratios']}")
        for side, emitted in found["emitted"].items():
            print(f"  {side}: {emitted}")
    return {
        "kaizen_vs_bare": results["defaults"]["kaizen_vs_bare"],
        "enrichment_only_vs_bare": results["enrichment only"]["kaizen_vs_bare"],
        "bare_sdk_us": results["defaults"]["bare_sdk_us"],
        "kaizen_us": results["defaults"]["kaizen_us"],
    }


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]))))
    else:
        main()
