"""Metric names, units, bucket boundaries and values recorded by the helpers."""

from __future__ import annotations

import time

import pytest

from kaizen_otel.genai import agent_run, llm_call, start_llm_call, tool_call
from kaizen_otel.genai import semconv as sc


def _by_attrs(points, **match):
    found = [p for p in points if all(p.attributes.get(k.replace("__", ".")) == v for k, v in match.items())]
    assert found, f"no point with {match} in {[dict(p.attributes) for p in points]}"
    return found


def test_gen_ai_histograms_have_the_spec_units_and_bucket_boundaries(telemetry):
    with llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=100, output_tokens=20)
    metrics = telemetry.metrics()
    tokens = metrics["gen_ai.client.token.usage"]
    duration = metrics["gen_ai.client.operation.duration"]
    assert tokens.unit == "{token}" and duration.unit == "s"
    token_bounds = tuple(tokens.data.data_points[0].explicit_bounds)
    assert token_bounds == sc.TOKEN_USAGE_BUCKETS
    assert all(type(b) is int for b in token_bounds)
    assert tuple(duration.data.data_points[0].explicit_bounds) == sc.OPERATION_DURATION_BUCKETS


def test_token_usage_is_recorded_per_token_type_with_the_spec_attributes(telemetry):
    with llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=100, output_tokens=20)
        call.set_response(model="gpt-4o-2024-08-06")
    points = telemetry.points("gen_ai.client.token.usage")
    (inp,) = _by_attrs(points, gen_ai__token__type="input")
    (out,) = _by_attrs(points, gen_ai__token__type="output")
    assert (inp.sum, inp.count, out.sum, out.count) == (100, 1, 20, 1)
    assert dict(inp.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.token.type": "input",
    }


def test_a_failed_llm_call_counts_an_error_by_type_and_tags_the_duration(telemetry):
    with pytest.raises(ConnectionError), llm_call("anthropic", "claude-sonnet-4"):
        raise ConnectionError("reset")
    (err,) = telemetry.points("kaizen.llm.errors")
    assert err.value == 1
    assert err.attributes["error.type"] == "ConnectionError"
    assert err.attributes["gen_ai.provider.name"] == "anthropic"
    (dur,) = telemetry.points("gen_ai.client.operation.duration")
    assert dur.attributes["error.type"] == "ConnectionError"


def test_tool_calls_are_counted_and_timed_per_tool_and_outcome(telemetry):
    with agent_run("worker"):
        for ok in (True, True, False):
            try:
                with tool_call("fetch"):
                    if not ok:
                        raise OSError("down")
            except OSError:
                pass
    calls = telemetry.points("kaizen.tool.calls")
    (success,) = _by_attrs(calls, kaizen__outcome="success")
    (error,) = _by_attrs(calls, kaizen__outcome="error")
    assert success.value == 2 and error.value == 1
    assert success.attributes["gen_ai.tool.name"] == "fetch"
    assert success.attributes["gen_ai.agent.name"] == "worker"
    assert telemetry.metrics()["kaizen.tool.duration"].unit == "s"
    durations = telemetry.points("kaizen.tool.duration")
    assert sum(p.count for p in durations) == 3


def test_agent_runs_iterations_and_active_runs_are_recorded(telemetry):
    with agent_run("looper") as run:
        for _ in range(3):
            with run.iteration():
                pass
        (active,) = telemetry.points("kaizen.agent.active_runs")
        assert active.value == 1
    (runs,) = telemetry.points("kaizen.agent.runs")
    assert runs.value == 1 and dict(runs.attributes) == {
        "gen_ai.agent.name": "looper",
        "kaizen.outcome": "success",
    }
    (iterations,) = telemetry.points("kaizen.agent.iterations")
    assert iterations.value == 3
    (active,) = telemetry.points("kaizen.agent.active_runs")
    assert active.value == 0
    (duration,) = telemetry.points("kaizen.agent.run.duration")
    assert duration.count == 1
    assert run.iterations == 3


def test_the_heartbeat_gauge_holds_the_unix_time_of_each_agents_last_progress(telemetry):
    before = time.time()
    with agent_run("alpha"), tool_call("t"):
        pass
    (beat,) = telemetry.points("kaizen.agent.heartbeat")
    assert beat.attributes["gen_ai.agent.name"] == "alpha"
    assert before <= beat.value <= time.time()
    assert telemetry.metrics()["kaizen.agent.heartbeat"].unit == "s"


def test_cost_is_counted_in_usd_by_provider_model_and_agent(telemetry):
    with agent_run("buyer"), llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=1000, output_tokens=500, cached_input_tokens=400)
    metric = telemetry.metrics()["kaizen.cost"]
    assert metric.unit == "usd"  # lower case: Prometheus names it kaizen_cost_usd_total
    (point,) = metric.data.data_points
    expected = (600 * 2.5 + 400 * 1.25 + 500 * 10.0) / 1e6
    assert point.value == pytest.approx(expected)
    assert dict(point.attributes) == {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.agent.name": "buyer",
    }


def test_metric_attributes_setting_adds_fixed_attributes_to_kaizen_metrics_only(telemetry_factory):
    telemetry = telemetry_factory(metric_attributes={"team": "search"})
    with agent_run("a"), llm_call("openai", "gpt-4o") as call:
        call.record_usage(10, 10)
    (cost,) = telemetry.points("kaizen.cost")
    assert cost.attributes["team"] == "search"
    (runs,) = telemetry.points("kaizen.agent.runs")
    assert runs.attributes["team"] == "search"
    assert all("team" not in p.attributes for p in telemetry.points("gen_ai.client.token.usage"))


def test_no_ids_or_free_text_become_metric_attributes(telemetry):
    with agent_run("a", agent_id="id-123", conversation_id="conv-9"), tool_call("t", call_id="call-77"):
        pass
    for metric in telemetry.metrics().values():
        for point in metric.data.data_points:
            values = set(map(str, point.attributes.values()))
            assert not values & {"id-123", "conv-9", "call-77"}, metric.name


def test_llm_call_outside_a_run_records_without_an_agent(telemetry):
    call = start_llm_call("openai", "gpt-4o-mini")
    call.record_usage(1, 1)
    call.stop()
    (cost,) = telemetry.points("kaizen.cost")
    assert "gen_ai.agent.name" not in cost.attributes


def test_prometheus_names_are_the_documented_ones(telemetry_factory):
    """The exposition names dashboards and alert rules rely on (docs/agents.md)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import REGISTRY, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from kaizen_otel.genai import configure_genai
    from tests.genai.conftest import make_settings

    reader = PrometheusMetricReader()  # registers with the default registry until shutdown
    provider = MeterProvider(metric_readers=[reader])
    try:
        configure_genai(
            make_settings(budget_process_usd=10.0, budget_process_tokens=10_000), meter_provider=provider
        )
        with agent_run("a") as run, llm_call("openai", "gpt-4o") as call:
            call.record_usage(10, 10)
            with run.iteration(), tool_call("t"):
                pass
        try:
            with llm_call("openai", "gpt-4o"):
                raise ValueError("bad")
        except ValueError:
            pass
        text = generate_latest(REGISTRY).decode()
    finally:
        provider.shutdown()
    for name in (
        "gen_ai_client_token_usage_bucket",
        "gen_ai_client_operation_duration_seconds_bucket",
        "kaizen_agent_runs_total",
        "kaizen_agent_run_duration_seconds_bucket",
        "kaizen_agent_active_runs",
        "kaizen_agent_iterations_total",
        "kaizen_agent_iteration_duration_seconds_bucket",
        "kaizen_agent_heartbeat_seconds",
        "kaizen_tool_calls_total",
        "kaizen_tool_duration_seconds_bucket",
        "kaizen_llm_errors_total",
        "kaizen_cost_usd_total",
        "kaizen_budget_remaining_usd",
        "kaizen_budget_remaining_tokens",
    ):
        assert f"\n{name}{{" in text, name
    # One unit per family, lower case: no `_USD`, no budget gauge mixing dollars and tokens.
    assert "_USD" not in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("kaizen_budget_remaining_usd", "kaizen_budget_remaining_tokens"):
        assert families[name].type == "gauge"
        assert all("kaizen_budget_kind" not in s.labels for s in families[name].samples)
    assert 'le="1"' in text and 'le="0.01"' in text
