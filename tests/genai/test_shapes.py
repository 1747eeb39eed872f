"""Span names and attribute dicts cached per agent, tool and model: shared, never changed, bounded."""

from __future__ import annotations

import pytest

from kaizen_otel.genai import agent_run, llm_call, runtime, shapes, tool_call


def test_a_call_with_extra_attributes_does_not_change_the_cached_attributes_of_the_next(telemetry):
    with agent_run("planner", agent_id="p-1", conversation_id="c-1"):
        with tool_call("search", call_id="call-1", attributes={"team": "a"}):
            pass
        with tool_call("search"):
            pass
        with llm_call("openai", "gpt-4o", max_tokens=64):
            pass
        with llm_call("openai", "gpt-4o"):
            pass
    with agent_run("planner"):
        pass
    tools = [s for s in telemetry.finished() if s.name == "execute_tool search"]
    assert tools[0].attributes["gen_ai.tool.call.id"] == "call-1" and tools[0].attributes["team"] == "a"
    assert "gen_ai.tool.call.id" not in tools[1].attributes and "team" not in tools[1].attributes
    assert tools[1].attributes["gen_ai.agent.name"] == "planner"
    chats = [s for s in telemetry.finished() if s.name == "chat gpt-4o"]
    assert chats[0].attributes["gen_ai.request.max_tokens"] == 64
    assert "gen_ai.request.max_tokens" not in chats[1].attributes
    runs = [s for s in telemetry.finished() if s.name == "invoke_agent planner"]
    assert runs[0].attributes["gen_ai.agent.id"] == "p-1"
    assert "gen_ai.agent.id" not in runs[1].attributes and "gen_ai.conversation.id" not in runs[1].attributes


def test_a_tool_called_by_another_agent_gets_that_agents_name(telemetry):
    for agent in ("planner", "coder"):
        with agent_run(agent), tool_call("search"):
            pass
    names = [
        s.attributes["gen_ai.agent.name"] for s in telemetry.finished() if s.name == "execute_tool search"
    ]
    assert names == ["planner", "coder"]
    calls = telemetry.points("kaizen.tool.calls")
    assert {p.attributes["gen_ai.agent.name"] for p in calls} == {"planner", "coder"}


def test_a_response_model_other_than_the_request_model_is_priced_and_labelled_by_the_response(telemetry):
    with llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=1000, output_tokens=0)
        call.set_response(model="gpt-4o-mini")
    with llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=1000, output_tokens=0)
    pricing = runtime.current().pricing  # type: ignore[union-attr]
    mini = pricing.price("openai", "gpt-4o-mini").input * 1000
    full = pricing.price("openai", "gpt-4o").input * 1000
    chats = [s.attributes["kaizen.cost.usd"] for s in telemetry.finished()]
    assert chats == [pytest.approx(mini), pytest.approx(full)]
    durations = telemetry.points("gen_ai.client.operation.duration")
    assert {p.attributes.get("gen_ai.response.model") for p in durations} == {"gpt-4o-mini", None}


def test_the_caches_stop_growing_at_their_limit_and_calls_past_it_still_record(telemetry, monkeypatch):
    monkeypatch.setattr(shapes, "SHAPE_LIMIT", 2)
    for n in range(5):
        with agent_run(f"agent-{n}"), tool_call(f"tool-{n}"), llm_call("openai", f"model-{n}"):
            pass
    rt = runtime.current()
    assert rt is not None
    assert (len(rt.agent_shapes), len(rt.tool_shapes), len(rt.llm_shapes)) == (2, 2, 2)
    names = {s.name for s in telemetry.finished()}
    assert {"invoke_agent agent-4", "execute_tool tool-4", "chat model-4"} <= names
    assert len(telemetry.points("kaizen.tool.calls")) == 5
