"""The real ``anthropic`` client (which traces itself) with opentelemetry-instrumentation-anthropic,
against a local fake Anthropic server, under ``configure()``.

Both record every call, side by side under the same parent, with the same ``gen_ai.response.id``:
the call is counted once. The instrumentation's token histogram has unit ``token`` and would be a
second Prometheus family (``gen_ai_client_token_usage_token_*``); it records message content by
default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")
anthropic_instrumentation = pytest.importorskip("opentelemetry.instrumentation.anthropic")

import kaizen_otel  # noqa: E402
from tests.thirdparty.conftest import promtool_check  # noqa: E402
from tests.thirdparty.fake_models import INPUT_TOKENS, OUTPUT_TOKENS  # noqa: E402

MODEL = "claude-3-5-haiku-20241022"
CALL_COST = INPUT_TOKENS * 0.8e-6 + OUTPUT_TOKENS * 4.0e-6  # the shipped table's claude-3-5-haiku
MESSAGES = [{"role": "user", "content": "what is the answer? secret-prompt-text"}]


@pytest.fixture
def instrumented() -> Iterator[None]:
    instrumentor = anthropic_instrumentation.AnthropicInstrumentor()
    yield None
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def _client(fake_models: Any) -> Any:
    anthropic_instrumentation.AnthropicInstrumentor().instrument()
    return anthropic.Anthropic(base_url=fake_models.anthropic_url, api_key="test-key", max_retries=0)


def _calls(client: Any) -> None:
    reply = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert reply.usage.input_tokens == INPUT_TOKENS
    with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
        assert "42" in "".join(stream.text_stream)


def test_each_call_is_counted_once_and_priced_from_the_table(configured, instrumented, fake_models):
    tele = configured()
    client = _client(fake_models)
    with kaizen_otel.agent_run("writer") as run:
        _calls(client)
    assert run.tokens == 2 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert run.cost_usd == pytest.approx(2 * CALL_COST)
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="writer") == [pytest.approx(2 * CALL_COST)]
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [2.0]
    assert tele.samples("kaizen_agent_heartbeat_seconds", gen_ai_agent_name="writer")
    (agent,) = [s for s in tele.spans() if s.name == "invoke_agent writer"]
    assert agent.attributes["gen_ai.provider.name"] == "anthropic"
    assert agent.attributes["server.address"] == "127.0.0.1"


def test_the_instrumentations_token_unit_makes_no_second_family(configured, instrumented, fake_models):
    tele = configured()
    _calls(_client(fake_models))
    page = tele.scrape()
    assert "gen_ai_client_token_usage_token" not in page
    assert page.count("# TYPE gen_ai_client_token_usage histogram") == 1
    assert page.count("# TYPE gen_ai_client_operation_duration_seconds histogram") == 1
    # the client's own tracing says when the first chunk of the streamed answer came
    assert page.count("# TYPE gen_ai_client_operation_time_to_first_chunk_seconds histogram") == 1
    promtool_check(page)


def test_llm_call_around_an_instrumented_call_counts_it_once(configured, instrumented, fake_models):
    tele = configured()
    client = _client(fake_models)
    with kaizen_otel.agent_run("writer") as run, kaizen_otel.llm_call("anthropic", MODEL):
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert run.tokens == INPUT_TOKENS + OUTPUT_TOKENS
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="output") == [1.0]
    promtool_check(tele.scrape())


def test_message_content_the_instrumentation_records_is_removed_when_capture_is_off(
    configured, instrumented, fake_models
):
    tele = configured()
    _calls(_client(fake_models))
    spans = tele.spans()
    assert spans
    for span in spans:
        assert "secret-prompt-text" not in str(dict(span.attributes))
        assert "gen_ai.input.messages" not in span.attributes
        assert "The answer is 42" not in str(dict(span.attributes))


def test_a_budget_crossed_by_the_calls_warns_is_audited_and_counted_once(
    configured, instrumented, fake_models, caplog
):
    import logging

    tele = configured(budget_run_tokens=200)
    client = _client(fake_models)
    with caplog.at_level(logging.WARNING, "kaizen_otel.genai"), kaizen_otel.agent_run("writer"):
        _calls(client)  # two calls, each recorded by the client and the instrumentation: 300 tokens
    assert [r.getMessage() for r in caplog.records if "budget" in r.getMessage()] == [
        "run budget of agent 'writer' exceeded: 300 tokens used, limit 200 tokens"
    ]
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded"]
    assert tele.samples("kaizen_budget_exceeded_total", kaizen_budget_scope="run") == [1.0]
