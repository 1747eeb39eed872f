"""LangChain through the OpenInference instrumentation, under ``configure()``: real spans in the
neighbouring convention (``openinference.span.kind``, ``llm.token_count.*``, ``llm.provider``,
``llm.model_name``; no ``gen_ai.*`` at all) from langchain-core's own fake chat model, which reports
usage and a model name as a provider's chat model would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest.importorskip("langchain_core")
openinference_langchain = pytest.importorskip("openinference.instrumentation.langchain")

import kaizen_otel  # noqa: E402
from tests.thirdparty.conftest import promtool_check  # noqa: E402
from tests.thirdparty.fake_langchain import (  # noqa: E402
    MODEL,
    FakeOpenAIChat,
    FakeOpenAIChatOverHTTP,
    lookup,
)
from tests.thirdparty.fake_models import INPUT_TOKENS, OUTPUT_TOKENS  # noqa: E402

CALL_COST = INPUT_TOKENS * 0.15e-6 + OUTPUT_TOKENS * 0.6e-6  # the shipped table's gpt-4o-mini prices
PROMPT = "what is the answer? secret-prompt-text"


@pytest.fixture
def chat() -> Iterator[FakeOpenAIChat]:
    instrumentor = openinference_langchain.LangChainInstrumentor()
    yield FakeOpenAIChat()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def _instrument() -> None:
    openinference_langchain.LangChainInstrumentor().instrument()


def test_a_langchain_chat_call_is_priced_rolled_up_and_its_tool_counted(configured, chat):
    tele = configured()
    _instrument()
    with kaizen_otel.agent_run("lc-agent") as run:
        assert "42" in chat.invoke(PROMPT).content
        lookup.invoke({"q": "the answer"})
    (llm,) = [s for s in tele.spans() if s.attributes.get("openinference.span.kind") == "LLM"]
    assert "gen_ai.operation.name" not in llm.attributes  # the neighbouring convention only
    assert llm.attributes["kaizen.cost.usd"] == pytest.approx(CALL_COST)
    assert run.tokens == INPUT_TOKENS + OUTPUT_TOKENS
    assert run.cost_usd == pytest.approx(CALL_COST)
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="lc-agent") == [pytest.approx(CALL_COST)]
    assert tele.samples("gen_ai_client_token_usage_sum", gen_ai_token_type="input") == [float(INPUT_TOKENS)]
    assert tele.samples("kaizen_tool_calls_total", gen_ai_tool_name="lookup") == [1.0]
    assert tele.samples("kaizen_agent_heartbeat_seconds", gen_ai_agent_name="lc-agent")
    promtool_check(tele.scrape())


def test_message_content_langchain_spans_carry_is_removed_unless_capture_is_on(configured, chat):
    tele = configured()
    _instrument()
    chat.invoke(PROMPT)
    lookup.invoke({"q": "secret-tool-argument"})
    for span in tele.spans():
        text = str(dict(span.attributes))
        assert "secret-prompt-text" not in text and "The answer is 42" not in text, span.name
        assert "secret-tool-argument" not in text, span.name


def test_llm_call_around_a_langchain_call_gives_one_span_and_one_measurement(configured, chat):
    tele = configured()
    _instrument()
    with kaizen_otel.agent_run("lc-agent") as run, kaizen_otel.llm_call("openai", MODEL):
        chat.invoke(PROMPT)
    assert run.tokens == INPUT_TOKENS + OUTPUT_TOKENS
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [1.0]
    # OpenInference says its span is a model call only as it ends: it is then known to be a second
    # record of ours, and kept out of the export, so the trace shows one span for the call.
    assert [s.name for s in tele.spans() if s.name == "FakeOpenAIChat"] == []
    (ours,) = [s for s in tele.spans() if s.name == "chat gpt-4o-mini"]
    assert ours.attributes["kaizen.cost.usd"] == pytest.approx(CALL_COST)
    assert ours.attributes["llm.token_count.prompt"] == INPUT_TOKENS  # filled from their record
    promtool_check(tele.scrape())


def test_a_span_the_model_makes_while_answering_is_a_child_of_ours_and_the_trace_stays_whole(
    configured, chat
):
    """OpenInference does not make its span the current one: an HTTP client's span made while the
    model answers is a child of our ``llm_call`` span, so hiding their record orphans nothing."""
    tele = configured()
    _instrument()
    with kaizen_otel.agent_run("lc-agent") as run, kaizen_otel.llm_call("openai", MODEL):
        FakeOpenAIChatOverHTTP().invoke(PROMPT)
    assert run.tokens == INPUT_TOKENS + OUTPUT_TOKENS
    (ours,) = [s for s in tele.spans() if s.name == "chat gpt-4o-mini"]
    (http,) = [s for s in tele.spans() if s.name == "POST"]
    assert http.parent.span_id == ours.context.span_id
    assert [s.name for s in tele.spans() if s.name == "FakeOpenAIChatOverHTTP"] == []
    exported = {s.context.span_id for s in tele.spans()}
    assert all(s.parent is None or s.parent.span_id in exported for s in tele.spans())


def test_an_enforced_budget_cannot_refuse_a_langchain_call_but_the_crossing_is_reported(
    configured, chat, caplog
):
    """OpenInference marks its span a model call only after starting it: nothing to refuse at the
    start (docs: What a budget can refuse). The crossing is still warned, audited and counted."""
    tele = configured(budget_run_tokens=100, budget_enforce=True)
    _instrument()
    with caplog.at_level(logging.WARNING), kaizen_otel.agent_run("lc-agent") as run:
        chat.invoke(PROMPT)
        assert "42" in chat.invoke(PROMPT).content  # not refused
    assert run.tokens == 2 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert any("run budget of agent 'lc-agent' exceeded" in r.getMessage() for r in caplog.records)
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded"]  # no refusal claimed
    assert tele.samples("kaizen_budget_exceeded_total", kaizen_budget_scope="run") == [1.0]
    assert tele.samples("kaizen_llm_errors_total") == []
