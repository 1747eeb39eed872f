"""The live view's cost: the agent step with its store on against off, and its memory after 100,000 runs.

Step: ``configure()`` with its defaults (redaction, batch processors, Prometheus reader, the live
view on), the console exporters swapped for counting drops as in ``bench_agent_step``. For the
"off" rounds the enrichment processor stops feeding the store and the store's log processor is
taken out of the log provider's list; both go back for the "on" rounds, so both variants run in
one process, in alternating rounds, timed in process CPU time; the ratio is the median of the
per-round ratios.

Memory: 100,000 agent runs (1 LLM call, 2 tool calls, 1 log record each) through a store with the
default byte cap and the highest run cap (so the byte estimate is what bounds it) on a bare SDK
pipeline; ``tracemalloc`` measures what the store holds after the last
run (the providers are built before tracing starts, the exporters drop), against the byte cap.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

try:
    from benchmarks._util import run_child, table
    from benchmarks.bench_agent_step import (
        CountingDropLogs,
        CountingDropSpans,
        configure_dropping,
        make_kaizen,
    )
except ImportError:  # run as a script
    from _util import run_child, table  # type: ignore[no-redef]
    from bench_agent_step import (  # type: ignore[no-redef]
        CountingDropLogs,
        CountingDropSpans,
        configure_dropping,
        make_kaizen,
    )

STEPS = 300
ROUNDS = 21
RUNS = 100_000


def _cpu(fn: Callable[[], None], steps: int, flush: Callable[[], object]) -> float:
    gc.collect()
    started = time.process_time()
    for _ in range(steps):
        fn()
    flush()
    return (time.process_time() - started) / steps * 1e6


class _Switch:
    """Feeds the store or not: the enrichment processor's feed for spans, and the store's log
    processor in or out of the log provider's processor list."""

    def __init__(self, obs: Any) -> None:
        from kaizen_otel.genai.runtime import enricher_of

        store = obs.live_store
        self._store = store
        self._enricher = enricher_of(obs.tracer_provider)
        assert self._enricher is not None, "configure() attaches the enrichment processor"
        self._logs = obs.logger_provider._multi_log_record_processor
        self._log_on = self._logs._log_record_processors
        self._log_off = tuple(p for p in self._log_on if p is not store.log_processor)
        assert len(self._log_off) < len(self._log_on)

    def set(self, on: bool) -> None:
        if on:
            self._enricher.feed(self._store)
        else:
            self._enricher._live = None
        self._logs._log_record_processors = self._log_on if on else self._log_off


def child_step(steps: int, rounds: int) -> dict[str, Any]:
    obs, _, _ = configure_dropping()
    assert obs.live_store is not None, "the live view is on with the defaults"
    switch = _Switch(obs)
    step = make_kaizen()

    def flush() -> None:
        obs.tracer_provider.force_flush()
        obs.logger_provider.force_flush()

    for on in (True, False):
        switch.set(on)
        _cpu(step, steps // 4, flush)
    samples: dict[bool, list[float]] = {True: [], False: []}
    for index in range(rounds):
        for on in (True, False) if index % 2 else (False, True):
            switch.set(on)
            samples[on].append(_cpu(step, steps, flush))
    switch.set(True)
    kept = len(obs.live_store)
    obs.shutdown()
    ratios = [a / b for a, b in zip(samples[True], samples[False], strict=True)]
    quartiles = statistics.quantiles(ratios, n=4)
    return {
        "store_on_us": statistics.median(samples[True]),
        "store_off_us": statistics.median(samples[False]),
        "on_vs_off": statistics.median(ratios),
        "on_vs_off_iqr": [quartiles[0], quartiles[2]],
        "runs_kept": kept,
    }


def child_memory(runs: int) -> dict[str, Any]:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from kaizen_otel._internal.settings import Settings
    from kaizen_otel.liveview import LiveStore

    defaults = Settings()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    # The run cap at its highest, so the byte cap (the estimate under test) is what bounds the store.
    store = LiveStore(max_runs=100_000, max_bytes=defaults.live_view_max_bytes)
    tracer_provider.add_span_processor(store.span_processor)
    tracer_provider.add_span_processor(SimpleSpanProcessor(CountingDropSpans()))
    logger_provider.add_log_record_processor(store.log_processor)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(CountingDropLogs()))
    tracer = tracer_provider.get_tracer("bench")
    logger = logger_provider.get_logger("bench")
    started = time.perf_counter()
    for index in range(runs):
        with tracer.start_as_current_span(
            "invoke_agent planner",
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
        ):
            with tracer.start_as_current_span(
                "chat gpt-4o-mini",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini",
                    "gen_ai.response.finish_reasons": ("stop",),
                    "gen_ai.usage.input_tokens": 420,
                    "gen_ai.usage.output_tokens": 80,
                    "kaizen.cost.usd": 0.000111,
                },
            ):
                pass
            for tool in ("search", "fetch"):
                with tracer.start_as_current_span(
                    f"execute_tool {tool}",
                    attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool},
                ):
                    pass
            logger.emit(body=f"step {index} finished", severity_text="INFO")
    seconds = time.perf_counter() - started
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {
        "runs": runs,
        "runs_kept": len(store),
        "estimated_bytes": store.bytes,
        "measured_bytes": held,
        "cap_bytes": store.max_bytes,
        "totals_agent_runs": store.totals()["agent_runs"],
        "seconds": seconds,
    }


def _child(*args: str) -> dict[str, Any]:
    result: dict[str, Any] = run_child("benchmarks.bench_liveview", *args)
    return result


def main(steps: int = STEPS, rounds: int = ROUNDS, runs: int = RUNS) -> dict[str, Any]:
    step = _child("--step", str(steps), str(rounds))
    memory = _child("--memory", str(runs))
    low, high = step["on_vs_off_iqr"]
    print(
        table(
            ["agent step", "µs/step", "on vs off"],
            [
                ["live view store off", step["store_off_us"], 1.0],
                [
                    "live view store on (default)",
                    step["store_on_us"],
                    f"{step['on_vs_off']:.3f} (middle half {low:.3f}-{high:.3f})",
                ],
            ],
        )
    )
    mib = 1024 * 1024
    print(
        f"memory after {memory['runs']:,} runs ({memory['seconds']:.1f} s): store holds "
        f"{memory['measured_bytes'] / mib:.1f} MiB measured (tracemalloc), "
        f"{memory['estimated_bytes'] / mib:.1f} MiB estimated, cap {memory['cap_bytes'] / mib:.0f} MiB; "
        f"{memory['runs_kept']} runs kept, totals count {memory['totals_agent_runs']:,}"
    )
    print(
        f"step = 1 agent span, 1 LLM call, 2 tool calls, 5 log lines through configure() defaults; "
        f"process CPU, median of {rounds} alternating rounds of {steps} steps"
    )
    return {"step": step, "memory": memory}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--step":
        print(json.dumps(child_step(int(sys.argv[2]), int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--memory":
        print(json.dumps(child_memory(int(sys.argv[2]))))
    else:
        main()
