"""Import + configure time and RSS: kaizen_otel.configure() against the bare OTel SDK set up with
the same exporters (Prometheus reader + HTTP server, batch log processor to the console, a
TracerProvider), each in a fresh interpreter, alternating, several runs; medians and ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks._util import median, table

_MEASURE = """
import json, resource, time
t0 = time.perf_counter()
{body}
elapsed = time.perf_counter() - t0
rss_kb = int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])
print(json.dumps({{"seconds": elapsed, "rss_mb": rss_kb / 1024}}))
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


def _run(body: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(runs: int = 7) -> dict[str, object]:
    samples: dict[str, list[dict[str, float]]] = {"python only": [], "bare SDK": [], "kaizen_otel": []}
    _run(KAIZEN)  # warm the file cache and bytecode
    for _ in range(runs):
        samples["python only"].append(_run(NOTHING))
        samples["bare SDK"].append(_run(BARE_SDK))
        samples["kaizen_otel"].append(_run(KAIZEN))
    result = {
        name: {
            "ms": median([s["seconds"] for s in runs_]) * 1000,
            "rss_mb": median([s["rss_mb"] for s in runs_]),
        }
        for name, runs_ in samples.items()
    }
    bare, ours = result["bare SDK"], result["kaizen_otel"]
    ratios = {"time": ours["ms"] / bare["ms"], "rss": ours["rss_mb"] / bare["rss_mb"]}
    print(
        table(
            ["setup", "import+configure ms", "RSS MB"], [[n, r["ms"], r["rss_mb"]] for n, r in result.items()]
        )
    )
    print(
        f"kaizen_otel / bare SDK: time {ratios['time']:.2f}x, RSS {ratios['rss']:.2f}x "
        f"(aim <= 1.1x; median of {runs} runs each, fresh interpreters, alternating)"
    )
    return {"medians": result, "ratios": ratios, "runs": runs}


if __name__ == "__main__":
    main()
