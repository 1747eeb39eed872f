"""/metrics stays small, valid and honest: long label values capped, valid after force_flush(),
the overflow gauge agreeing with the series it counts, metric_attributes on every kaizen family.
"""

from __future__ import annotations

import re
import threading
import urllib.request
from pathlib import Path

import kaizen_otel
from tests.reliability.promtool import promtool_problems

LABEL_VALUE = re.compile(r'="((?:[^"\\]|\\.)*)"')


def _scrape(obs: kaizen_otel.Observability) -> bytes:
    assert obs.metrics_url is not None
    return urllib.request.urlopen(obs.metrics_url, timeout=10).read()


def _configure(**overrides: object) -> kaizen_otel.Observability:
    return kaizen_otel.configure(prometheus_port=0, logs_exporter="none", **overrides)


def _samples(body: bytes, family: str) -> list[str]:
    return [line for line in body.decode().splitlines() if line.startswith(family)]


def _value(body: bytes, sample_prefix: str) -> float:
    lines = [line for line in body.decode().splitlines() if line.startswith(sample_prefix)]
    assert len(lines) == 1, (sample_prefix, lines)
    return float(lines[0].rsplit(" ", 1)[1])


def test_long_label_values_are_cut_marked_and_counted(clean_env: object) -> None:
    obs = _configure(metric_label_max_length=64)
    for i in range(200):
        name = f"agent-{i:03d}-" + "x" * 10_000
        with kaizen_otel.agent_run(name), kaizen_otel.llm_call("openai", "gpt-4o-mini") as call:
            call.record_usage(input_tokens=1, output_tokens=1)
            call.set_response(model="gpt-4o-mini-" + "y" * 10_000)  # from a remote API's response
    body = _scrape(obs)
    values = LABEL_VALUE.findall(body.decode())
    assert max(len(v) for v in values) <= 64
    assert any(v.endswith("…") for v in values)
    assert len(body) < 2_000_000  # 45 MB before the cap
    assert _value(body, "kaizen_telemetry_truncated_label_values_total") >= 200
    assert promtool_problems(body) == []


def test_metrics_stay_valid_after_force_flush(clean_env: object) -> None:
    obs = _configure()
    with kaizen_otel.agent_run("flusher"), kaizen_otel.tool_call("search"):
        pass
    plain = _scrape(obs)
    obs.force_flush()
    obs.force_flush()
    flushed = _scrape(obs)
    assert flushed.count(b"# HELP target_info") == 1
    assert promtool_problems(flushed) == []
    assert len(_samples(flushed, "kaizen_")) == len(_samples(plain, "kaizen_"))


def test_the_overflow_gauge_counts_the_overflow_series_of_the_same_scrape(clean_env: object) -> None:
    obs = _configure(metric_cardinality_limit=20)
    for i in range(50):
        with kaizen_otel.agent_run(f"agent-{i}"):
            pass
    body = _scrape(obs)
    assert b'otel_metric_overflow="true"' in body
    assert _value(body, "kaizen_telemetry_metric_overflow") >= 1


def test_metric_attributes_reach_every_kaizen_family(clean_env: object, tmp_path: Path) -> None:
    obs = _configure(
        metric_attributes={"team": "blue"},
        enable_audit=True,
        audit_path=str(tmp_path / "audit"),
        redaction_enabled=True,
    )
    with kaizen_otel.agent_run("tagged") as run:
        run.set_attribute("api_key", "sk-live-0123456789abcdefghijklmnop")
        with kaizen_otel.tool_call("search"):
            pass
    obs.audit.record("tagged", "tool_execute", {"query": "x"})
    body = _scrape(obs)
    families = {line.split("{", 1)[0].split(" ", 1)[0] for line in _samples(body, "kaizen_")}
    expected = {"kaizen_redactions_total", "kaizen_audit_records_total", "kaizen_telemetry_exported_total"}
    assert expected <= families, sorted(families)
    untagged = [line for line in _samples(body, "kaizen_") if 'team="blue"' not in line]
    assert untagged == []


def test_concurrent_scrapes_each_get_the_whole_page(clean_env: object) -> None:
    obs = _configure()
    with kaizen_otel.agent_run("scraped"):
        pass
    bodies: list[bytes] = []

    def scrape() -> None:
        for _ in range(10):
            bodies.append(_scrape(obs))

    threads = [threading.Thread(target=scrape) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(bodies) == 60
    assert all(body.count(b"# HELP target_info") == 1 for body in bodies)
    assert all(b"kaizen_agent_runs_total" in body for body in bodies)
