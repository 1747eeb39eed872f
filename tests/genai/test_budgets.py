"""Budgets per run and per process: crossing reported once, enforce mode refuses the next call."""

from __future__ import annotations

import logging

import pytest

from kaizen_otel.exceptions import BudgetExceededError
from kaizen_otel.genai import agent_run, llm_call, start_llm_call, usage_summary


def _spend(tokens_in: int, tokens_out: int = 0, model: str = "gpt-4o") -> None:
    with llm_call("openai", model) as call:
        call.record_usage(tokens_in, tokens_out)


def test_crossing_a_run_budget_warns_audits_and_counts_once(telemetry_factory, caplog):
    telemetry = telemetry_factory(budget_run_tokens=100)
    with caplog.at_level(logging.WARNING, logger="kaizen_otel.genai"), agent_run("spender", agent_id="s-1"):
        _spend(60)
        _spend(60)
        _spend(60)
    warnings = [r.getMessage() for r in caplog.records if "budget" in r.getMessage()]
    assert warnings == ["run budget of agent 'spender' exceeded: 120 tokens used, limit 100 tokens"]
    (exceeded,) = telemetry.points("kaizen.budget.exceeded")
    assert exceeded.value == 1
    assert dict(exceeded.attributes) == {
        "kaizen.budget.scope": "run",
        "kaizen.budget.kind": "tokens",
        "gen_ai.agent.name": "spender",
    }
    (record,) = [r for r in telemetry.audit.records if r["action"] == "budget_exceeded"]
    assert record["agent_id"] == "s-1" and record["result"] == "failure"
    assert record["details"] == {
        "scope": "run",
        "kind": "tokens",
        "limit": 100.0,
        "used": 120.0,
        "enforce": False,
    }
    events = [r for r in telemetry.log_records() if r.event_name == "kaizen.budget.exceeded"]
    assert len(events) == 1


def test_each_run_gets_its_own_run_budget(telemetry_factory):
    telemetry = telemetry_factory(budget_run_tokens=100)
    for _ in range(3):
        with agent_run("a"):
            _spend(80)
    assert "kaizen.budget.exceeded" not in telemetry.metrics()


def test_enforce_mode_refuses_the_next_llm_call_before_it_is_made(telemetry_factory):
    telemetry = telemetry_factory(budget_run_usd=0.001, budget_enforce=True)
    made = []
    with agent_run("guarded", agent_id="g-1"):
        _spend(1000)  # $0.0025: crosses the limit, allowed to finish
        made.append(1)
        with pytest.raises(BudgetExceededError) as info, llm_call("openai", "gpt-4o"):
            made.append(2)
    assert made == [1]
    assert info.value.scope == "run" and info.value.limit == 0.001
    assert str(info.value).startswith("LLM call refused: run budget of agent 'guarded' exceeded")
    (refused,) = [r for r in telemetry.audit.records if r["action"] == "llm_call_refused"]
    assert refused["result"] == "denied" and refused["agent_id"] == "g-1"
    errors = telemetry.points("kaizen.llm.errors")
    assert [p.attributes["error.type"] for p in errors] == ["BudgetExceededError"]
    assert [s.name for s in telemetry.finished()].count("chat gpt-4o") == 1


def test_a_new_run_is_not_refused_by_a_previous_runs_budget(telemetry_factory):
    telemetry_factory(budget_run_tokens=10, budget_enforce=True)
    with agent_run("a"):
        _spend(20)
    with agent_run("a"):
        _spend(5)


def test_the_process_budget_spans_runs_and_calls_outside_runs(telemetry_factory):
    telemetry = telemetry_factory(budget_process_tokens=100, budget_enforce=True)
    with agent_run("a"):
        _spend(50)
    _spend(60)
    with pytest.raises(BudgetExceededError) as info, agent_run("b"):
        start_llm_call("openai", "gpt-4o")
    assert info.value.scope == "process"
    (exceeded,) = telemetry.points("kaizen.budget.exceeded")
    assert exceeded.attributes["kaizen.budget.scope"] == "process"
    assert usage_summary()["budget_crossings"] == 1


def test_a_run_inside_another_has_its_own_totals_and_the_process_budget_covers_both(telemetry_factory):
    """Nearest run only: a sub-agent's calls are its own run's, not its supervisor's (docs: Budgets)."""
    telemetry = telemetry_factory(budget_run_tokens=100, budget_process_tokens=150, budget_enforce=True)
    with agent_run("supervisor") as supervisor:
        _spend(30)
        with agent_run("worker") as worker:
            _spend(90)
        assert (supervisor.tokens, worker.tokens) == (30, 90)  # neither run crossed 100
        with pytest.raises(BudgetExceededError) as info:
            _spend(40)  # 160 in the process: crosses 150
            _spend(1)
    assert info.value.scope == "process"
    crossed = [p.attributes["kaizen.budget.scope"] for p in telemetry.points("kaizen.budget.exceeded")]
    assert crossed == ["process"]


def test_explicit_run_budget_arguments_override_the_settings(telemetry_factory):
    telemetry_factory(budget_run_tokens=1_000_000, budget_enforce=True)
    with agent_run("tight", budget_tokens=10):
        _spend(20)
        with pytest.raises(BudgetExceededError):
            start_llm_call("openai", "gpt-4o")


def test_budget_remaining_gauges_report_each_configured_budget_one_unit_per_gauge(telemetry_factory):
    telemetry = telemetry_factory(budget_process_usd=1.0, budget_run_tokens=1000)
    with agent_run("a"):
        _spend(400, 100)
    usd = {p.attributes["kaizen.budget.scope"]: p for p in telemetry.points("kaizen.budget.remaining.usd")}
    tokens = {
        p.attributes["kaizen.budget.scope"]: p for p in telemetry.points("kaizen.budget.remaining.tokens")
    }
    assert set(usd) == {"process"} and set(tokens) == {"run"}
    assert tokens["run"].value == 500
    assert dict(tokens["run"].attributes) == {"kaizen.budget.scope": "run", "gen_ai.agent.name": "a"}
    assert usd["process"].value == pytest.approx(1.0 - (400 * 2.5 + 100 * 10.0) / 1e6)
    assert "kaizen.budget.kind" not in usd["process"].attributes


def test_usage_summary_totals_tokens_cost_and_tool_outcomes(telemetry):
    from kaizen_otel.genai import tool_call

    with agent_run("a"):
        _spend(100, 50)
        with tool_call("t"):
            pass
        with pytest.raises(RuntimeError), tool_call("t"):
            raise RuntimeError
    summary = usage_summary()
    assert summary["input_tokens"] == 100 and summary["output_tokens"] == 50
    assert summary["tool_calls"] == 2 and summary["tool_errors"] == 1
    assert summary["agent_runs"] == 1 and summary["llm_calls"] == 1
    assert summary["cost_usd"] == pytest.approx((100 * 2.5 + 50 * 10.0) / 1e6)
