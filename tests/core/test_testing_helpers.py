"""kaizen_otel.testing: the real pipeline with in-memory exporters, and a reset that forgets everything."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import metrics, trace

import kaizen_otel
from kaizen_otel._internal import resets
from kaizen_otel.exceptions import BudgetExceededError
from kaizen_otel.genai import agent_run, get_hook_manager, llm_call, tool_call
from kaizen_otel.testing import HistogramValue, capture_telemetry, reset_globals


def _one_step() -> None:
    with agent_run("planner"), llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=10, output_tokens=4)
    with tool_call("search"):
        pass


def test_capture_records_spans_metrics_and_logs_of_the_helpers() -> None:
    with capture_telemetry() as captured:
        log = kaizen_otel.get_logger("t")
        with trace.get_tracer("t").start_as_current_span("invoke_agent planner"):
            metrics.get_meter("t").create_counter("kaizen.test.steps").add(1)
            log.info("planned", steps=3)
        assert [span.name for span in captured.spans()] == ["invoke_agent planner"]
        assert captured.metrics()["kaizen.test.steps"] == {(): 1}
        (record,) = captured.logs()
        assert record.log_record.body == "planned"
        assert record.log_record.attributes["steps"] == 3


def test_two_captures_in_a_row_both_see_the_helpers_spans_and_metrics() -> None:
    for _ in range(2):
        with capture_telemetry() as captured:
            _one_step()
            assert len(captured.spans()) == 3
            assert captured.value("kaizen.tool.calls") == 1
            usage = captured.value("gen_ai.client.token.usage", {"gen_ai.token.type": "input"})
            assert isinstance(usage, HistogramValue) and (usage.count, usage.sum) == (1, 10)


def test_a_budget_setting_of_one_capture_does_not_reach_the_next() -> None:
    enforced = capture_telemetry(budget_run_tokens=5, budget_enforce=True)
    with enforced, pytest.raises(BudgetExceededError), agent_run("a"):
        for _ in range(2):
            with llm_call("openai", "gpt-4o") as call:
                call.record_usage(input_tokens=10, output_tokens=0)
    with capture_telemetry() as captured:
        with agent_run("a"):
            for _ in range(2):
                with llm_call("openai", "gpt-4o") as call:
                    call.record_usage(input_tokens=10, output_tokens=0)
        assert captured.value("gen_ai.client.token.usage", {"gen_ai.token.type": "input"}).count == 2


def test_clear_forgets_metrics_too() -> None:
    with capture_telemetry() as captured:
        _one_step()
        captured.clear()
        assert captured.spans() == [] and captured.logs() == []
        assert "kaizen.tool.calls" not in captured.metrics()
        _one_step()
        assert captured.value("kaizen.tool.calls") == 1


def test_value_of_a_metric_never_recorded_fails_loudly() -> None:
    with (
        capture_telemetry() as captured,
        pytest.raises(AssertionError, match=r"no metric 'kaizen\.tool\.calz'"),
    ):
        captured.value("kaizen.tool.calz")


def test_the_capture_redacts_and_bridges_stdlib_logging_like_production() -> None:
    with capture_telemetry() as captured:
        logging.getLogger("app").warning("password=hunter2-hunter2")
        (body,) = captured.log_bodies()
        assert "hunter2" not in body


def test_the_capture_opens_no_port_and_exports_nothing(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    with capture_telemetry() as captured:
        assert captured.observability.metrics_url is None
        assert captured.settings.traces_exporter == ("none",)
        assert captured.settings.logs_exporter == ("none",)


def test_hooks_and_logger_context_are_forgotten_by_the_reset() -> None:
    with capture_telemetry():
        get_hook_manager().register_hook(lambda context: None)
        kaizen_otel.get_logger("ctx").add_context(user="u1")
    assert get_hook_manager().hooks == ()
    assert kaizen_otel.get_logger("ctx").get_context() == {}


def test_registered_module_state_is_reset() -> None:
    store = {"runs": [1, 2]}
    resets.on_reset("tests.store", store["runs"].clear)
    reset_globals()
    assert store["runs"] == []


def test_deterministic_capture_numbers_ids_and_ticks_the_clock() -> None:
    with capture_telemetry(deterministic=True) as captured:
        tracer = trace.get_tracer("t")
        with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner"):
            pass
        inner, outer = captured.spans()
        assert (outer.context.trace_id, outer.context.span_id, inner.context.span_id) == (1, 1, 2)
        assert (outer.start_time, inner.start_time, inner.end_time, outer.end_time) == (
            1_000_000_000,
            2_000_000_000,
            3_000_000_000,
            4_000_000_000,
        )


def test_after_the_block_the_process_can_configure_again(clean_env: pytest.MonkeyPatch) -> None:
    with capture_telemetry():
        pass
    obs = kaizen_otel.configure(prometheus_port=0)
    assert trace.get_tracer_provider() is obs.tracer_provider
    obs.shutdown()
