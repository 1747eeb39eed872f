"""CPU per chat call: the openai client with openai-v2, on kaizen_otel vs on the bare SDK.

The same instrumented call (``client.chat.completions.create`` against a local OpenAI-compatible
server with usage in the answer) runs on two pipelines in one process, in alternating rounds:

* bare: an SDK TracerProvider with a batch processor to a dropping exporter and a MeterProvider
  with an in-memory reader, handed to ``OpenAIInstrumentor().instrument(...)``;
* kaizen_otel: ``configure()`` with its defaults (redaction, enrichment with cost, roll-up to the
  enclosing run, budgets, heartbeat; /metrics), spans and logs to dropping exporters.

Timed in process CPU time (export threads included; the model server runs in another process, so
its work is not counted). The ratio is the median of the per-round ratios. Two kaizen_otel setups,
each in its own process against the bare SDK: the defaults, and the enrichment alone (live view,
redaction and the logging bridge off). Aim: <= 1.05x.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
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


def _cpu(fn: Callable[[], None], calls: int, flush: Callable[[], object]) -> float:
    gc.collect()
    started = time.process_time()
    for _ in range(calls):
        fn()
    flush()
    return (time.process_time() - started) / calls * 1e6


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


def child(calls: int, rounds: int, setup: dict[str, Any]) -> dict[str, Any]:
    import openai
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
        mp = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)

        import kaizen_otel

        obs, kaizen_spans, _logs = configure_dropping(**setup)
        instrumentor = OpenAIInstrumentor()

        def on_bare() -> None:
            instrumentor.instrument(tracer_provider=tp, meter_provider=mp)

        def on_kaizen() -> None:
            instrumentor.instrument()  # the global providers configure() installed

        def measure(setup: Callable[[], None], flush: Callable[[], object], n: int) -> float:
            setup()
            try:
                return _cpu(call, n, flush)
            finally:
                instrumentor.uninstrument()

        def kaizen_flush() -> None:
            obs.force_flush()

        for setup, flush in ((on_bare, bare_processor.force_flush), (on_kaizen, kaizen_flush)):
            measure(setup, flush, calls // 3)  # warm up
        samples: dict[str, list[float]] = {"bare": [], "kaizen": []}
        for _ in range(rounds):
            samples["bare"].append(measure(on_bare, bare_processor.force_flush, calls))
            samples["kaizen"].append(measure(on_kaizen, kaizen_flush, calls))
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
        "spans_exported": {"bare": bare_spans.count, "kaizen": kaizen_spans.count},
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
        f"alternating rounds of {calls} calls per process; aim <= 1.05x; 'enrichment only' has the "
        f"live view, redaction and the logging bridge off; cost and roll-up seen: "
        f"{all(r['run_priced'] for r in results.values())}"
    )
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
