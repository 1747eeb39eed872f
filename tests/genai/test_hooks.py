"""Hook events, the manager, and the tracing, metrics and audit hooks."""

from __future__ import annotations

import asyncio
import threading
import time

from opentelemetry.trace import StatusCode

from kaizen_otel.genai import (
    AuditHook,
    HookContext,
    HookEvent,
    HookManager,
    HookResult,
    MetricsHook,
    TracingHook,
    agent_run,
    get_hook_manager,
    llm_call,
    tool_call,
)


def _ctx(event, agent="agent-1", trace_id="t1", at=None, **data):
    return HookContext(event, agent, trace_id, at if at is not None else time.time(), data)


def test_helpers_fire_pre_and_post_events_with_their_data(telemetry):
    seen: list[HookContext] = []
    get_hook_manager().register(None, seen.append)
    with agent_run("planner", agent_id="p-1"), llm_call("openai", "gpt-4o") as call:
        call.record_usage(10, 5)
    with agent_run("planner", agent_id="p-1"), tool_call("search", call_id="c1"):
        pass
    names = [c.event_name for c in seen]
    assert names == [
        "pre_agent_loop",
        "pre_llm_call",
        "post_llm_call",
        "post_agent_loop",
        "pre_agent_loop",
        "pre_tool_use",
        "post_tool_use",
        "post_agent_loop",
    ]
    post_llm = seen[2]
    assert post_llm.agent_id == "p-1" and post_llm.source == "helper"
    assert post_llm.data["input_tokens"] == 10 and post_llm.data["success"] is True
    assert post_llm.trace_id == format(telemetry.span("chat gpt-4o").context.trace_id, "032x")
    assert seen[6].data["call_id"] == "c1"


def test_async_helpers_await_async_hooks(telemetry):
    seen = []

    async def hook(context: HookContext) -> HookResult:
        await asyncio.sleep(0)
        seen.append(context.event_name)
        return HookResult()

    get_hook_manager().register(HookEvent.POST_TOOL_USE, hook)
    get_hook_manager().register(HookEvent.PRE_TOOL_USE, hook)

    async def main():
        async with tool_call("t"):
            pass

    asyncio.run(main())
    assert seen == ["pre_tool_use", "post_tool_use"]


def test_a_failing_hook_never_reaches_the_agent_and_is_counted(telemetry):
    def broken(context):
        raise RuntimeError("hook bug")

    get_hook_manager().register(HookEvent.PRE_TOOL_USE, broken)
    with tool_call("t"):
        pass
    results = get_hook_manager().trigger_sync(HookEvent.PRE_TOOL_USE, "a")
    assert results[0].success is False and "hook bug" in results[0].error
    (failures,) = telemetry.points("kaizen.hook.failures")
    assert failures.value == 2 and failures.attributes["kaizen.hook.event"] == "pre_tool_use"


def test_register_hook_uses_the_events_a_hook_declares():
    manager = HookManager()
    hook = TracingHook(events_to_trace=[HookEvent.PRE_TOOL_USE, HookEvent.POST_TOOL_USE])
    manager.register_hook(hook)
    assert manager.has_hooks(HookEvent.PRE_TOOL_USE)
    assert not manager.has_hooks(HookEvent.PRE_LLM_CALL)
    manager.unregister(hook)
    assert not manager.active


def test_tracing_hook_spans_last_from_pre_to_post_and_nest_under_the_agent_loop(telemetry):
    hook = TracingHook(tracer_provider=telemetry.tracer_provider)
    manager = HookManager()
    manager.register_hook(hook)
    manager.trigger_sync(_ctx(HookEvent.PRE_AGENT_LOOP, at=100.0))
    manager.trigger_sync(_ctx(HookEvent.PRE_TOOL_USE, at=101.0, tool_name="load_data"))
    manager.trigger_sync(_ctx(HookEvent.POST_TOOL_USE, at=103.5, tool_name="load_data", status="completed"))
    manager.trigger_sync(_ctx(HookEvent.POST_AGENT_LOOP, at=110.0))
    tool = telemetry.span("execute_tool load_data")
    agent = telemetry.span("invoke_agent agent-1")
    assert (tool.end_time - tool.start_time) / 1e9 == 2.5
    assert (agent.end_time - agent.start_time) / 1e9 == 10.0
    assert tool.parent.span_id == agent.context.span_id
    assert tool.attributes["kaizen.hook.data.status"] == "completed"


def test_tracing_hook_pairs_concurrent_calls_of_one_tool_by_call_id_across_threads(telemetry):
    hook = TracingHook(tracer_provider=telemetry.tracer_provider)
    manager = HookManager()
    manager.register_hook(hook)
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait()
        manager.trigger_sync(_ctx(HookEvent.PRE_TOOL_USE, at=1000.0 + i, tool_name="fetch", call_id=f"c{i}"))
        time.sleep(0.001)
        manager.trigger_sync(
            _ctx(
                HookEvent.POST_TOOL_USE,
                at=1000.0 + i + (i + 1) / 10,
                tool_name="fetch",
                call_id=f"c{i}",
                index=i,
            )
        )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = telemetry.finished()
    assert len(spans) == 8
    for span in spans:
        i = span.attributes["kaizen.hook.data.index"]
        assert span.start_time == int((1000.0 + i) * 1e9)
        assert abs((span.end_time - span.start_time) / 1e9 - (i + 1) / 10) < 1e-6
    assert hook.open_spans == 0


def test_tracing_hook_pairs_asyncio_tasks_without_leaking_between_them(telemetry):
    hook = TracingHook(tracer_provider=telemetry.tracer_provider)
    manager = HookManager()
    manager.register_hook(hook)

    async def agent(name: str) -> None:
        await manager.trigger(HookContext(HookEvent.PRE_AGENT_LOOP, name, None, time.time(), {}))
        for step in range(3):
            await manager.trigger(
                HookContext(HookEvent.PRE_TOOL_USE, name, None, time.time(), {"tool_name": "t"})
            )
            await asyncio.sleep(0)
            await manager.trigger(
                HookContext(
                    HookEvent.POST_TOOL_USE,
                    name,
                    None,
                    time.time(),
                    {"tool_name": "t", "owner": name, "step": step},
                )
            )
        await manager.trigger(HookContext(HookEvent.POST_AGENT_LOOP, name, None, time.time(), {}))

    async def main():
        await asyncio.gather(*(agent(f"a{i}") for i in range(5)))

    asyncio.run(main())
    spans = telemetry.finished()
    by_id = {s.context.span_id: s for s in spans}
    tools = [s for s in spans if s.name == "execute_tool t"]
    assert len(tools) == 15
    for tool in tools:
        assert (
            by_id[tool.parent.span_id].attributes["gen_ai.agent.id"]
            == tool.attributes["kaizen.hook.data.owner"]
        )


def test_a_pre_without_post_is_ended_and_flagged_at_shutdown(telemetry):
    hook = TracingHook(tracer_provider=telemetry.tracer_provider)
    hook.process(_ctx(HookEvent.PRE_TOOL_USE, tool_name="hang"))
    assert telemetry.finished() == []
    hook.shutdown()
    (span,) = telemetry.finished()
    assert span.attributes["kaizen.hook.unpaired"] == "pre_without_post"
    assert span.status.status_code is StatusCode.ERROR


def test_a_post_without_pre_gives_a_flagged_span(telemetry):
    hook = TracingHook(tracer_provider=telemetry.tracer_provider)
    hook.process(_ctx(HookEvent.POST_TOOL_USE, tool_name="orphan", success=False, error_type="Timeout"))
    (span,) = telemetry.finished()
    assert span.attributes["kaizen.hook.unpaired"] == "post_without_pre"
    assert span.attributes["error.type"] == "Timeout"


def test_tracing_hook_filters_events_and_skips_helper_events_by_default(telemetry):
    hook = TracingHook(
        tracer_provider=telemetry.tracer_provider,
        events_to_trace=[HookEvent.PRE_LLM_CALL, HookEvent.POST_LLM_CALL],
    )
    assert hook.process(_ctx(HookEvent.PRE_TOOL_USE, tool_name="x")).data == {"skipped": True}
    get_hook_manager().register_hook(hook)
    with llm_call("openai", "gpt-4o"):
        pass
    assert [s.name for s in telemetry.finished()] == ["chat gpt-4o"]  # the helper's span only


def test_source_style_async_handle_and_tracing_manager_argument(telemetry):
    class Manager:
        tracer = telemetry.tracer_provider.get_tracer("compat")

    hook = TracingHook(tracing_manager=Manager())

    async def main():
        await hook.handle(_ctx(HookEvent.PRE_TOOL_USE, at=5.0, operation="batch_processing"))
        await hook.handle(_ctx(HookEvent.POST_TOOL_USE, at=605.0, operation="batch_processing"))

    asyncio.run(main())
    (span,) = telemetry.finished()
    assert (span.end_time - span.start_time) / 1e9 == 600.0


def test_custom_pre_post_events_pair_by_name(telemetry):
    hook = TracingHook(tracer_provider=telemetry.tracer_provider)
    hook.process(_ctx("pre_checkpoint", at=1.0))
    hook.process(_ctx("post_checkpoint", at=3.0))
    hook.process(_ctx("heartbeat", at=4.0))
    names = [s.name for s in telemetry.finished()]
    assert names == ["checkpoint", "heartbeat"]


def test_metrics_hook_records_the_helpers_metrics_for_user_fired_pairs(telemetry):
    hook = MetricsHook()
    hook.process(_ctx(HookEvent.PRE_TOOL_USE, at=10.0, tool_name="grep"))
    hook.process(_ctx(HookEvent.POST_TOOL_USE, at=10.25, tool_name="grep"))
    hook.process(_ctx(HookEvent.PRE_LLM_CALL, at=20.0, provider="openai", model="gpt-4o"))
    hook.process(
        _ctx(
            HookEvent.POST_LLM_CALL,
            at=21.0,
            provider="openai",
            model="gpt-4o",
            input_tokens=9,
            output_tokens=4,
        )
    )
    (tool,) = telemetry.points("kaizen.tool.duration")
    assert tool.sum == 0.25 and tool.attributes["gen_ai.tool.name"] == "grep"
    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert duration.sum == 1.0
    assert sorted(p.sum for p in telemetry.points("gen_ai.client.token.usage")) == [4, 9]


def test_audit_hook_records_post_events_with_outcome_and_never_content(telemetry_factory):
    telemetry = telemetry_factory(capture_message_content=True)
    get_hook_manager().register_hook(AuditHook())
    with agent_run("auditor", agent_id="a-7"):
        with tool_call("rm", arguments={"path": "/secret"}):
            pass
        try:
            with tool_call("rm"):
                raise PermissionError
        except PermissionError:
            pass
    actions = [(r["action"], r["result"]) for r in telemetry.audit.records]
    assert actions == [
        ("post_tool_use", "success"),
        ("post_tool_use", "failure"),
        ("post_agent_loop", "success"),
    ]
    assert all(r["agent_id"] == "a-7" for r in telemetry.audit.records)
    assert "/secret" not in repr(telemetry.audit.records)
    assert telemetry.audit.records[1]["details"]["error_type"] == "PermissionError"
