"""Import + configure time and RSS: kaizen_otel.configure() against the bare OTel SDK set up with
the same exporters (Prometheus reader + HTTP server, batch log processor to the console, a
TracerProvider), each in a fresh interpreter, several rounds; medians, ratios and their spread.

Fairness: both sides run with cached bytecode (the SDK's was written when it was installed; ours is
written by the warm-up run even when ``PYTHONDONTWRITEBYTECODE`` is set, which would otherwise
recompile every edited module on every run), and the order inside a round alternates, so neither
side always runs right after the other's page-cache and CPU-frequency effects.

On a shared machine wall-clock ratios move by several percent between runs;
``python -m benchmarks.bench_startup --instructions`` adds an instruction count under callgrind
(valgrind), which does not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

from benchmarks._util import median, percentile, table

_MEASURE = """
import json, resource, time
t0, c0 = time.perf_counter(), time.process_time()
{body}
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
rss_kb = int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])
print(json.dumps({{"seconds": elapsed, "cpu_seconds": cpu, "rss_mb": rss_kb / 1024}}))
"""

BARE_SDK = """
import logging
from opentelemetry import trace, metrics, _logs
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from prometheus_client import start_http_server
resource = Resource.create({"service.name": "bench"})
start_http_server(0, addr="127.0.0.1")
trace.set_tracer_provider(TracerProvider(resource=resource))
metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[PrometheusMetricReader()]))
lp = LoggerProvider(resource=resource)
lp.add_log_record_processor(BatchLogRecordProcessor(ConsoleLogRecordExporter()))
_logs.set_logger_provider(lp)
logging.getLogger().addHandler(LoggingHandler(logger_provider=lp))
"""

KAIZEN = """
import kaizen_otel
kaizen_otel.configure(service_name="bench", prometheus_host="127.0.0.1", prometheus_port=0)
"""

NOTHING = "pass"


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "KAIZEN_OTEL_")) and k != "PYTHONDONTWRITEBYTECODE"
    }


def _run(body: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE.format(body=body)],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _instructions(body: str) -> int:
    """User-space instructions of one run under callgrind: immune to the machine's load.

    ``os._exit`` skips interpreter teardown, so only startup, the imports and the setup count.
    """
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            body + "\nimport os\nos._exit(0)",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    match = re.search(r"Collected : (\d+)", out.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output: {out.stderr[-500:]}")
    return int(match.group(1))


def instruction_ratio() -> dict[str, float]:
    """Instructions of import + setup (interpreter startup subtracted), kaizen_otel / bare SDK.

    Needs valgrind; ~20 s. Deterministic to ~0.1 %, so it settles what wall-clock noise cannot.
    """
    python = _instructions(NOTHING)
    bare = _instructions(BARE_SDK) - python
    ours = _instructions(KAIZEN) - python
    print(
        f"instructions (callgrind): bare SDK {bare / 1e6:.1f} M, kaizen_otel {ours / 1e6:.1f} M, "
        f"ratio {ours / bare:.3f}x"
    )
    return {"bare_sdk_minstr": bare / 1e6, "kaizen_otel_minstr": ours / 1e6, "ratio": ours / bare}


def main(runs: int = 15, instructions: bool = False) -> dict[str, object]:
    """Wall-clock rounds; with ``instructions`` (and valgrind installed) also the instruction ratio."""
    samples: dict[str, list[dict[str, float]]] = {"python only": [], "bare SDK": [], "kaizen_otel": []}
    _run(KAIZEN)  # warm the file cache and write our bytecode
    _run(BARE_SDK)
    for round_ in range(runs):
        samples["python only"].append(_run(NOTHING))
        pair = [("bare SDK", BARE_SDK), ("kaizen_otel", KAIZEN)]
        for name, body in pair if round_ % 2 == 0 else reversed(pair):
            samples[name].append(_run(body))
    result = {
        name: {
            "ms": median([s["seconds"] for s in runs_]) * 1000,
            "cpu_ms": median([s["cpu_seconds"] for s in runs_]) * 1000,
            "rss_mb": median([s["rss_mb"] for s in runs_]),
        }
        for name, runs_ in samples.items()
    }
    bare, ours = result["bare SDK"], result["kaizen_otel"]
    ratios = {
        "time": ours["ms"] / bare["ms"],
        "cpu": ours["cpu_ms"] / bare["cpu_ms"],
        "rss": ours["rss_mb"] / bare["rss_mb"],
    }
    # The ratio within each round (same moment, same machine load), to show the spread.
    per_round = sorted(
        k["seconds"] / b["seconds"] for b, k in zip(samples["bare SDK"], samples["kaizen_otel"], strict=True)
    )
    spread = {
        "time_ratio_p25": percentile(per_round, 25),
        "time_ratio_median": median(per_round),
        "time_ratio_p75": percentile(per_round, 75),
        "time_ratio_min": per_round[0],
        "time_ratio_max": per_round[-1],
    }
    print(
        table(
            ["setup", "import+configure ms", "CPU ms", "RSS MB"],
            [[n, r["ms"], r["cpu_ms"], r["rss_mb"]] for n, r in result.items()],
        )
    )
    print(
        f"kaizen_otel / bare SDK: time {ratios['time']:.2f}x, CPU {ratios['cpu']:.2f}x, "
        f"RSS {ratios['rss']:.2f}x "
        f"(aim <= 1.1x; medians of {runs} rounds, fresh interpreters, order alternating)"
    )
    print(
        f"time ratio within a round: median {spread['time_ratio_median']:.2f}x, "
        f"middle half {spread['time_ratio_p25']:.2f}-{spread['time_ratio_p75']:.2f}x, "
        f"all {spread['time_ratio_min']:.2f}-{spread['time_ratio_max']:.2f}x"
    )
    results: dict[str, object] = {"medians": result, "ratios": ratios, "spread": spread, "runs": runs}
    if instructions and shutil.which("valgrind"):
        results["instructions"] = instruction_ratio()
    return results


if __name__ == "__main__":
    main(instructions="--instructions" in sys.argv)
