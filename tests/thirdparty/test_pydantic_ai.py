"""pydantic-ai with its test model and ``Agent.instrument_all()``, under ``configure()``: the
framework writes its own invoke_agent / chat / execute_tool spans, we add the agent view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pydantic_ai = pytest.importorskip("pydantic_ai")
from pydantic_ai.models.test import TestModel  # noqa: E402

import kaizen_otel  # noqa: E402
from tests.thirdparty.conftest import promtool_check  # noqa: E402

IN_PRICE, OUT_PRICE = 1.0e-6, 2.0e-6  # USD per token for pydantic-ai's "test" model, from a pricing file


@pytest.fixture
def prices(tmp_path: Path) -> str:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"per_tokens": 1_000_000, "models": {"test": {"test": {"input": 1.0, "output": 2.0}}}})
    )
    return str(path)


@pytest.fixture
def instrumented():
    pydantic_ai.Agent.instrument_all()
    yield
    pydantic_ai.Agent.instrument_all(False)


def _agent() -> pydantic_ai.Agent:
    agent = pydantic_ai.Agent(TestModel(), name="helper", instructions="be brief")

    @agent.tool_plain
    def lookup(q: str) -> str:
        return "42"

    return agent


def test_a_pydantic_ai_run_gets_cost_roll_ups_heartbeat_and_run_and_tool_metrics(
    configured, instrumented, prices
):
    tele = configured(pricing_file=prices)
    result = _agent().run_sync("what is the answer? secret-prompt-text")
    usage = result.usage
    expected = usage.input_tokens * IN_PRICE + usage.output_tokens * OUT_PRICE
    (run,) = [s for s in tele.spans() if s.name == "invoke_agent helper"]
    assert run.attributes["kaizen.run.tokens"] == usage.input_tokens + usage.output_tokens
    assert run.attributes["kaizen.run.cost.usd"] == pytest.approx(expected)
    assert sum(tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="helper")) == pytest.approx(expected)
    assert tele.samples("kaizen_agent_runs_total", gen_ai_agent_name="helper") == [1.0]
    assert tele.samples("kaizen_tool_calls_total", gen_ai_tool_name="lookup") == [1.0]
    assert tele.samples("kaizen_agent_heartbeat_seconds", gen_ai_agent_name="helper")
    assert tele.samples("gen_ai_client_token_usage_sum", gen_ai_token_type="input") == [
        float(usage.input_tokens)
    ]
    promtool_check(tele.scrape())
    for span in tele.spans():
        assert "secret-prompt-text" not in str(dict(span.attributes))


def test_inside_agent_run_the_framework_run_is_the_one_rolled_up_and_budgeted(
    configured, instrumented, prices
):
    tele = configured(pricing_file=prices, budget_run_tokens=50)
    with kaizen_otel.agent_run("supervisor") as supervisor:
        result = _agent().run_sync("what is the answer?")
    (run,) = [s for s in tele.spans() if s.name == "invoke_agent helper"]
    (outer,) = [s for s in tele.spans() if s.name == "invoke_agent supervisor"]
    assert run.parent.span_id == outer.context.span_id
    assert run.attributes["kaizen.run.tokens"] == result.usage.input_tokens + result.usage.output_tokens
    assert supervisor.tokens == 0  # no call made directly in it
    crossed = [r["agent_id"] for r in tele.audit.records if r["action"] == "budget_exceeded"]
    assert crossed == ["helper"]
    promtool_check(tele.scrape())
