"""The source documents' overhead table, measured: what observability adds to a realistic agent loop.

One step of the loop is what the documents call a typical agent loop: an LLM call of 500 ms
(simulated with a sleep), three tool calls of 10-50 ms, 50 log lines, 3 audit records, and the
helpers' own spans (5) and metric records (13). It runs with observability off (the helpers and
``get_logger`` before any ``configure()``, no audit trail), with each component alone (metrics,
logging, tracing, audit) and with all of them, each variant in a fresh process through
``configure()``: logs as JSON lines to stderr (sent to /dev/null), spans through the console span
exporter swapped at the exporter seam for one that drops them, metrics on the Prometheus reader,
the audit trail fsynced on this disk.

Overhead = (median step time of the variant - median step time with observability off) / the
latter, per run; the table gives the median over runs and a 95 % confidence interval (Student's
t over the runs). The same loop with zero-latency fakes (no sleeps) gives the cost in µs per step,
which the 500 ms loop hides in the noise of ``sleep``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

try:
    from benchmarks._util import run_child, table
except ImportError:  # run as a script
    from _util import run_child, table  # type: ignore[no-redef]

VARIANTS = ("off", "metrics", "logging", "tracing", "audit", "all")
RUNS = 3
STEPS_REAL = 5
STEPS_ZERO = 300
LLM_SECONDS = 0.5
TOOL_SECONDS = (0.01, 0.03, 0.05)
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}

#: The source documents' claims, for the table (000, "Performance & Overhead").
CLAIMS = {
    "metrics": ("< 2 %", "~0.001 %"),
    "logging": ("< 5 %", "~0.06 %"),
    "tracing": ("< 1 %", "< 0.001 %"),
    "audit": ("< 10 ms p95 per append", "0.57 ms p95"),
    "all": ("-", "2.06 ms, ~0.4 % of a 500 ms loop"),
}


def child(variant: str, latency: bool, steps: int) -> dict[str, Any]:
    """Run ``steps`` loop steps under ``variant``; per-step wall and CPU times, and what was emitted."""
    directory = tempfile.mkdtemp(prefix="kaizen-bench-overhead-")
    obs = None
    spans = [0]
    if variant != "off":
        import kaizen_otel
        from benchmarks.bench_agent_step import CountingDropSpans
        from kaizen_otel._internal import providers

        exporter = CountingDropSpans()
        providers._console_span_exporter = lambda fmt: exporter  # type: ignore[assignment]
        on = {
            "enable_metrics": variant in ("metrics", "all"),
            "enable_logging": variant in ("logging", "all"),
            "enable_tracing": variant in ("tracing", "all"),
            "enable_audit": variant in ("audit", "all"),
        }
        obs = kaizen_otel.configure(
            service_name="overhead",
            traces_exporter="console",
            prometheus_host="127.0.0.1",
            prometheus_port=0,
            audit_path=os.path.join(directory, "audit_trail.jsonl"),
            **on,
        )
    from kaizen_otel import agent_run, get_logger, llm_call, tool_call

    log = get_logger("overhead")
    audit = obs.audit if obs is not None else None
    sleep = time.sleep if latency else (lambda seconds: None)

    def step(number: int) -> None:
        with agent_run("researcher"):
            log.info("step started", step=number)
            with llm_call("openai", "gpt-4o-mini") as call:
                sleep(LLM_SECONDS)
                call.record_usage(input_tokens=1200, output_tokens=300)
                call.set_response(model="gpt-4o-mini", finish_reasons=("stop",))
            for line in range(20):
                log.info("model output line", step=number, line=line)
            for index, seconds in enumerate(TOOL_SECONDS):
                with tool_call(f"tool-{index}"):
                    sleep(seconds)
                if audit is not None:
                    audit.record("researcher", "tool_execute", {"tool": f"tool-{index}", "step": number})
                for line in range(9):
                    log.info("tool progress", tool=index, line=line)
            log.info("step finished", step=number)

    step(-1)  # warm up
    walls, cpus = [], []
    for number in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        step(number)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    if obs is not None:
        obs.shutdown()
    audit_lines = 0
    trail = os.path.join(directory, "audit_trail.jsonl")
    if os.path.exists(trail):
        with open(trail, "rb") as handle:
            audit_lines = sum(1 for line in handle if b'"kind":"record"' in line)
    shutil.rmtree(directory, ignore_errors=True)
    spans[0] = exporter.count if variant != "off" else 0
    return {"wall": walls, "cpu": cpus, "spans": spans[0], "audit_records": audit_lines}


def _run(variant: str, latency: bool, steps: int) -> dict[str, Any]:
    args = ("--child", variant, str(int(latency)), str(steps))
    return run_child("benchmarks.bench_overhead", *args, timeout=600)  # type: ignore[no-any-return]


def _interval(values: list[float]) -> tuple[float, float, float]:
    middle = statistics.median(values)
    if len(values) < 2:
        return middle, middle, middle
    mean = statistics.mean(values)
    half = _T95.get(len(values) - 1, 2.0) * statistics.stdev(values) / math.sqrt(len(values))
    return middle, mean - half, mean + half


def main(runs: int = RUNS, steps_real: int = STEPS_REAL, steps_zero: int = STEPS_ZERO) -> dict[str, Any]:
    results: dict[str, Any] = {"realistic": {}, "zero_latency": {}}
    for latency, steps, key in ((True, steps_real, "realistic"), (False, steps_zero, "zero_latency")):
        per_run: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
        for _ in range(runs):
            for variant in VARIANTS:  # variants alternate within each run
                per_run[variant].append(_run(variant, latency, steps))
        off = [statistics.median(r["wall"]) for r in per_run["off"]]
        off_cpu = [statistics.median(r["cpu"]) for r in per_run["off"]]
        for variant in VARIANTS:
            walls = [statistics.median(r["wall"]) for r in per_run[variant]]
            cpus = [statistics.median(r["cpu"]) for r in per_run[variant]]
            overhead = [(w - o) / o * 100 for w, o in zip(walls, off, strict=True)]
            added_us = [(c - o) * 1e6 for c, o in zip(cpus, off_cpu, strict=True)]
            results[key][variant] = {
                "step_ms": statistics.median(walls) * 1e3,
                "overhead_pct": _interval(overhead),
                "added_cpu_us": _interval(added_us),
                "spans_per_step": per_run[variant][0]["spans"] / (steps + 1),
                "audit_records_per_step": per_run[variant][0]["audit_records"] / (steps + 1),
            }
    _print(results, runs, steps_real, steps_zero)
    return results


def _print(results: dict[str, Any], runs: int, steps_real: int, steps_zero: int) -> None:
    rows = []
    for variant in VARIANTS:
        real, zero = results["realistic"][variant], results["zero_latency"][variant]
        pct, low, high = real["overhead_pct"]
        us = zero["added_cpu_us"][0]
        rows.append(
            [
                variant,
                f"{real['step_ms']:.1f}",
                "-" if variant == "off" else f"{pct:+.3f} % [{low:+.3f}, {high:+.3f}]",
                "-" if variant == "off" else f"{us:.0f}",
                f"{zero['step_ms'] * 1e3:.0f}",
                f"{real['spans_per_step']:.0f} spans, {real['audit_records_per_step']:.0f} audit",
            ]
        )
    print(
        table(
            [
                "observability",
                "ms/step (500 ms LLM)",
                "overhead [95 % CI]",
                "added CPU µs/step (no sleeps)",
                "µs/step (no sleeps)",
                "emitted/step",
            ],
            rows,
        )
    )
    print(
        f"{runs} runs of {steps_real} realistic steps and {steps_zero} zero-latency steps per variant, "
        "each in a fresh process; a step: LLM call, 3 tools, 50 log lines, 3 audit records"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]))))
    else:
        main()
