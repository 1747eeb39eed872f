"""A real Prometheus answers the docs' queries for every third-party combination.

Each combination runs as its own application (``app_agents.py``): openai + openai-v2 with
``configure()`` and under ``opentelemetry-instrument``, anthropic + its instrumentation (and the
client's own tracing), pydantic-ai with ``instrument_all``, the OpenAI Agents SDK with its
instrumentation and openai-v2, LangChain through the OpenInference instrumentation; each first on
its own, then wrapped in our helpers. The six start at once; the session's Prometheus scrapes them
side by side, one job each, while they run their workload a second time. Then:

* every query of docs/integrations.md's PromQL block, for each job, gives the values the workload
  implies: cost = the pricing table times tokens, tokens and calls counted once, runs per agent,
  budget crossings and what is left of the process budget, a fresh heartbeat per agent, no stuck
  agent;
* every panel query of the agent dashboard (deploy/grafana) returns data for these jobs, or is
  listed with the reason it cannot, and deploy/'s recording rules produce each job's series.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

for _module in (
    "openai",
    "anthropic",
    "pydantic_ai",
    "agents",
    "langchain_core",
    "openinference.instrumentation.langchain",
    "opentelemetry.instrumentation.openai_v2",
    "opentelemetry.instrumentation.anthropic",
    "opentelemetry.instrumentation.openai_agents",
):
    pytest.importorskip(_module)

from kaizen_otel.genai.pricing import load_pricing  # noqa: E402
from tests.ops.test_stack import RULES, _concrete, _panels  # noqa: E402
from tests.testbed.servers import Prometheus, free_port  # noqa: E402
from tests.thirdparty.fake_models import INPUT_TOKENS, OUTPUT_TOKENS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "integrations.md"
COMBINATIONS = ("openai", "openai-instrument", "anthropic", "pydantic-ai", "openai-agents", "langchain")
ROUNDS = 2
PROCESS_TOKENS, PROCESS_USD = 100_000, 1.0
RUN_TOKENS = {"pydantic-ai": 100, "openai-agents": 100}  # the others: 200
TEST_PRICES = {"input": 1.0, "output": 2.0}  # USD per million tokens of pydantic-ai's "test" model

_SHIPPED = load_pricing()


def _call_cost(provider: str, model: str) -> float:
    """One fake call (its fixed usage) priced by the shipped table."""
    price = _SHIPPED.price(provider, model)
    assert price is not None, (provider, model)
    return price.cost(INPUT_TOKENS, OUTPUT_TOKENS)


OPENAI_CALL = _call_cost("openai", "gpt-4o-mini")
ANTHROPIC_CALL = _call_cost("anthropic", "claude-3-5-haiku-20241022")
CALL_TOKENS = INPUT_TOKENS + OUTPUT_TOKENS


@dataclass
class App:
    combination: str
    job: str
    port: int
    proc: subprocess.Popen[str]
    err_path: Path
    summary: dict[str, Any]
    runs: list[list[int]]


def _start(combination: str, base_url: str, prices: Path, workdir: Path) -> App:
    job = f"{combination}-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(
        PYTHONPATH=str(REPO),
        OTEL_SERVICE_NAME=job,
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        KAIZEN_OTEL_PROMETHEUS_HOST="127.0.0.1",
        KAIZEN_OTEL_PROMETHEUS_PORT=str(port),
        KAIZEN_OTEL_PROCESS_METRICS="false",
        KAIZEN_OTEL_LIVE_VIEW="false",
        KAIZEN_OTEL_PRICING_FILE=str(prices),
        KAIZEN_OTEL_BUDGET_RUN_TOKENS=str(RUN_TOKENS.get(combination, 200)),
        KAIZEN_OTEL_BUDGET_PROCESS_TOKENS=str(PROCESS_TOKENS),
        KAIZEN_OTEL_BUDGET_PROCESS_USD=str(PROCESS_USD),
    )
    command = [sys.executable, "-m", "tests.thirdparty.app_agents", combination, base_url]
    if combination == "openai-instrument":
        env.update(OTEL_PYTHON_DISTRO="kaizen_otel", OTEL_PYTHON_CONFIGURATOR="kaizen_otel")
        command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), *command]
    err_path = workdir / f"{combination}.err"
    with open(err_path, "w") as err:  # the child keeps its own copy
        proc = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True
        )
    return App(combination, job, port, proc, err_path, {}, [])


def _wait_done(app: App) -> None:
    """Read the line the app prints when a round of its workload is done."""
    assert app.proc.stdout is not None
    line = app.proc.stdout.readline()
    assert line, f"{app.combination} exited ({app.proc.poll()}):\n{app.err_path.read_text()[-3000:]}"
    done = json.loads(line)
    app.summary = done["summary"]
    app.runs.extend(done.get("runs", []))


@pytest.fixture(scope="module")
def apps(
    fake_models: Any, prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, App]]:
    """The applications after two rounds of their workload, the second one while scraped."""
    workdir = tmp_path_factory.mktemp("prometheus-queries")
    prices = workdir / "prices.json"  # the shipped table, plus pydantic-ai's test model
    prices.write_text(json.dumps({"per_tokens": 1_000_000, "models": {"test": {"test": TEST_PRICES}}}))
    for rule_file in RULES:
        prometheus.add_rule_file(rule_file)
    started = {c: _start(c, fake_models.anthropic_url, prices, workdir) for c in COMBINATIONS}
    try:
        for app in started.values():
            _wait_done(app)
            prometheus.add_target(f"127.0.0.1:{app.port}", job=app.job)
        for app in started.values():
            prometheus.wait_for(f'kaizen_agent_runs_total{{job="{app.job}"}}', 30)
        for app in started.values():  # the second round is seen rising: rates and quantiles have data
            assert app.proc.stdin is not None
            app.proc.stdin.write("again\n")
            app.proc.stdin.flush()
        for app in started.values():
            _wait_done(app)
            calls = app.summary["llm_calls"]
            selector = f'{{job="{app.job}",gen_ai_token_type="input"}}'
            prometheus.wait_for(f"sum(gen_ai_client_token_usage_count{selector}) == {calls}", 30)
        yield started
    finally:
        for app in started.values():
            prometheus.remove_target(f"127.0.0.1:{app.port}")
            if app.proc.stdin is not None:
                app.proc.stdin.close()
        for app in started.values():
            try:
                app.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.proc.kill()


# --- what each docs query should answer ------------------------------------------------------------


def _expected(app: App) -> dict[str, Any]:
    """What the docs queries should give after ``ROUNDS`` rounds of this application's workload."""
    c, r = app.combination, ROUNDS
    if c in ("openai", "openai-instrument", "anthropic", "langchain"):
        call = ANTHROPIC_CALL if c == "anthropic" else OPENAI_CALL
        first, second = {"anthropic": ("writer", "editor"), "langchain": ("lc-agent", "lc-reviewer")}.get(
            c, ("researcher", "reviewer")
        )
        return {  # a round: two calls in the first agent's run, one inside llm_call in the second's
            "cost": {first: r * 2 * call, second: r * call},
            "tokens": {"input": r * 3 * INPUT_TOKENS, "output": r * 3 * OUTPUT_TOKENS},
            "calls": r * 3,
            "runs": {first: r, second: r},
            "crossings": {"run": r},  # the first agent's 300 tokens against 200, each round
            "left_tokens": PROCESS_TOKENS - r * 3 * CALL_TOKENS,
            "left_usd": PROCESS_USD - r * 3 * call,
            "agents": {first, second},
            "tools": {"lookup": r} if c == "langchain" else {},
        }
    if c == "pydantic-ai":
        runs = app.runs  # (input, output) tokens of each run of 'helper', as pydantic-ai reports them
        assert len(runs) == 2 * r
        cost = sum(i * TEST_PRICES["input"] / 1e6 + o * TEST_PRICES["output"] / 1e6 for i, o in runs)
        return {  # a round: 'helper' alone, then inside agent_run('supervisor'); one tool call a run
            "cost": {"helper": cost},
            "tokens": {"input": sum(i for i, _ in runs), "output": sum(o for _, o in runs)},
            "calls": app.summary["llm_calls"],  # a tool round trip: two model calls a run
            "runs": {"helper": 2 * r, "supervisor": r},
            "crossings": {"run": sum(1 for i, o in runs if i + o > RUN_TOKENS[c])},
            "left_tokens": PROCESS_TOKENS - sum(i + o for i, o in runs),
            "left_usd": PROCESS_USD - cost,
            "agents": {"helper", "supervisor"},
            "tools": {"lookup": 2 * r},
        }
    assert c == "openai-agents"
    return {  # a round: 'assistant' alone, then inside agent_run('supervisor'); one call a run
        # named 'assistant' from the start, though the span says "OpenAI Agent" until its end
        "cost": {"assistant": r * 2 * OPENAI_CALL},
        "tokens": {"input": r * 2 * INPUT_TOKENS, "output": r * 2 * OUTPUT_TOKENS},
        "calls": r * 2,  # openai-v2's record inside the Agents SDK's is not counted again
        "runs": {"assistant": 2 * r, "supervisor": r},
        "crossings": {"run": 2 * r},  # 150 tokens a run against 100
        "left_tokens": PROCESS_TOKENS - r * 2 * CALL_TOKENS,
        "left_usd": PROCESS_USD - r * 2 * OPENAI_CALL,
        "agents": {"assistant", "supervisor"},
        "tools": {},
    }


Result = list[dict[str, Any]]


def _by(result: Result, label: str) -> dict[str, float]:
    return {sample["metric"].get(label, ""): float(sample["value"][1]) for sample in result}


def _one(result: Result) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def _cost(result: Result, want: dict[str, Any]) -> None:
    assert _by(result, "gen_ai_agent_name") == pytest.approx(want["cost"])


def _heartbeat(result: Result, want: dict[str, Any]) -> None:
    ages = _by(result, "gen_ai_agent_name")
    assert set(ages) == want["agents"]  # one per agent, and no other name
    assert all(0 <= age < 300 for age in ages.values())


STUCK = (
    "kaizen_agent_active_runs > 0 and on(gen_ai_agent_name) (time() - kaizen_agent_heartbeat_seconds) > 600"
)

#: The docs' queries, in their order, each with what it must answer.
CHECKS: dict[str, Callable[[Result, dict[str, Any]], None]] = {
    "sum by (gen_ai_agent_name) (kaizen_cost_usd_total)": _cost,
    "sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum)": lambda r, w: _equal(
        _by(r, "gen_ai_token_type"), w["tokens"]
    ),
    'sum(gen_ai_client_token_usage_count{gen_ai_token_type="input"})': lambda r, w: _equal(
        _one(r), w["calls"]
    ),
    "sum by (gen_ai_agent_name) (kaizen_agent_runs_total)": lambda r, w: _equal(
        _by(r, "gen_ai_agent_name"), w["runs"]
    ),
    "sum by (kaizen_budget_scope) (kaizen_budget_exceeded_total)": lambda r, w: _equal(
        _by(r, "kaizen_budget_scope"), w["crossings"]
    ),
    'sum(kaizen_budget_remaining_tokens{kaizen_budget_scope="process"})': lambda r, w: _equal(
        _one(r), w["left_tokens"]
    ),
    'sum(kaizen_budget_remaining_usd{kaizen_budget_scope="process"})': lambda r, w: _equal(
        _one(r), pytest.approx(w["left_usd"])
    ),
    "time() - max by (gen_ai_agent_name) (kaizen_agent_heartbeat_seconds)": _heartbeat,
    "sum by (gen_ai_tool_name) (kaizen_tool_calls_total)": lambda r, w: _equal(
        _by(r, "gen_ai_tool_name"), w["tools"]
    ),
    STUCK: lambda r, w: _equal(r, []),
}


def _equal(got: Any, want: Any) -> None:
    assert got == want


def _doc_queries() -> list[str]:
    """The queries of the promql block of docs/integrations.md, comments left out."""
    block = re.search(r"```promql\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/integrations.md has no promql block"
    return [line for line in block[1].splitlines() if line.strip() and not line.startswith("#")]


def _for_job(query: str, job: str, metric_names: set[str]) -> str:
    """The query restricted to one job: ``job="..."`` added to every metric it reads."""

    def add(match: re.Match[str]) -> str:
        name, brace = match[1], match[2]
        if name not in metric_names:
            return match[0]  # a label name, a function or a keyword
        return f'{name}{{job="{job}",' if brace else f'{name}{{job="{job}"}}'

    return re.sub(r"\b([a-z_:][a-z0-9_:]*)(\{)?", add, query)


def test_the_docs_queries_are_the_ones_checked_here():
    assert _doc_queries() == list(CHECKS)


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_prometheus_answers_the_docs_queries_with_the_workloads_numbers(apps, prometheus, combination):
    app = apps[combination]
    want = _expected(app)
    names = set(prometheus.metric_names())
    for query, check in CHECKS.items():
        concrete = _for_job(query, app.job, names)
        assert f'job="{app.job}"' in concrete, concrete
        result = prometheus.query(concrete)
        try:
            check(result, want)
        except AssertionError as exc:
            raise AssertionError(f"{combination}: {concrete}\n-> {result}\n{exc}") from exc


# --- the dashboards and rules of deploy/ -----------------------------------------------------------

#: Agent-dashboard panels with no finite value for these workloads, and why.
NO_DATA_HERE = {
    ("kaizen-agents", "LLM errors"): "no model call fails here; the series is born with the first failure",
    (
        "kaizen-agents",
        "Loop iterations",
    ): "iterations are what our run.iteration() counts; frameworks have none",
    ("kaizen-agents", "Loop iteration duration (p95)"): "as Loop iterations",
}


def test_every_agent_dashboard_panel_answers_for_the_third_party_jobs(apps, prometheus):
    jobs = "|".join(app.job for app in apps.values())
    empty = set()
    for uid, title, exprs in _panels():
        if uid != "kaizen-agents":
            continue
        for expr in exprs:
            values = [float(s["value"][1]) for s in prometheus.query(_concrete(expr, jobs))]
            if not any(math.isfinite(v) for v in values):
                empty.add((uid, title))
    assert empty == set(NO_DATA_HERE), sorted(empty ^ set(NO_DATA_HERE))


def test_the_recording_rules_produce_each_jobs_series(apps, prometheus):
    for app in apps.values():
        provider = {"anthropic": "anthropic", "pydantic-ai": "test"}.get(app.combination, "openai")
        # recorded once a second: wait for an evaluation that saw the second round
        rate = f'job_provider_model:gen_ai_client_operations:rate5m{{job="{app.job}"}} > 0'
        calls = prometheus.wait_for(rate, 20)
        assert {s["metric"]["gen_ai_provider_name"] for s in calls} == {provider}
        prometheus.wait_for(f'job:kaizen_cost_usd:increase1h{{job="{app.job}"}} > 0', 20)
