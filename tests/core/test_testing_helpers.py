"""kaizen_otel.testing: in-memory capture for users' tests, and a reset between tests."""

from __future__ import annotations

from opentelemetry import metrics, trace

import kaizen_otel
from kaizen_otel.testing import capture_telemetry


def test_capture_records_spans_metrics_and_logs_of_the_helpers() -> None:
    with capture_telemetry() as captured:
        log = kaizen_otel.get_logger("t")
        with trace.get_tracer("t").start_as_current_span("invoke_agent planner"):
            metrics.get_meter("t").create_counter("kaizen.test.steps").add(1)
            log.info("planned", steps=3)
        assert [span.name for span in captured.spans()] == ["invoke_agent planner"]
        assert captured.metrics()["kaizen.test.steps"][0].value == 1
        (record,) = captured.logs()
        assert record.log_record.body == "planned"
        assert record.log_record.attributes["steps"] == 3


def test_after_the_block_the_process_can_configure_again(clean_env) -> None:
    with capture_telemetry():
        pass
    obs = kaizen_otel.configure(prometheus_port=0)
    assert trace.get_tracer_provider() is obs.tracer_provider
    obs.shutdown()
