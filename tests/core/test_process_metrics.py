"""One set of process metrics on /metrics: ours, without prometheus-client's default duplicates."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client import GC_COLLECTOR, PROCESS_COLLECTOR, REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import kaizen_otel
from tests.testbed.fixtures import require


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def _families(text: str) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def _registered() -> set[object]:
    return set(REGISTRY._collector_to_names)


def test_metrics_shows_one_set_of_process_metrics(clean_env: pytest.MonkeyPatch) -> None:
    obs = kaizen_otel.configure(prometheus_port=0, logs_exporter="none")
    try:
        families = _families(_page(obs.metrics_url))
    finally:
        obs.shutdown()
    assert {"process_cpu_time_seconds", "process_memory_usage_bytes", "process_threads"} <= set(families)
    assert "cpython_gc_collections" in families
    duplicates = {name for name in families if name.startswith(("python_gc_", "process_cpu_seconds"))}
    assert duplicates == set()
    assert "process_resident_memory_bytes" not in families


def test_prometheus_clients_collectors_come_back_at_shutdown(clean_env: pytest.MonkeyPatch) -> None:
    assert {PROCESS_COLLECTOR, GC_COLLECTOR} <= _registered()
    obs = kaizen_otel.configure(prometheus_port=0, logs_exporter="none")
    assert not {PROCESS_COLLECTOR, GC_COLLECTOR} & _registered()
    obs.shutdown()
    assert {PROCESS_COLLECTOR, GC_COLLECTOR} <= _registered()


def test_with_process_metrics_off_prometheus_clients_own_stay(clean_env: pytest.MonkeyPatch) -> None:
    obs = kaizen_otel.configure(prometheus_port=0, logs_exporter="none", process_metrics=False)
    try:
        families = _families(_page(obs.metrics_url))
    finally:
        obs.shutdown()
    assert "process_cpu_seconds" in families
    assert "process_cpu_time_seconds" not in families and "process_threads" not in families


def test_promtool_finds_nothing_to_lint_on_the_page(clean_env: pytest.MonkeyPatch) -> None:
    require(shutil.which("promtool") is not None, "Debian package `prometheus` (promtool)")
    obs = kaizen_otel.configure(prometheus_port=0, logs_exporter="none")
    try:
        page = _page(obs.metrics_url)
    finally:
        obs.shutdown()
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=page, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
