"""The deploy/ rules and dashboards against a real Prometheus scraping the demo workload.

One demo run (a subprocess, as `kaizen-otel demo` runs it) is scraped by the session's Prometheus
with deploy/'s recording and alerting rules loaded and the session's Alertmanager attached. On that:
every dashboard panel query runs through the Prometheus HTTP API and returns data (or is listed
below with the reason it cannot); every metric name in the rules and dashboards is one the live
/metrics page shows; `promtool check metrics` accepts that page; and the budget the demo crosses
fires KaizenBudgetExceeded, which reaches a webhook through Alertmanager.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.conftest import REPO
from tests.testbed.fixtures import require
from tests.testbed.servers import Alertmanager, Prometheus, free_port

pytestmark = pytest.mark.integration

RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
DASHBOARD_DIR = REPO / "deploy" / "grafana" / "dashboards"

_ONE_RUN = "each agent runs once in the demo: a run counter or histogram series is born already counting "
_ONE_RUN += "that run, so increase() and rate() over it stay 0 until a second run of the agent finishes"
_NODE = "needs node-exporter, which runs in the compose stack only"
_NO_FAILURE = "no audit append fails in the demo; the series appears with the first failure (the names "
_NO_FAILURE += "test makes one live, the promtool unit tests fire its alert)"
_NO_METER = "the demo verifies its trail without a meter; kaizen.audit.verify.last_success is set when a "
_NO_METER += "configured process verifies"

#: Panels whose queries cannot return a finite value for one demo run, and why.
NO_DATA_IN_THE_DEMO = {
    ("kaizen-agents", "Run success rate"): _ONE_RUN,
    ("kaizen-agents", "Run duration"): _ONE_RUN,
    ("kaizen-performance", "Host CPU"): _NODE,
    ("kaizen-performance", "Host memory available"): _NODE,
    ("kaizen-audit", "Append failures"): _NO_FAILURE,
    ("kaizen-audit", "Append failures by error"): _NO_FAILURE,
    ("kaizen-audit", "Since last verification"): _NO_METER,
}

#: Series the stack itself adds: Prometheus (scrape health, alerts), node-exporter, recording rules.
NOT_FROM_THE_SDK = re.compile(r"^(up|scrape_\w+|ALERTS|node_\w+|[\w:]*:[\w:]*)$")

#: What `promtool check metrics` reports on our page, and why it stays.
KNOWN_LINT: dict[str, str] = {}

DEMO_ARGS = ["--iterations", "500", "--agents", "3", "--seed", "7", "--budget-usd", "0.25"]


@dataclass
class Workload:
    job: str
    scrape: str  # /metrics text of the demo, taken while it held its endpoint open
    alert: dict[str, Any]  # the KaizenBudgetExceeded notification Alertmanager posted


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(extra)
    return env


def _wait_for_text(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, f"demo exited early ({proc.returncode}): {path.read_text()[-2000:]}"
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not in the demo's output after {timeout:.0f} s")


@pytest.fixture(scope="module")
def workload(
    prometheus: Prometheus, alertmanager: Alertmanager, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workload]:
    job = f"ops-{uuid.uuid4().hex[:8]}"
    port = free_port()
    target = f"127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("demo")
    for rule_file in RULES:
        prometheus.add_rule_file(rule_file)
    prometheus.set_alertmanager(alertmanager.host_port)
    prometheus.add_target(target, job=job)
    proc: subprocess.Popen[bytes] | None = None
    try:
        # Scraping starts before the demo does, so every counter is seen rising from its first value.
        prometheus.wait_for(f'up{{job="{job}"}}', 20)
        env = _env(KAIZEN_OTEL_PROMETHEUS_HOST="127.0.0.1", KAIZEN_OTEL_BUDGET_PROCESS_TOKENS="100000000")
        command = [sys.executable, "-m", "kaizen_otel.demo", *DEMO_ARGS, "--port", str(port), "--hold", "120"]
        command += ["--service-name", job, "--audit-path", str(workdir / "audit.jsonl")]
        with open(workdir / "stdout.txt", "wb") as out, open(workdir / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _wait_for_text(workdir / "stderr.txt", "keeping http://", proc, timeout=60)
        with urllib.request.urlopen(f"http://{target}/metrics", timeout=10) as response:
            scrape = response.read().decode()
        prometheus.wait_for(f'kaizen_agent_runs_total{{job="{job}",gen_ai_agent_name="supervisor"}}', 20)
        time.sleep(2)  # two more scrapes: every final value is stored
        alert = alertmanager.webhook.wait_for(
            lambda a: (
                a["labels"].get("alertname") == "KaizenBudgetExceeded" and a["labels"].get("job") == job
            ),
            timeout=40,
        )[0]
        yield Workload(job, scrape, alert)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        prometheus.remove_target(target)
        prometheus.set_alertmanager(None)
        for rule_file in RULES:
            prometheus.remove_rule_file(rule_file)


# --- the dashboards ---------------------------------------------------------------------------------


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "kaizen_dashboards", REPO / "deploy" / "grafana" / "dashboards.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _panels() -> list[tuple[str, str, list[str]]]:
    """(dashboard uid, panel title, its query expressions) of every panel with queries."""
    found = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            exprs = [target["expr"] for target in panel.get("targets", []) if target.get("expr")]
            if exprs:
                found.append((board["uid"], panel["title"], exprs))
    return found


def test_the_committed_dashboards_are_what_the_code_generates() -> None:
    generator = _generator()
    assert sorted(p.name for p in DASHBOARD_DIR.glob("*.json")) == sorted(generator.DASHBOARDS)
    for name, build in generator.DASHBOARDS.items():
        committed = (DASHBOARD_DIR / name).read_text()
        assert committed == generator.render(build), (
            f"{name} is stale: run python deploy/grafana/dashboards.py"
        )


def test_there_are_three_dashboards_with_unique_uids_and_titled_described_panels() -> None:
    boards = [json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))]
    assert {b["uid"] for b in boards} == {"kaizen-agents", "kaizen-performance", "kaizen-audit"}
    for board in boards:
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert (panel["title"] and panel.get("description", "")) or panel["type"] == "text", panel
                for target in panel.get("targets", []):
                    assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def _concrete(expr: str, job: str) -> str:
    """A panel query as Grafana would send it for one job, all agents, a 5-minute range."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$job", job)  # letters, digits and "-": nothing to escape
        .replace("$agent", ".*")
    )


def test_every_dashboard_panel_query_runs_and_returns_data_for_the_demo(
    workload: Workload, prometheus: Prometheus
) -> None:
    empty: dict[tuple[str, str], list[str]] = {}
    for uid, title, exprs in _panels():
        for expr in exprs:
            result = prometheus.query(_concrete(expr, workload.job))  # raises if Prometheus rejects it
            values = [float(sample["value"][1]) for sample in result]
            if not any(math.isfinite(value) for value in values):
                empty.setdefault((uid, title), []).append(expr)
    unexplained = {key: exprs for key, exprs in empty.items() if key not in NO_DATA_IN_THE_DEMO}
    assert unexplained == {}, "panels without data and without a stated reason"
    stale = set(NO_DATA_IN_THE_DEMO) - set(empty)
    assert stale == set(), "panels listed as empty that do return data: remove them from the list"


# --- the names --------------------------------------------------------------------------------------

_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset",
    "bool", "inf", "nan",
}  # fmt: skip


def _metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords and label names left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match[0].lower() in _PROMQL_WORDS:
            continue
        if re.match(r"^\d", text[match.start() - 1 : match.start()] or " "):
            continue  # the exponent of a number such as 1e6
        names.add(match[0])
    return names


def _families(scrape: str) -> set[str]:
    names = set()
    for line in scrape.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def _audit_only_names() -> set[str]:
    """Audit series that exist only after a failure, a verification or a recovery, made live here."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry, generate_latest

    from kaizen_otel.audit.metrics import AuditMetrics

    registry = CollectorRegistry()
    reader = PrometheusMetricReader()
    registry.register(reader._collector)  # one private registry, not the process-wide default
    provider = MeterProvider(metric_readers=[reader])
    try:
        audit = AuditMetrics(provider)
        audit.failed("OSError")
        audit.verified()
        audit.recovered()
        return _families(generate_latest(registry).decode())
    finally:
        provider.shutdown()


def _rule_exprs() -> list[str]:
    exprs = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs += [rule["expr"] for rule in group["rules"]]
    return exprs


def test_every_metric_in_the_rules_and_dashboards_is_on_a_live_scrape(workload: Workload) -> None:
    live = _families(workload.scrape) | _audit_only_names()
    used = set()
    for expr in _rule_exprs() + [e for _, _, exprs in _panels() for e in exprs]:
        used |= _metric_names(expr)
    from_sdk = {name for name in used if not NOT_FROM_THE_SDK.match(name)}
    assert from_sdk, "no metric names found: the extraction is broken"
    assert from_sdk - live == set(), "queried names that kaizen_otel does not expose"


def test_the_name_extraction_sees_metrics_and_ignores_functions_labels_and_keywords() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, gen_ai_agent_name) (rate(kaizen_tool_duration_seconds_bucket"
        '{job=~"$job", kaizen_outcome="success"}[$__rate_interval]))) / on (job) up * 1e6'
    )
    assert _metric_names(expr) == {"kaizen_tool_duration_seconds_bucket", "up"}


def test_promtool_check_metrics_finds_nothing_in_the_demos_metrics_page_but_known_names(
    workload: Workload,
) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "`promtool` (Debian package `prometheus`)")
    assert promtool is not None
    result = subprocess.run(
        [promtool, "check", "metrics"], input=workload.scrape, capture_output=True, text=True, timeout=30
    )
    problems = set((result.stdout + result.stderr).splitlines())
    assert problems - set(KNOWN_LINT) == set(), "new lint problems on /metrics"
    assert result.returncode in (0, 3), result.stderr  # 3: lint problems only, no parse error


# --- the alert, end to end --------------------------------------------------------------------------


def test_a_crossed_budget_reaches_the_webhook_through_alertmanager(workload: Workload) -> None:
    labels, annotations = workload.alert["labels"], workload.alert["annotations"]
    assert workload.alert["status"] == "firing"
    assert labels["severity"] == "warning"
    assert labels["kaizen_budget_scope"] == "run" and labels["kaizen_budget_kind"] == "usd"
    assert labels["gen_ai_agent_name"] in {"researcher", "planner", "coder"}
    assert annotations["runbook_url"] == "docs/deploy.md#kaizenbudgetexceeded"
    assert annotations["summary"] == f"run budget (usd) exceeded by agent {labels['gen_ai_agent_name']}"
