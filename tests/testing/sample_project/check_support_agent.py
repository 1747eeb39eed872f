"""A user's tests: each uses the kaizen_telemetry fixture; they pass alone and in any order."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from support_agent import answer, log, register_audit_hook, search

import kaizen_otel
from kaizen_otel.exceptions import BudgetExceededError


def test_an_answer_is_one_agent_span_with_an_llm_and_a_tool_span(kaizen_telemetry):
    answer("what is otel?")
    assert sorted(kaizen_telemetry.span_names()) == [
        "chat gpt-4o",
        "execute_tool search",
        "invoke_agent support",
    ]


def test_the_tool_span_is_a_child_of_the_agent_span(kaizen_telemetry):
    answer("parent?")
    agent = kaizen_telemetry.span("invoke_agent support")
    tool = kaizen_telemetry.span("execute_tool search")
    assert tool.parent.span_id == agent.context.span_id


def test_token_usage_is_a_histogram_by_token_type(kaizen_telemetry):
    answer("tokens?", tokens=200)
    usage = kaizen_telemetry.value("gen_ai.client.token.usage", {"gen_ai.token.type": "input"})
    assert (usage.count, usage.sum) == (1, 200)


def test_tool_calls_are_counted_by_outcome(kaizen_telemetry):
    answer("a")
    answer("please fail")
    assert kaizen_telemetry.value("kaizen.tool.calls") == 2
    assert kaizen_telemetry.value("kaizen.tool.calls", {"kaizen.outcome": "error"}) == 1


def test_counters_start_from_zero_in_every_test(kaizen_telemetry):
    answer("once")
    assert kaizen_telemetry.value("kaizen.agent.runs") == 1


def test_clear_forgets_spans_logs_and_metrics(kaizen_telemetry):
    answer("before")
    kaizen_telemetry.clear()
    assert kaizen_telemetry.spans() == []
    assert kaizen_telemetry.logs() == []
    answer("after")
    assert kaizen_telemetry.value("kaizen.agent.runs") == 1


def test_a_failed_search_is_an_error_span_and_a_stdlib_warning(kaizen_telemetry):
    answer("this will fail")
    tool = kaizen_telemetry.span("execute_tool search")
    assert tool.status.status_code.name == "ERROR"
    assert "search failed for this will fail" in kaizen_telemetry.log_bodies()


def test_structured_logs_carry_the_context_and_the_trace(kaizen_telemetry):
    answer("context?", user="u-42")
    (record,) = [r.log_record for r in kaizen_telemetry.logs() if r.log_record.body == "question received"]
    assert record.attributes["user_id"] == "u-42"
    assert record.trace_id == kaizen_telemetry.span("invoke_agent support").context.trace_id


def test_logger_context_does_not_leak_from_another_test(kaizen_telemetry):
    assert log.get_context() == {}


def test_secrets_in_logs_are_redacted_before_any_exporter(kaizen_telemetry):
    logging.getLogger("support_agent").warning("token=sk-abcdefghijklmnopqrstuvwxyz012345")
    (body,) = kaizen_telemetry.log_bodies()
    assert "sk-abcdef" not in body


@pytest.mark.kaizen_otel(redaction_enabled=False)
def test_a_marker_turns_redaction_off_for_one_test(kaizen_telemetry):
    logging.getLogger("support_agent").warning("token=sk-abcdefghijklmnopqrstuvwxyz012345")
    assert "sk-abcdefghijklmnopqrstuvwxyz012345" in kaizen_telemetry.log_bodies()[0]


@pytest.mark.kaizen_otel(budget_run_tokens=100, budget_enforce=True)
def test_an_enforced_budget_refuses_the_next_llm_call(kaizen_telemetry):
    from kaizen_otel.genai import agent_run, llm_call

    with pytest.raises(BudgetExceededError), agent_run("spender"):
        for _ in range(3):
            with llm_call("openai", "gpt-4o") as call:
                call.record_usage(input_tokens=80, output_tokens=0)
    assert kaizen_telemetry.value("kaizen.budget.exceeded") >= 1


def test_without_a_budget_the_same_calls_all_go_through(kaizen_telemetry):
    from kaizen_otel.genai import agent_run, llm_call

    with agent_run("spender"):
        for _ in range(3):
            with llm_call("openai", "gpt-4o") as call:
                call.record_usage(input_tokens=80, output_tokens=0)
    assert kaizen_telemetry.value("gen_ai.client.token.usage", {"gen_ai.token.type": "input"}).count == 3
    assert "kaizen.budget.exceeded" not in kaizen_telemetry.metrics()
    assert kaizen_telemetry.settings.budget_enforce is False


def test_a_registered_hook_sees_the_agent_events(kaizen_telemetry):
    events = register_audit_hook([])
    answer("hooks")
    assert "pre_agent_loop" in events and "post_tool_use" in events


def test_no_hook_from_another_test_is_still_registered(kaizen_telemetry):
    from kaizen_otel.genai import get_hook_manager

    assert get_hook_manager().hooks == ()


@pytest.mark.kaizen_otel(deterministic=True)
def test_deterministic_ids_and_clock_make_a_stable_snapshot(kaizen_telemetry):
    answer("snapshot")
    snapshot = [
        (s.name, s.context.trace_id, s.context.span_id, s.start_time, s.end_time)
        for s in kaizen_telemetry.spans()
    ]
    assert snapshot == [
        ("chat gpt-4o", 1, 2, 3_000_000_000, 4_000_000_000),
        ("execute_tool search", 1, 3, 5_000_000_000, 6_000_000_000),
        ("invoke_agent support", 1, 1, 1_000_000_000, 7_000_000_000),
    ]


@pytest.mark.kaizen_otel(service_name="billing")
def test_the_service_name_comes_from_the_marker(kaizen_telemetry):
    answer("who?")
    assert kaizen_telemetry.span("invoke_agent support").resource.attributes["service.name"] == "billing"


@pytest.mark.kaizen_otel(enable_audit=True)
def test_the_audit_trail_writes_to_a_temporary_folder(kaizen_telemetry):
    kaizen_telemetry.audit.record("support-1", "refund", details={"amount": 5})
    assert "kaizen-otel-test-audit-" in kaizen_telemetry.settings.audit_path


def test_no_audit_trail_unless_asked(kaizen_telemetry):
    assert kaizen_telemetry.audit is None


def test_configure_inside_a_test_returns_the_captured_pipeline(kaizen_telemetry):
    handle = kaizen_otel.configure()
    assert handle is kaizen_telemetry.observability


def test_a_test_that_configures_for_real_without_the_fixture():
    handle = kaizen_otel.configure(prometheus_port=0, logs_exporter="none", service_name="real")
    assert handle.metrics_url is not None
    answer("real")  # leaves a configured process behind for whatever runs next


def test_no_span_is_current_at_the_start_of_a_test(kaizen_telemetry):
    assert not trace.get_current_span().get_span_context().is_valid


def test_an_absence_is_checked_against_a_working_pipeline(kaizen_telemetry):
    search("quiet")
    assert kaizen_telemetry.span_names() == ["execute_tool search"]
    assert "kaizen.agent.runs" not in kaizen_telemetry.metrics()


def test_helpers_work_in_sequence_after_a_test_without_telemetry(kaizen_telemetry):
    answer("again")
    assert len(kaizen_telemetry.spans()) == 3


def test_the_process_metrics_are_read_as_plain_values(kaizen_telemetry):
    assert kaizen_telemetry.value("process.memory.usage") > 0
