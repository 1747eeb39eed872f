"""The OpenAI Agents SDK with opentelemetry-instrumentation-openai-agents-v2 *and* openai-v2,
against the local fake OpenAI server: both record each model call, nested; it is counted once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

agents = pytest.importorskip("agents")
openai = pytest.importorskip("openai")
agents_instrumentation = pytest.importorskip("opentelemetry.instrumentation.openai_agents")
openai_v2 = pytest.importorskip("opentelemetry.instrumentation.openai_v2")

import kaizen_otel  # noqa: E402
from kaizen_otel.exceptions import BudgetExceededError  # noqa: E402
from tests.thirdparty.conftest import promtool_check  # noqa: E402
from tests.thirdparty.fake_models import INPUT_TOKENS, OUTPUT_TOKENS  # noqa: E402

CALL_COST = INPUT_TOKENS * 0.15e-6 + OUTPUT_TOKENS * 0.6e-6


@pytest.fixture
def instrumented() -> Iterator[None]:
    both = (agents_instrumentation.OpenAIAgentsInstrumentor(), openai_v2.OpenAIInstrumentor())
    yield None
    for instrumentor in both:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


def _run(fake_models: Any, *, with_openai_v2: bool = True) -> Any:
    agents_instrumentation.OpenAIAgentsInstrumentor().instrument()
    if with_openai_v2:
        openai_v2.OpenAIInstrumentor().instrument()
    client = openai.AsyncOpenAI(base_url=fake_models.openai_url, api_key="test-key", max_retries=0)
    model = agents.OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
    agent = agents.Agent(name="assistant", instructions="be brief", model=model)
    return agents.Runner.run_sync(agent, "what is the answer? secret-prompt-text")


def test_a_call_recorded_by_both_instrumentations_is_counted_once(configured, instrumented, fake_models):
    tele = configured()
    result = _run(fake_models)
    assert "42" in result.final_output
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [1.0]
    assert tele.samples("gen_ai_client_token_usage_sum", gen_ai_token_type="input") == [float(INPUT_TOKENS)]
    assert sum(tele.samples("kaizen_cost_usd_total")) == pytest.approx(CALL_COST)
    chats = [s for s in tele.spans() if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 1  # openai-v2's record inside the Agents SDK's is not exported
    (run,) = [s for s in tele.spans() if s.name == "invoke_agent assistant"]
    assert run.attributes["kaizen.run.tokens"] == INPUT_TOKENS + OUTPUT_TOKENS
    assert run.attributes["kaizen.run.cost.usd"] == pytest.approx(CALL_COST)
    assert tele.samples("kaizen_agent_runs_total", gen_ai_agent_name="assistant") == [1.0]
    # the instrumentation's placeholder name until the run ends is nowhere on /metrics
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="assistant") == [pytest.approx(CALL_COST)]
    assert tele.samples("kaizen_agent_heartbeat_seconds", gen_ai_agent_name="assistant")
    assert "OpenAI Agent" not in tele.scrape()
    promtool_check(tele.scrape())
    for span in tele.spans():
        assert "secret-prompt-text" not in str(dict(span.attributes))


def test_inside_agent_run_the_call_is_still_counted_once(configured, instrumented, fake_models):
    tele = configured()
    with kaizen_otel.agent_run("supervisor"):
        _run(fake_models)
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="output") == [1.0]
    assert kaizen_otel.usage_summary()["input_tokens"] == INPUT_TOKENS
    promtool_check(tele.scrape())


def test_a_budget_crossed_by_a_run_warns_is_audited_and_counted(
    configured, instrumented, fake_models, caplog
):
    import logging

    tele = configured(budget_run_tokens=100)
    with caplog.at_level(logging.WARNING, "kaizen_otel.genai"):
        _run(fake_models)
    assert any("run budget of agent 'assistant' exceeded" in r.getMessage() for r in caplog.records)
    # the audit names the agent by gen_ai.agent.id: the instrumentation's "agent" unless given agent_id=
    assert [(r["action"], r["agent_id"]) for r in tele.audit.records] == [("budget_exceeded", "agent")]
    assert tele.samples(
        "kaizen_budget_exceeded_total", kaizen_budget_scope="run", gen_ai_agent_name="assistant"
    ) == [1.0]


def test_an_enforced_budget_refuses_the_next_call_once_at_openai_v2s_record_of_it(
    configured, instrumented, fake_models
):
    """The Agents SDK swallows an error raised where its model-call span starts; openai-v2's record
    of the same call, inside it, is where the refusal reaches the caller. Counted once."""
    tele = configured(budget_process_tokens=100, budget_enforce=True)
    _run(fake_models)
    sent = len(fake_models.requests)
    with pytest.raises(BudgetExceededError):
        _run(fake_models)
    assert len(fake_models.requests) == sent  # never sent
    assert [(r["action"], r["details"].get("model")) for r in tele.audit.records] == [
        ("budget_exceeded", None),
        ("llm_call_refused", "gpt-4o-mini"),
    ]
    assert tele.samples("kaizen_llm_errors_total") == [1.0]
    assert tele.samples("kaizen_llm_errors_total", error_type="BudgetExceededError") == [1.0]
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [1.0]
    # the refused call is no model call: one duration, that of the first run
    assert tele.samples("gen_ai_client_operation_duration_seconds_count") == [1.0]
    runs = [s for s in tele.spans() if s.name == "invoke_agent assistant"]
    assert [r.status.status_code.name for r in runs] == ["OK", "ERROR"]
    promtool_check(tele.scrape())


def test_without_openai_v2_the_agents_sdk_call_is_not_refused_and_no_refusal_is_claimed(
    configured, instrumented, fake_models
):
    """With the Agents SDK's instrumentation alone no record of the call can refuse it: the crossing
    is reported, the audit trail does not claim a refusal that did not happen."""
    tele = configured(budget_process_tokens=100, budget_enforce=True)
    _run(fake_models, with_openai_v2=False)
    sent = len(fake_models.requests)
    assert "42" in _run(fake_models, with_openai_v2=False).final_output
    assert len(fake_models.requests) == sent + 1
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded"]
    assert tele.samples("kaizen_llm_errors_total") == []
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [2.0]
