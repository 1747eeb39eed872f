"""The three Grafana dashboards of kaizen_otel, as code.

    python deploy/grafana/dashboards.py           # writes deploy/grafana/dashboards/*.json
    python deploy/grafana/dashboards.py --check   # exits 1 if a committed file is out of date

Built with grafana-foundation-sdk (typed builders, so a misspelt option fails here rather than in
Grafana). Every query uses the names Prometheus shows for kaizen_otel's metrics on /metrics;
tests/ops runs each one against a real Prometheus scraping the demo. Panels filter by the
``job`` and ``agent`` variables; ``$__rate_interval`` and ``$__range`` are Grafana's own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    gauge,
    piechart,
    prometheus,
    stat,
    table,
    text,
    timeseries,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
JOB = 'job=~"$job"'
AGENT = 'job=~"$job", gen_ai_agent_name=~"$agent"'
AGENT_SUCCESS = AGENT + ', kaizen_outcome="success"'
FAILED_OR_DENIED = 'job=~"$job", kaizen_audit_result=~"failure|denied"'
RATE = "$__rate_interval"

PanelBuilder = Any  # the SDK's panel builders share no public base class


# --- building blocks ------------------------------------------------------------------------------


def _query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def _targets(panel: PanelBuilder, queries: Iterable[tuple[str, str]], instant: bool = False) -> PanelBuilder:
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + index), instant))
    return panel


def _thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def _panel(
    kind: Callable[[], PanelBuilder],
    title: str,
    description: str,
    unit: str,
    queries: Iterable[tuple[str, str]],
    *,
    width: int,
    height: int,
    instant: bool = False,
) -> PanelBuilder:
    panel = (
        kind()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
    )
    return _targets(panel, queries, instant)


#: The value of a stat, gauge, bar or pie panel: the last point of each series.
LAST = common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def series(
    title: str, description: str, unit: str, *queries: tuple[str, str], width: int = 12
) -> PanelBuilder:
    """A time series panel, one line per label set of each query; legend below, tooltip of all lines."""
    panel = _panel(timeseries.Panel, title, description, unit, queries, width=width, height=8)
    return panel.legend(
        common.VizLegendOptions()
        .display_mode(common_model.LegendDisplayMode.LIST)
        .placement(common_model.LegendPlacement.BOTTOM)
        .show_legend(True)
    ).tooltip(
        common.VizTooltipOptions()
        .mode(common_model.TooltipDisplayMode.MULTI)
        .sort(common_model.SortOrder.DESCENDING)
    )


def single(
    title: str,
    description: str,
    unit: str,
    query: str,
    *,
    steps: tuple[tuple[float | None, str], ...] = ((None, "green"),),
    width: int = 6,
) -> PanelBuilder:
    """A stat panel showing one number, coloured by thresholds."""
    panel = _panel(stat.Panel, title, description, unit, [(query, "")], width=width, height=5, instant=True)
    return panel.reduce_options(LAST).thresholds(_thresholds(*steps))


def dial(
    title: str, description: str, query: str, steps: tuple[tuple[float | None, str], ...]
) -> PanelBuilder:
    """A gauge from 0 to 1 (shown as a percentage)."""
    panel = _panel(
        gauge.Panel, title, description, "percentunit", [(query, "")], width=6, height=5, instant=True
    )
    return panel.reduce_options(LAST).min(0).max(1).thresholds(_thresholds(*steps))


def bars(title: str, description: str, unit: str, query: str, legend: str, width: int = 12) -> PanelBuilder:
    """One horizontal bar per label set, for a ranking at the end of the range."""
    panel = _panel(
        bargauge.Panel, title, description, unit, [(query, legend)], width=width, height=8, instant=True
    )
    return panel.reduce_options(LAST).orientation(common_model.VizOrientation.HORIZONTAL)


def pie(title: str, description: str, query: str, legend: str) -> PanelBuilder:
    """Each label set's share of the total."""
    panel = _panel(
        piechart.Panel, title, description, "short", [(query, legend)], width=8, height=8, instant=True
    )
    return panel.reduce_options(LAST)


def rows_table(title: str, description: str, unit: str, query: str, width: int = 12) -> PanelBuilder:
    panel = _panel(table.Panel, title, description, unit, [(query, "")], width=width, height=8, instant=True)
    return panel.show_header(True)


def _rate(metric: str, selector: str, window: str = RATE) -> str:
    return f"rate({metric}{{{selector}}}[{window}])"


def _quantiles(metric: str, by: str, selector: str, quantiles: Iterable[float]) -> list[tuple[str, str]]:
    """histogram_quantile queries of a ``*_bucket`` series, one per quantile, grouped by ``by``."""
    group = f"le, {by}" if by else "le"
    return [
        (
            f"histogram_quantile({q}, sum by ({group}) ({_rate(metric + '_bucket', selector)}))",
            f"p{round(q * 100)}" + (f" {{{{{by}}}}}" if by else ""),
        )
        for q in quantiles
    ]


def _board(
    uid: str, title: str, description: str, tags: list[str], agent_variable: bool
) -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["kaizen-otel", *tags])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .readonly()
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            dashboard.QueryVariable("job")
            .label("Job")
            .datasource(DATASOURCE)
            .query("label_values(target_info, job)")
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    )
    if agent_variable:
        board = board.with_variable(
            dashboard.QueryVariable("agent")
            .label("Agent")
            .datasource(DATASOURCE)
            .query('label_values(kaizen_agent_heartbeat_seconds{job=~"$job"}, gen_ai_agent_name)')
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    return board


def _add(
    board: dashboard.Dashboard, sections: Iterable[tuple[str, list[PanelBuilder]]]
) -> dashboard.Dashboard:
    for row_title, panels in sections:
        board = board.with_row(dashboard.Row(row_title))
        for panel in panels:
            board = board.with_panel(panel)
    return board


# --- 1. agent monitoring --------------------------------------------------------------------------


def agent_monitoring() -> dashboard.Dashboard:
    board = _board(
        "kaizen-agents",
        "kaizen_otel — Agent monitoring",
        "Runs, loop iterations, tools, LLM calls, tokens, cost and budgets of agents instrumented "
        "with kaizen_otel.",
        ["agents"],
        agent_variable=True,
    )
    runs = [
        single(
            "Runs in progress",
            "Agent runs started and not yet finished.",
            "short",
            f"sum(kaizen_agent_active_runs{{{AGENT}}})",
        ),
        dial(
            "Run success rate",
            "Share of the runs finished in the range that ended without an error.",
            f'sum(increase(kaizen_agent_runs_total{{{AGENT}, kaizen_outcome="success"}}[$__range]))'
            f" / sum(increase(kaizen_agent_runs_total{{{AGENT}}}[$__range]))",
            ((None, "red"), (0.9, "orange"), (0.95, "green")),
        ),
        single(
            "Spend per hour",
            "LLM and tool spend over the last hour, from the pricing table (USD).",
            "currencyUSD",
            f"sum(increase(kaizen_cost_usd_total{{{AGENT}}}[1h]))",
            steps=((None, "green"), (10, "red")),
        ),
        single(
            "Budgets crossed",
            "Run and process budgets crossed in the range (each crossing counts once).",
            "short",
            f"sum(max_over_time(kaizen_budget_exceeded_total{{{JOB}}}[$__range]))",
            steps=((None, "green"), (1, "orange")),
        ),
        series(
            "Agent runs",
            "Runs finished per second, by agent and outcome.",
            "ops",
            (
                f"sum by (gen_ai_agent_name, kaizen_outcome) ({_rate('kaizen_agent_runs_total', AGENT)})",
                "{{gen_ai_agent_name}} {{kaizen_outcome}}",
            ),
        ),
        series(
            "Run duration",
            "p50 and p95 duration of finished runs, by agent.",
            "s",
            *_quantiles("kaizen_agent_run_duration_seconds", "gen_ai_agent_name", AGENT, (0.5, 0.95)),
        ),
        series(
            "Loop iteration duration (p95)",
            "95th percentile duration of agent loop iterations; the line at 5 s is the target.",
            "s",
            *_quantiles("kaizen_agent_iteration_duration_seconds", "gen_ai_agent_name", AGENT, (0.95,)),
        )
        .thresholds(_thresholds((None, "green"), (5, "red")))
        .thresholds_style(
            common.GraphThresholdsStyleConfig().mode(common_model.GraphTresholdsStyleMode.LINE)
        ),
        series(
            "Loop iterations",
            "Iterations finished per second, by agent and outcome.",
            "ops",
            (
                "sum by (gen_ai_agent_name, kaizen_outcome) "
                f"({_rate('kaizen_agent_iterations_total', AGENT)})",
                "{{gen_ai_agent_name}} {{kaizen_outcome}}",
            ),
        ),
        bars(
            "Time since last progress",
            "Seconds since each agent's last LLM call, tool call or iteration. An agent with a run in "
            "progress and more than 10 minutes here is stuck (alert KaizenAgentStuck).",
            "s",
            f"time() - max by (gen_ai_agent_name) (kaizen_agent_heartbeat_seconds{{{AGENT}}})",
            "{{gen_ai_agent_name}}",
            width=24,
        ).thresholds(_thresholds((None, "green"), (300, "orange"), (600, "red"))),
    ]
    tools = [
        series(
            "Tool calls",
            "Tool calls finished per second, by tool.",
            "ops",
            (
                f"sum by (gen_ai_tool_name) (rate(kaizen_tool_calls_total{{{AGENT}}}[{RATE}]))",
                "{{gen_ai_tool_name}}",
            ),
        ),
        series(
            "Tool success rate",
            "Share of each tool's calls that succeeded (alert below 90%).",
            "percentunit",
            (
                "sum by (gen_ai_tool_name) "
                f"({_rate('kaizen_tool_calls_total', AGENT_SUCCESS)})"
                f" / sum by (gen_ai_tool_name) ({_rate('kaizen_tool_calls_total', AGENT)})",
                "{{gen_ai_tool_name}}",
            ),
        )
        .min(0)
        .max(1),
        series(
            "Tool latency",
            "p50 and p95 duration of tool calls, by tool.",
            "s",
            *_quantiles("kaizen_tool_duration_seconds", "gen_ai_tool_name", AGENT, (0.5, 0.95)),
            width=24,
        ),
    ]
    llm = [
        series(
            "LLM calls by provider and model",
            "Model calls per second (failed calls included).",
            "ops",
            (
                "sum by (gen_ai_provider_name, gen_ai_request_model) "
                f"(rate(gen_ai_client_operation_duration_seconds_count{{{JOB}}}[{RATE}]))",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
            ),
        ),
        series(
            "LLM latency (p95)",
            "95th percentile duration of model calls, by model.",
            "s",
            *_quantiles("gen_ai_client_operation_duration_seconds", "gen_ai_request_model", JOB, (0.95,)),
        ),
        series(
            "Tokens",
            "Input and output tokens per second.",
            "short",
            (
                f"sum by (gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{{{JOB}}}[{RATE}]))",
                "{{gen_ai_token_type}}",
            ),
        ),
        series(
            "LLM errors",
            "Failed model calls per second, by error type (BudgetExceededError: refused by a budget).",
            "ops",
            (
                f"sum by (error_type) (rate(kaizen_llm_errors_total{{{JOB}}}[{RATE}]))",
                "{{error_type}}",
            ),
        ),
    ]
    spend = [
        series(
            "Cost per hour by agent",
            "Spend over the trailing hour, by agent (USD).",
            "currencyUSD",
            (
                f"sum by (gen_ai_agent_name) (increase(kaizen_cost_usd_total{{{AGENT}}}[1h]))",
                "{{gen_ai_agent_name}}",
            ),
        ),
        bars(
            "Cost by model",
            "Spend in the range, by provider and model (USD).",
            "currencyUSD",
            "sum by (gen_ai_provider_name, gen_ai_request_model) "
            f"(increase(kaizen_cost_usd_total{{{JOB}}}[$__range]))",
            "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
        ),
        bars(
            "Budget left (USD)",
            "What is left of each configured spend budget: per run (last run of each agent) and per process.",
            "currencyUSD",
            f"kaizen_budget_remaining_usd{{{JOB}}}",
            "{{kaizen_budget_scope}} {{gen_ai_agent_name}} {{instance}}",
        ),
        bars(
            "Budget left (tokens)",
            "What is left of each configured token budget: per run (last run of each agent) and per process.",
            "short",
            f"kaizen_budget_remaining_tokens{{{JOB}}}",
            "{{kaizen_budget_scope}} {{gen_ai_agent_name}} {{instance}}",
        ),
        rows_table(
            "Firing alerts",
            "kaizen_otel alerts firing now (deploy/prometheus/rules/kaizen-alerts.yml).",
            "short",
            'ALERTS{alertstate="firing", alertname=~"Kaizen.*"}',
            width=24,
        ),
    ]
    return _add(
        board,
        [("Runs", runs), ("Tools", tools), ("LLM calls and tokens", llm), ("Cost and budgets", spend)],
    )


# --- 2. performance -------------------------------------------------------------------------------


def performance() -> dashboard.Dashboard:
    board = _board(
        "kaizen-performance",
        "kaizen_otel — Performance",
        "Latency percentiles, throughput, process resources, and what observability itself costs: "
        "telemetry export, drops, audit append latency, /metrics size.",
        ["performance"],
        agent_variable=False,
    )
    latency = [
        series(
            "LLM latency percentiles",
            "p50, p95 and p99 of model call duration.",
            "s",
            *_quantiles("gen_ai_client_operation_duration_seconds", "", JOB, (0.5, 0.95, 0.99)),
        ),
        series(
            "Tool latency percentiles",
            "p50, p95 and p99 of tool call duration.",
            "s",
            *_quantiles("kaizen_tool_duration_seconds", "", JOB, (0.5, 0.95, 0.99)),
        ),
        series(
            "Throughput",
            "LLM calls, tool calls and loop iterations per second.",
            "ops",
            (f"sum(rate(gen_ai_client_operation_duration_seconds_count{{{JOB}}}[{RATE}]))", "LLM calls"),
            (f"sum(rate(kaizen_tool_calls_total{{{JOB}}}[{RATE}]))", "tool calls"),
            (f"sum(rate(kaizen_agent_iterations_total{{{JOB}}}[{RATE}]))", "iterations"),
        ),
        series(
            "Request rate by agent",
            "Tool calls and iterations per second, by agent.",
            "ops",
            (
                f"sum by (gen_ai_agent_name) (rate(kaizen_tool_calls_total{{{JOB}}}[{RATE}]))",
                "{{gen_ai_agent_name}} tools",
            ),
            (
                f"sum by (gen_ai_agent_name) (rate(kaizen_agent_iterations_total{{{JOB}}}[{RATE}]))",
                "{{gen_ai_agent_name}} iterations",
            ),
        ),
    ]
    process = [
        series(
            "CPU",
            "CPU seconds per second of each process, user and system.",
            "percentunit",
            (
                f"sum by (instance, cpu_mode) (rate(process_cpu_time_seconds_total{{{JOB}}}[{RATE}]))",
                "{{instance}} {{cpu_mode}}",
            ),
        ),
        series(
            "Memory (RSS)",
            "Resident memory of each process.",
            "bytes",
            (f"sum by (instance) (process_memory_usage_bytes{{{JOB}}})", "{{instance}}"),
        ),
        series(
            "Threads",
            "Threads of each process.",
            "short",
            (f"sum by (instance) (process_threads{{{JOB}}})", "{{instance}}"),
        ),
        series(
            "Garbage collections",
            "CPython collections per second, by generation.",
            "ops",
            (
                f"sum by (cpython_gc_generation) (rate(cpython_gc_collections_total{{{JOB}}}[{RATE}]))",
                "generation {{cpython_gc_generation}}",
            ),
        ),
    ]
    overhead = [
        series(
            "Telemetry exported",
            "Spans, metric points and log records sent per second, by signal.",
            "ops",
            (f"sum by (signal) (rate(kaizen_telemetry_exported_total{{{JOB}}}[{RATE}]))", "{{signal}}"),
        ),
        series(
            "Telemetry failed and dropped",
            "Items an exporter failed to send, and items the batch processors discarded (queue full).",
            "ops",
            (f"sum by (signal) (rate(kaizen_telemetry_failed_total{{{JOB}}}[{RATE}]))", "failed {{signal}}"),
            (
                f"sum by (signal) (rate(kaizen_telemetry_dropped_total{{{JOB}}}[{RATE}]))",
                "dropped {{signal}}",
            ),
        ),
        series(
            "Audit append latency",
            "Time from record() to the record being on disk: p50 and p99.",
            "s",
            *_quantiles("kaizen_audit_append_duration_seconds", "", JOB, (0.5, 0.99)),
        ),
        series(
            "/metrics scrape",
            "Series each process exposes, and how long Prometheus takes to scrape them.",
            "short",
            (f"scrape_samples_scraped{{{JOB}}}", "samples {{instance}}"),
            (f"scrape_duration_seconds{{{JOB}}} * 1000", "scrape ms {{instance}}"),
        ),
        single(
            "Metrics at the cardinality limit",
            "Metrics whose attribute sets reached the limit; their extra series are folded into one.",
            "short",
            f"sum(kaizen_telemetry_metric_overflow{{{JOB}}})",
            steps=((None, "green"), (1, "red")),
        ),
        single(
            "Targets up",
            "Processes Prometheus scrapes successfully, of all it tries.",
            "short",
            f"sum(up{{{JOB}}})",
        ),
    ]
    host = [
        series(
            "Host CPU",
            "Busy share of each host's CPUs (node exporter).",
            "percentunit",
            (
                '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[' + RATE + "]))",
                "{{instance}}",
            ),
        ),
        series(
            "Host memory available",
            "Memory available on each host (node exporter).",
            "bytes",
            ("node_memory_MemAvailable_bytes", "{{instance}}"),
        ),
    ]
    return _add(
        board,
        [
            ("Latency and throughput", latency),
            ("Processes", process),
            ("Observability overhead", overhead),
            ("Hosts", host),
        ],
    )


# --- 3. audit and compliance ----------------------------------------------------------------------


def audit_compliance() -> dashboard.Dashboard:
    board = _board(
        "kaizen-audit",
        "kaizen_otel — Audit and compliance",
        "Audit records by action and result, failed and denied actions, audit write health, "
        "verification and budget enforcement.",
        ["audit", "compliance"],
        agent_variable=False,
    )
    volume = [
        single(
            "Audit records",
            "Records made durable in the range.",
            "short",
            f"sum(increase(kaizen_audit_records_total{{{JOB}}}[$__range]))",
        ),
        single(
            "Failed or denied",
            "Share of the range's records whose result is failure or denied.",
            "percentunit",
            f"sum(increase(kaizen_audit_records_total{{{FAILED_OR_DENIED}}}[$__range]))"
            f" / sum(increase(kaizen_audit_records_total{{{JOB}}}[$__range]))",
            steps=((None, "green"), (0.05, "orange"), (0.2, "red")),
        ),
        single(
            "Append failures",
            "Records that could not be made durable in the range (alert KaizenAuditAppendFailures).",
            "short",
            f"sum(increase(kaizen_audit_append_failures_total{{{JOB}}}[$__range]))",
            steps=((None, "green"), (1, "red")),
        ),
        single(
            "Since last verification",
            "Time since a verification of the trail last passed (kaizen-otel audit verify).",
            "s",
            f"time() - max(kaizen_audit_verify_last_success_seconds{{{JOB}}})",
            steps=((None, "green"), (86400, "orange")),
        ),
        series(
            "Audit records per minute",
            "Records made durable per minute, by action.",
            "short",
            (
                f"sum by (kaizen_audit_action) (rate(kaizen_audit_records_total{{{JOB}}}[{RATE}])) * 60",
                "{{kaizen_audit_action}}",
            ),
        ),
        series(
            "Failed and denied actions",
            "Records per minute whose result is failure or denied, by action.",
            "short",
            (
                "sum by (kaizen_audit_action, kaizen_audit_result) "
                f"({_rate('kaizen_audit_records_total', FAILED_OR_DENIED)}) * 60",
                "{{kaizen_audit_action}} {{kaizen_audit_result}}",
            ),
        ),
        pie(
            "Records by result",
            "Share of the range's records by result.",
            f"sum by (kaizen_audit_result) (increase(kaizen_audit_records_total{{{JOB}}}[$__range]))",
            "{{kaizen_audit_result}}",
        ),
        rows_table(
            "Top actions",
            "The ten most frequent actions in the range.",
            "short",
            "topk(10, sum by (kaizen_audit_action) "
            f"(increase(kaizen_audit_records_total{{{JOB}}}[$__range])))",
            width=16,
        ),
    ]
    health = [
        series(
            "Append latency",
            "p50 and p99 time from record() to the record being on disk.",
            "s",
            *_quantiles("kaizen_audit_append_duration_seconds", "", JOB, (0.5, 0.99)),
        ),
        series(
            "Append failures by error",
            "Records not acknowledged per minute, by error type.",
            "short",
            (
                f"sum by (error_type) (rate(kaizen_audit_append_failures_total{{{JOB}}}[{RATE}])) * 60",
                "{{error_type}}",
            ),
        ),
        single(
            "Torn tails recovered",
            "Incomplete last lines moved aside when a trail was opened after a crash, in the range.",
            "short",
            f"sum(increase(kaizen_audit_recoveries_total{{{JOB}}}[$__range]))",
            steps=((None, "green"), (1, "orange")),
        ),
        text.Panel()
        .title("Verifying the trail")
        .span(18)
        .height(5)
        .content(
            "The hash chain (and HMAC, when a key is set) is checked with "
            "`kaizen-otel audit verify PATH`. Audit events forwarded over OTLP reach the gateway "
            "collector's own file (`collector/gateway.yaml`, pipeline `logs/audit`) unchanged."
        ),
    ]
    enforcement = [
        series(
            "Budget crossings",
            "Budgets crossed, by scope, kind and agent (running total per process).",
            "short",
            (
                "sum by (kaizen_budget_scope, kaizen_budget_kind, gen_ai_agent_name) "
                f"(kaizen_budget_exceeded_total{{{JOB}}})",
                "{{kaizen_budget_scope}} {{kaizen_budget_kind}} {{gen_ai_agent_name}}",
            ),
        ),
        series(
            "LLM calls refused by budget",
            "Calls refused before they were made, because an enforced budget was crossed.",
            "short",
            (
                "sum by (gen_ai_request_model) (kaizen_llm_errors_total{"
                + JOB
                + ', error_type="BudgetExceededError"})',
                "{{gen_ai_request_model}}",
            ),
        ),
    ]
    return _add(
        board,
        [("Audit records", volume), ("Audit trail health", health), ("Policy enforcement", enforcement)],
    )


# --- output ---------------------------------------------------------------------------------------

DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "agent-monitoring.json": agent_monitoring,
    "performance.json": performance,
    "audit-compliance.json": audit_compliance,
}


def render(build: Callable[[], dashboard.Dashboard]) -> str:
    """The dashboard's JSON as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT_DIR / name
        wanted = render(build)
        if check:
            if not path.exists() or path.read_text() != wanted:
                stale.append(name)
        else:
            path.write_text(wanted)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python deploy/grafana/dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
