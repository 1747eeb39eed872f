"""Spans of agent runs, LLM calls and tool calls, in the GenAI semantic conventions."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from kaizen_otel.genai import agent_run, llm_call, start_llm_call, start_tool_call, tool_call


def test_agent_run_llm_and_tool_calls_form_a_tree_named_by_the_conventions(telemetry):
    with agent_run("planner", agent_id="p-1", conversation_id="c-9") as run:
        with llm_call("openai", "gpt-4o-mini") as call:
            call.record_usage(input_tokens=120, output_tokens=30)
            call.set_response(model="gpt-4o-mini-2024-07-18", finish_reasons=["stop"], response_id="r-1")
        with tool_call("search", call_id="call-1"):
            pass
        run.log("planned")

    agent = telemetry.span("invoke_agent planner")
    chat = telemetry.span("chat gpt-4o-mini")
    tool = telemetry.span("execute_tool search")
    assert chat.parent.span_id == agent.context.span_id
    assert tool.parent.span_id == agent.context.span_id
    assert agent.parent is None
    assert chat.context.trace_id == agent.context.trace_id == tool.context.trace_id
    assert agent.kind is SpanKind.INTERNAL and chat.kind is SpanKind.CLIENT and tool.kind is SpanKind.INTERNAL
    assert dict(agent.attributes) | {} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "gen_ai.agent.id": "p-1",
        "gen_ai.conversation.id": "c-9",
        "gen_ai.provider.name": "openai",
        "kaizen.run.cost.usd": pytest.approx(120 * 0.15e-6 + 30 * 0.6e-6),
        "kaizen.run.tokens": 150,
        "kaizen.run.iterations": 0,
    }
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "openai"
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert chat.attributes["gen_ai.response.id"] == "r-1"
    assert tuple(chat.attributes["gen_ai.response.finish_reasons"]) == ("stop",)
    assert chat.attributes["gen_ai.usage.input_tokens"] == 120
    assert chat.attributes["gen_ai.usage.output_tokens"] == 30
    assert "gen_ai.system" not in chat.attributes and "gen_ai.usage.prompt_tokens" not in chat.attributes
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "search"
    assert tool.attributes["gen_ai.tool.call.id"] == "call-1"
    assert tool.attributes["gen_ai.agent.name"] == "planner"


def test_log_lines_of_an_invocation_carry_its_trace_and_span_ids(telemetry):
    with agent_run("planner") as run:
        run.log("step done", {"step": 1}, level="warning")
    agent = telemetry.span("invoke_agent planner")
    (record,) = telemetry.log_records()
    assert record.body == "step done"
    assert record.trace_id == agent.context.trace_id
    assert record.span_id == agent.context.span_id
    assert record.timestamp and record.timestamp > 0
    assert record.severity_text == "WARN"
    assert record.attributes["step"] == 1


def test_an_exception_inside_a_tool_call_is_recorded_and_reraised(telemetry):
    with pytest.raises(KeyError), agent_run("worker"), tool_call("lookup"):
        raise KeyError("missing")
    tool = telemetry.span("execute_tool lookup")
    agent = telemetry.span("invoke_agent worker")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["error.type"] == "KeyError"
    assert any(event.name == "exception" for event in tool.events)
    assert agent.attributes["error.type"] == "KeyError"
    assert agent.status.status_code is StatusCode.ERROR


def test_start_forms_end_with_stop_and_fail_and_ignore_a_second_end(telemetry):
    call = start_llm_call("anthropic", "claude-3-5-haiku", max_tokens=256, temperature=0.2)
    call.fail(TimeoutError("slow"))
    call.stop()
    tool = start_tool_call("shell")
    tool.fail("exit_code_1")
    spans = telemetry.finished()
    assert [s.name for s in spans] == ["chat claude-3-5-haiku", "execute_tool shell"]
    assert spans[0].attributes["error.type"] == "TimeoutError"
    assert spans[0].attributes["gen_ai.request.max_tokens"] == 256
    assert spans[0].attributes["gen_ai.request.temperature"] == 0.2
    assert spans[1].attributes["error.type"] == "exit_code_1"


def test_message_content_is_not_recorded_unless_capture_is_switched_on(telemetry_factory):
    telemetry = telemetry_factory(capture_message_content=False)
    messages = [{"role": "user", "content": "my secret question"}]
    with llm_call("openai", "gpt-4o", messages=messages) as call:
        call.set_output([{"role": "assistant", "content": "answer"}])
    with tool_call("search", arguments={"q": "secret"}) as tool:
        tool.set_result({"hits": 3})
    for span in telemetry.finished():
        assert not any(
            key in span.attributes
            for key in (
                "gen_ai.input.messages",
                "gen_ai.output.messages",
                "gen_ai.tool.call.arguments",
                "gen_ai.tool.call.result",
            )
        )


def test_message_content_is_recorded_as_json_when_capture_is_switched_on(telemetry_factory):
    telemetry = telemetry_factory(capture_message_content=True)
    messages = [{"role": "user", "content": "question"}]
    with llm_call("openai", "gpt-4o", messages=messages, system_instructions="be brief") as call:
        call.set_output([{"role": "assistant", "content": "answer"}])
    with tool_call("search", arguments={"q": "x"}) as tool:
        tool.set_result({"hits": 3})
    chat = telemetry.span("chat gpt-4o")
    assert json.loads(chat.attributes["gen_ai.input.messages"]) == messages
    assert json.loads(chat.attributes["gen_ai.output.messages"])[0]["content"] == "answer"
    assert chat.attributes["gen_ai.system_instructions"] == "be brief"
    tool_span = telemetry.span("execute_tool search")
    assert json.loads(tool_span.attributes["gen_ai.tool.call.arguments"]) == {"q": "x"}
    assert json.loads(tool_span.attributes["gen_ai.tool.call.result"]) == {"hits": 3}


def test_decorators_trace_sync_async_and_generator_functions(telemetry):
    @tool_call
    def add(a: int, b: int) -> int:
        return a + b

    @tool_call("fetch")
    async def fetch() -> str:
        await asyncio.sleep(0)
        return "ok"

    @agent_run("streamer")
    def stream():
        for i in range(3):
            with tool_call("chunk"):
                yield i

    @tool_call("astream")
    async def astream():
        for i in range(2):
            yield i

    @llm_call("openai", "gpt-4o")
    def ask() -> dict:
        return {"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}

    assert add(2, 3) == 5
    assert asyncio.run(fetch()) == "ok"
    assert list(stream()) == [0, 1, 2]

    async def consume():
        return [i async for i in astream()]

    assert asyncio.run(consume()) == [0, 1]
    ask()
    names = [s.name for s in telemetry.finished()]
    assert names.count("execute_tool chunk") == 3
    assert {
        "execute_tool add",
        "execute_tool fetch",
        "invoke_agent streamer",
        "execute_tool astream",
        "chat gpt-4o",
    } <= set(names)
    streamer = telemetry.span("invoke_agent streamer")
    for chunk in (s for s in telemetry.finished() if s.name == "execute_tool chunk"):
        assert chunk.parent.span_id == streamer.context.span_id
        assert chunk.attributes["gen_ai.agent.name"] == "streamer"
    chat = telemetry.span("chat gpt-4o")
    assert chat.attributes["gen_ai.usage.input_tokens"] == 7
    assert chat.attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"


def test_a_generator_does_not_leak_its_span_into_the_caller_between_items(telemetry):
    from opentelemetry import trace

    @agent_run("gen")
    def gen():
        yield 1
        yield 2

    iterator = gen()
    next(iterator)
    assert not trace.get_current_span().get_span_context().is_valid
    list(iterator)


def test_concurrent_asyncio_tasks_keep_their_own_parents(telemetry):
    async def agent(name: str) -> None:
        async with agent_run(name):
            for _ in range(3):
                async with tool_call(f"{name}-tool"):
                    await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(agent(f"a{i}") for i in range(4)))

    asyncio.run(main())
    spans = telemetry.finished()
    by_id = {s.context.span_id: s for s in spans}
    tools = [s for s in spans if s.name.startswith("execute_tool")]
    assert len(tools) == 12
    for tool in tools:
        parent = by_id[tool.parent.span_id]
        assert parent.name == "invoke_agent " + tool.name.split(" ")[1].removesuffix("-tool")
        assert tool.attributes["gen_ai.agent.name"] == parent.attributes["gen_ai.agent.name"]
