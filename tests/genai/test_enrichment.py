"""The enrichment processor on spans written with a plain tracer, as any instrumentation would."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind

from kaizen_otel.exceptions import BudgetExceededError
from kaizen_otel.genai import agent_run, configure_genai, enrichment, llm_call, usage_summary
from kaizen_otel.genai.enrichment import RecordGenAISpans
from tests.genai.conftest import make_settings

GPT_4O_MINI = 120 * 0.15e-6 + 30 * 0.6e-6


def _chat(tracer, attributes, name="chat gpt-4o-mini"):
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        return span


def _tracer(telemetry):
    return telemetry.tracer_provider.get_tracer("some.instrumentation")


def test_a_third_party_chat_span_gets_a_cost_and_counts_in_the_metrics(telemetry):
    _chat(
        _tracer(telemetry),
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
        },
    )
    (span,) = telemetry.finished()
    assert span.attributes["kaizen.cost.usd"] == pytest.approx(GPT_4O_MINI)
    (cost,) = telemetry.points("kaizen.cost")
    assert cost.value == pytest.approx(GPT_4O_MINI)
    assert sorted(p.sum for p in telemetry.points("gen_ai.client.token.usage")) == [30, 120]
    assert usage_summary()["llm_calls"] == 1


@pytest.mark.parametrize(
    "attributes",
    [
        {  # OpenInference (LangChain, LlamaIndex, smolagents)
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.model_name": "gpt-4o-mini",
            "llm.token_count.prompt": 120,
            "llm.token_count.completion": 30,
        },
        {  # OpenLLMetry, older attribute names
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 120,
            "gen_ai.usage.completion_tokens": 30,
        },
    ],
    ids=["openinference", "openllmetry"],
)
def test_neighbouring_conventions_are_mapped_to_the_same_cost_and_run_roll_up(telemetry, attributes):
    with agent_run("mapper") as run:
        _chat(_tracer(telemetry), attributes, name="llm")
    assert run.tokens == 150
    assert run.cost_usd == pytest.approx(GPT_4O_MINI)
    llm = telemetry.span("llm")
    assert llm.attributes["kaizen.cost.usd"] == pytest.approx(GPT_4O_MINI)


def test_an_openinference_agent_span_is_a_run_its_model_calls_roll_up_to(telemetry):
    tracer = _tracer(telemetry)
    with (
        tracer.start_as_current_span(
            "Agent", attributes={"openinference.span.kind": "AGENT", "agent.name": "oi"}
        ),
        tracer.start_as_current_span("step"),
    ):  # any span in between
        _chat(
            tracer,
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 120,
                "llm.token_count.completion": 30,
            },
        )
    agent = telemetry.span("Agent")
    assert agent.attributes["kaizen.run.tokens"] == 150
    runs = telemetry.points("kaizen.agent.runs")
    assert [dict(p.attributes)["gen_ai.agent.name"] for p in runs] == ["oi"]


def test_a_model_call_span_inside_another_is_counted_once_and_fills_the_outer_span(telemetry):
    tracer = _tracer(telemetry)
    with agent_run("a") as run, llm_call("openai", "gpt-4o-mini"):
        _chat(
            tracer,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.id": "r-1",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
            },
        )
    assert run.tokens == 150
    outer = [s for s in telemetry.finished() if s.instrumentation_scope.name == "kaizen_otel.genai"]
    chat = next(s for s in outer if s.name == "chat gpt-4o-mini")
    assert chat.attributes["gen_ai.response.id"] == "r-1"
    assert chat.attributes["kaizen.cost.usd"] == pytest.approx(GPT_4O_MINI)
    assert [p.count for p in telemetry.points("gen_ai.client.operation.duration")] == [1]


_DECLARED_AT_END = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "gpt-4o-mini",
    "llm.token_count.prompt": 120,
    "llm.token_count.completion": 30,
}


@pytest.mark.parametrize("child", [False, True], ids=["alone", "with-an-exported-child"])
def test_a_record_that_says_it_is_a_model_call_only_as_it_ends_is_hidden_unless_a_span_points_at_it(
    telemetry, child
):
    tracer = _tracer(telemetry)
    with (
        agent_run("a") as run,
        llm_call("openai", "gpt-4o-mini"),
        tracer.start_as_current_span("LLM") as theirs,
    ):
        if child:
            with tracer.start_as_current_span("POST"):
                pass
        theirs.set_attributes(_DECLARED_AT_END)
    assert run.tokens == 150
    assert [p.count for p in telemetry.points("gen_ai.client.operation.duration")] == [1]
    names = [s.name for s in telemetry.finished()]
    assert ("LLM" in names) is child  # kept only when the exported POST span points at it
    exported = {s.context.span_id for s in telemetry.finished()}
    assert all(s.parent is None or s.parent.span_id in exported for s in telemetry.finished())


def test_two_records_of_one_response_side_by_side_are_counted_once(telemetry):
    tracer = _tracer(telemetry)
    call = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.id": "msg-7",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
    }
    with agent_run("a") as run:
        _chat(tracer, call, name="sdk span")
        _chat(tracer, call, name="instrumentation span")
    assert run.tokens == 150
    assert "kaizen.cost.usd" not in telemetry.span("instrumentation span").attributes


def test_a_sampled_out_model_call_is_still_counted_but_not_exported(telemetry_factory):
    tele = telemetry_factory()
    provider = TracerProvider(sampler=RecordGenAISpans(ParentBased(ALWAYS_OFF)))
    provider.add_span_processor(SimpleSpanProcessor(exported := InMemorySpanExporter()))
    configure_genai(make_settings(), tracer_provider=provider, meter_provider=tele.meter_provider)
    _chat(
        provider.get_tracer("x"),
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 10,
        },
    )
    assert exported.get_finished_spans() == ()
    assert usage_summary()["input_tokens"] == 10


def test_content_written_by_an_instrumentation_is_removed_from_spans_and_events(telemetry):
    tracer = _tracer(telemetry)
    with tracer.start_as_current_span(
        "chat m",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": "secret prompt",
            "gen_ai.prompt.0.content": "secret too",
            "gen_ai.request.model": "m",
        },
    ) as span:
        span.add_event("gen_ai.choice", {"gen_ai.output.messages": "secret answer", "index": 0})
    (chat,) = telemetry.finished()
    assert "secret" not in str(dict(chat.attributes))
    assert dict(chat.events[0].attributes) == {"index": 0}
    assert chat.attributes["gen_ai.request.model"] == "m"


def test_content_stays_when_capture_is_on(telemetry_factory):
    tele = telemetry_factory(capture_message_content=True)
    _chat(_tracer(tele), {"gen_ai.operation.name": "chat", "gen_ai.input.messages": "kept"})
    assert tele.finished()[0].attributes["gen_ai.input.messages"] == "kept"


def test_an_enforced_budget_refuses_the_next_instrumented_call_at_its_span_start(telemetry_factory):
    tele = telemetry_factory(budget_run_tokens=100, budget_enforce=True)
    tracer = _tracer(tele)
    call = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 150,
    }
    with agent_run("a"):
        _chat(tracer, call)
        with pytest.raises(BudgetExceededError):
            _chat(tracer, call)
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded", "llm_call_refused"]


def test_followed_spans_are_capped_and_forgotten_on_reset(telemetry, monkeypatch):
    monkeypatch.setattr(enrichment, "OPEN_LIMIT", 2)
    tracer = _tracer(telemetry)
    with agent_run("a"), tracer.start_as_current_span("x"), tracer.start_as_current_span("y"):
        assert len(enrichment._open) == 2
    from kaizen_otel.testing import reset_globals

    with agent_run("b"):
        reset_globals()
        assert enrichment._open == {}


def test_a_streamed_call_through_the_helpers_records_time_to_first_and_per_chunk(telemetry):
    with llm_call("openai", "gpt-4o-mini") as call:
        for _ in range(5):
            call.chunk()
        call.record_usage(10, 5)
    chat = telemetry.span("chat gpt-4o-mini")
    assert chat.attributes["kaizen.response.chunks"] == 5
    assert chat.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    (first,) = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    (per_chunk,) = telemetry.points("gen_ai.client.operation.time_per_output_chunk")
    assert first.count == 1 and per_chunk.count == 1
    assert dict(first.attributes)["gen_ai.request.model"] == "gpt-4o-mini"


def test_a_third_party_time_to_first_chunk_attribute_is_measured(telemetry):
    _chat(
        _tracer(telemetry),
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "gen_ai.response.time_to_first_chunk": 0.05,
        },
    )
    (first,) = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.sum == pytest.approx(0.05)


def test_a_run_is_named_after_its_span_name_when_the_attribute_is_still_a_placeholder(telemetry):
    tracer = _tracer(telemetry)
    placeholder = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Some Agent"}
    with tracer.start_as_current_span("invoke_agent alpha", attributes=placeholder) as run:
        _chat(
            tracer,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
            },
        )
        run.set_attribute("gen_ai.agent.name", "alpha")
    (cost,) = telemetry.points("kaizen.cost")
    assert cost.attributes["gen_ai.agent.name"] == "alpha"
    (runs,) = telemetry.points("kaizen.agent.runs")
    assert runs.attributes["gen_ai.agent.name"] == "alpha"
    assert [p.attributes["gen_ai.agent.name"] for p in telemetry.points("kaizen.agent.active_runs")] == [
        "alpha"
    ]


def test_a_run_whose_span_is_named_otherwise_is_named_by_its_attribute(telemetry):
    tracer = _tracer(telemetry)
    with tracer.start_as_current_span(
        "agent run", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "beta"}
    ):
        pass
    (runs,) = telemetry.points("kaizen.agent.runs")
    assert runs.attributes["gen_ai.agent.name"] == "beta"


def test_a_client_span_is_paired_only_with_the_listed_wrapper_still_open_in_its_own_thread(telemetry):
    """The anthropic instrumentation's span is not current around the client's own span of the same
    call (``conventions.SIBLING_RECORDS``): paired, the call counts once. A wrapper that already
    ended, one opened in another thread, or a span of another scope pairs nothing."""
    import contextvars
    import threading

    provider = telemetry.tracer_provider
    wrapper = provider.get_tracer("opentelemetry.instrumentation.anthropic")
    client = provider.get_tracer("com.anthropic.sdk.python")
    bare = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic"}
    call = {**bare, "gen_ai.request.model": "claude-3-5-haiku", "gen_ai.usage.input_tokens": 120}
    elsewhere: list = []

    with agent_run("a") as run:
        paired = wrapper.start_span("anthropic.chat", attributes=bare)
        _chat(client, call, "client 1")
        paired.set_attribute("gen_ai.usage.input_tokens", 120)
        paired.end()
        wrapper.start_span("anthropic.chat", attributes=bare).end()  # ended: the next is another call
        _chat(client, call, "client 2")
        opener = threading.Thread(
            target=contextvars.copy_context().run,
            args=(lambda: elsewhere.append(wrapper.start_span("anthropic.chat", attributes=bare)),),
        )
        opener.start()
        opener.join()
        _chat(client, call, "client 3")
        other = _tracer(telemetry).start_span("chat", attributes=bare)
        _chat(client, call, "client 4")
        for span in (*elsewhere, other):
            span.end()
    assert run.tokens == 120 * 4  # the records left unpaired have no usage of their own
    assert usage_summary()["llm_calls"] == 1 + 2 + 2 + 2
    (client_1,) = [s for s in telemetry.finished() if s.name == "client 1"]
    assert client_1.attributes["kaizen.cost.usd"] == pytest.approx(120 * 0.8e-6)
