"""The real ``anthropic`` client (which traces itself) with opentelemetry-instrumentation-anthropic,
against a local fake Anthropic server, under ``configure()``.

Both record every call, side by side: the instrumentation does not make its span current, so the
client's span is its sibling under the same parent (outside any span, the root of another trace),
and in the instrumentation's events mode its span has neither the model nor the response id. The
call is counted once, from the client's record, priced. The instrumentation's token histogram has
unit ``token`` and would be a second Prometheus family (``gen_ai_client_token_usage_token_*``); it
records message content by default.
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


# --- the instrumentation's events mode -------------------------------------------------------------
# ``AnthropicInstrumentor(use_attributes=False)`` writes neither the model nor the response id on its
# span for a call that does not stream: only the client's own record of the call can be priced, and
# the two records cannot be matched by ``gen_ai.response.id``.

SONNET = "claude-sonnet-4-20250514"
SONNET_COST = INPUT_TOKENS * 3.0e-6 + OUTPUT_TOKENS * 15.0e-6  # the shipped table's claude-sonnet-4


@pytest.fixture
def events_mode() -> Iterator[None]:
    yield None
    instrumentor = anthropic_instrumentation.AnthropicInstrumentor()  # back to the attributes mode
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def _events_mode_client(fake_models: Any, cls: Any = None) -> Any:
    anthropic_instrumentation.AnthropicInstrumentor(use_attributes=False).instrument()
    return (cls or anthropic.Anthropic)(base_url=fake_models.anthropic_url, api_key="test-key", max_retries=0)


def _priced(spans: list[Any]) -> list[float]:
    return [s.attributes["kaizen.cost.usd"] for s in spans if s.attributes.get("kaizen.cost.usd")]


def test_in_events_mode_each_call_is_counted_once_with_its_cost(configured, events_mode, fake_models):
    tele = configured()
    client = _events_mode_client(fake_models)
    with kaizen_otel.agent_run("writer") as run:
        _calls(client)  # one call answered at once, one streamed
        for _ in client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True):
            pass
    assert run.tokens == 3 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert run.cost_usd == pytest.approx(3 * CALL_COST)
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="writer") == [pytest.approx(3 * CALL_COST)]
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [3.0]
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="output") == [3.0]
    assert tele.samples("gen_ai_client_token_usage_sum", gen_ai_token_type="output") == [3.0 * OUTPUT_TOKENS]
    assert tele.samples("gen_ai_client_operation_duration_seconds_count") == [3.0]
    assert tele.samples("kaizen_agent_heartbeat_seconds", gen_ai_agent_name="writer")
    # both records of each call stay in the trace; the one counted carries the cost
    chats = [s for s in tele.spans() if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 6
    assert _priced(chats) == [pytest.approx(CALL_COST)] * 3
    assert all(
        s.attributes["gen_ai.response.model"] == MODEL for s in chats if "kaizen.cost.usd" in s.attributes
    )
    for span in tele.spans():  # capture is off: no prompt nor answer on any span or span event
        recorded = str(dict(span.attributes)) + str([dict(e.attributes or {}) for e in span.events])
        assert "secret-prompt-text" not in recorded
        assert "The answer is 42" not in recorded
    page = tele.scrape()
    assert "gen_ai_client_token_usage_token" not in page
    promtool_check(page)


@pytest.mark.parametrize("use_attributes", [True, False], ids=["attributes mode", "events mode"])
def test_calls_outside_any_span_are_counted_once(configured, events_mode, fake_models, use_attributes):
    """Outside any span the two records of a call are the roots of two traces, so their common
    ``gen_ai.response.id`` does not pair them; the live view shows one run per call."""
    tele = configured(live_view=True)
    anthropic_instrumentation.AnthropicInstrumentor(use_attributes=use_attributes).instrument()
    _calls(anthropic.Anthropic(base_url=fake_models.anthropic_url, api_key="test-key", max_retries=0))
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [2.0]
    assert sum(tele.samples("kaizen_cost_usd_total")) == pytest.approx(2 * CALL_COST)
    runs, _ = tele.handle.live_store.snapshot()
    assert [(r.llm_calls, r.input_tokens, r.output_tokens, r.status) for r in runs] == [
        (1, INPUT_TOKENS, OUTPUT_TOKENS, "ok")
    ] * 2


def test_in_events_mode_a_call_inside_llm_call_is_counted_once(configured, events_mode, fake_models):
    tele = configured()
    client = _events_mode_client(fake_models)
    with kaizen_otel.agent_run("writer") as run, kaizen_otel.llm_call("anthropic", MODEL):
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert run.tokens == INPUT_TOKENS + OUTPUT_TOKENS
    assert run.cost_usd == pytest.approx(CALL_COST)
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="output") == [1.0]
    promtool_check(tele.scrape())


def test_in_events_mode_concurrent_calls_under_one_run_are_each_counted(configured, events_mode, fake_models):
    """Calls made at the same time under the same parent span are told apart, never merged: the two
    records of a call are paired within the task (or thread) that made it."""
    import asyncio

    tele = configured()
    client = _events_mode_client(fake_models, anthropic.AsyncAnthropic)

    async def streamed(model: str) -> None:
        async with client.messages.stream(model=model, max_tokens=100, messages=MESSAGES) as stream:
            async for _ in stream.text_stream:
                await asyncio.sleep(0)

    async def calls() -> None:
        await asyncio.gather(
            *(
                client.messages.create(model=m, max_tokens=100, messages=MESSAGES)
                for m in (MODEL, SONNET) * 3
            ),
            streamed(MODEL),
            streamed(SONNET),
        )

    with kaizen_otel.agent_run("writer") as run:
        asyncio.run(calls())
    assert run.tokens == 8 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert run.cost_usd == pytest.approx(4 * CALL_COST + 4 * SONNET_COST)
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [4.0, 4.0]
    assert sorted(_priced(tele.spans())) == [pytest.approx(CALL_COST)] * 4 + [pytest.approx(SONNET_COST)] * 4


def test_in_events_mode_calls_from_threads_under_one_run_are_each_counted(
    configured, events_mode, fake_models
):
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    tele = configured()
    client = _events_mode_client(fake_models)
    with kaizen_otel.agent_run("writer") as run, ThreadPoolExecutor(4) as pool:
        done = [
            pool.submit(
                contextvars.copy_context().run,
                lambda m=model: client.messages.create(model=m, max_tokens=100, messages=MESSAGES),
            )
            for model in (MODEL, SONNET) * 4
        ]
        for future in done:
            future.result()
    assert run.tokens == 8 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert run.cost_usd == pytest.approx(4 * CALL_COST + 4 * SONNET_COST)
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="output") == [4.0, 4.0]


def test_in_events_mode_a_budget_warns_at_the_real_usage_only(configured, events_mode, fake_models, caplog):
    import logging

    tele = configured(budget_run_tokens=400)
    client = _events_mode_client(fake_models)
    with caplog.at_level(logging.WARNING, "kaizen_otel.genai"), kaizen_otel.agent_run("writer"):
        for _ in range(2):
            client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        assert not [r for r in caplog.records if "budget" in r.getMessage()]  # 300 of 400 tokens
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert [r.getMessage() for r in caplog.records if "budget" in r.getMessage()] == [
        "run budget of agent 'writer' exceeded: 450 tokens used, limit 400 tokens"
    ]
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded"]
    assert tele.samples("kaizen_budget_exceeded_total", kaizen_budget_scope="run") == [1.0]


def test_in_events_mode_an_enforced_budget_refuses_the_next_call_once_before_it_is_sent(
    configured, events_mode, fake_models
):
    from kaizen_otel.exceptions import BudgetExceededError

    tele = configured(budget_run_tokens=100, budget_enforce=True)
    client = _events_mode_client(fake_models)
    sent = len(fake_models.requests)
    with kaizen_otel.agent_run("writer") as run:
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        with pytest.raises(BudgetExceededError):
            client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert len(fake_models.requests) == sent + 1
    assert run.tokens == INPUT_TOKENS + OUTPUT_TOKENS
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded", "llm_call_refused"]
