"""TracingManager and TracingHook against a real OTLP receiver (rotel) standing in for Jaeger."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

import kaizen_otel
from kaizen_otel import (
    HookContext,
    HookEvent,
    HookManager,
    HookResult,
    KaizenConfigError,
    TracingHook,
    TracingManager,
)
from tests.testbed.servers import Rotel

STATUS_OK, STATUS_ERROR = 1, 2


def _service() -> str:
    return f"tracing-{uuid.uuid4().hex[:8]}"


def _spans(rotel: Rotel, service: str, count: int = 1, timeout: float = 10) -> list[dict]:
    return rotel.wait_for(
        lambda r: r["signal"] == "span" and r["service_name"] == service, timeout=timeout, count=count
    )


def _manager(rotel: Rotel, service: str, **options: object) -> TracingManager:
    return TracingManager(service, jaeger_host="127.0.0.1", jaeger_port=rotel.grpc_port, **options)  # type: ignore[arg-type]


def test_spans_from_hook_contexts_reach_the_receiver_with_their_attributes(rotel: Rotel) -> None:
    service = _service()
    manager = _manager(rotel, service)
    pre = HookContext(HookEvent.PRE_TOOL_USE, "agent-7", data={"tool_name": "search", "query": "otel"})
    parent = manager.create_span_from_context(pre)
    child = manager.create_span_from_context(HookContext("custom_step", "agent-7"), parent_span=parent)
    manager.update_span_from_result(child, HookResult(success=True, duration_ms=3.5))
    child.end()
    parent.end()
    assert manager.force_flush(timeout=10)

    spans = {s["name"]: s for s in _spans(rotel, service, count=2)}
    tool, step = spans["pre_tool_use"], spans["custom_step"]
    assert step["parent_span_id"] == tool["span_id"] and step["trace_id"] == tool["trace_id"]
    assert tool["attributes"]["gen_ai.agent.id"] == "agent-7"
    assert tool["attributes"]["kaizen.hook.data.tool_name"] == "search"
    assert tool["start_time_unix_nano"] == int(pre.timestamp * 1e9)
    assert step["status"]["code"] == STATUS_OK and step["attributes"]["kaizen.hook.duration_ms"] == 3.5
    manager.shutdown()


def test_failures_and_exceptions_mark_the_span_as_an_error(rotel: Rotel) -> None:
    service = _service()
    manager = _manager(rotel, service)
    failed = manager.create_span_from_context(HookContext("post_llm_call", "agent"))
    manager.update_span_from_result(failed, HookResult(success=False, error="TimeoutError('slow')"))
    failed.end()
    raised = manager.create_span_from_context(HookContext("post_tool_use", "agent"))
    manager.record_exception(raised, ValueError("bad input"))
    raised.end()
    manager.shutdown(timeout=10)  # exports what is pending

    spans = {s["name"]: s for s in _spans(rotel, service, count=2)}
    assert spans["post_llm_call"]["status"]["code"] == STATUS_ERROR
    assert spans["post_llm_call"]["attributes"]["error.type"] == "TimeoutError"
    tool = spans["post_tool_use"]
    assert tool["status"]["code"] == STATUS_ERROR and tool["attributes"]["error.type"] == "ValueError"
    assert tool["events"][0]["name"] == "exception"


def test_the_batch_timeout_is_how_often_spans_leave_without_a_flush(rotel: Rotel) -> None:
    service = _service()
    manager = _manager(rotel, service, batch_size=64, batch_timeout_ms=50, max_export_batch_size=8)
    for index in range(20):
        manager.tracer.start_span(f"step-{index}").end()
    assert len(_spans(rotel, service, count=20, timeout=10)) == 20  # no force_flush called
    manager.shutdown()


def test_managers_naming_one_endpoint_share_one_exporter(rotel: Rotel) -> None:
    service = _service()
    first = _manager(rotel, service)
    second = _manager(rotel, "other-agent")
    second.tracer.start_span("once").end()
    first.force_flush()
    second.force_flush()
    time.sleep(0.3)
    assert [s["name"] for s in _spans(rotel, service)] == ["once"]
    (span,) = _spans(rotel, service)
    assert span["attributes"]["gen_ai.agent.name"] == "other-agent"  # not the process's service name
    first.shutdown()
    second.shutdown()
    third = _manager(rotel, service)  # after every user left, the exporter is reused, not re-added
    third.tracer.start_span("again").end()
    third.shutdown()
    time.sleep(0.3)
    assert sorted(s["name"] for s in _spans(rotel, service, count=2)) == ["again", "once"]


def test_an_endpoint_the_pipeline_already_exports_to_is_not_added_twice(
    rotel: Rotel, compat_env: pytest.MonkeyPatch
) -> None:
    for name, value in rotel.otlp_env("grpc").items():
        compat_env.setenv(name, value)
    service = _service()
    kaizen_otel.configure(service_name=service)
    default = TracingManager(service)  # jaeger_host=None: the configured endpoint
    explicit = _manager(rotel, service)
    assert default.endpoint == explicit.endpoint == f"127.0.0.1:{rotel.grpc_port}"
    default.tracer.start_span("single").end()
    handle = kaizen_otel.get_observability()
    assert handle is not None and handle.force_flush()
    time.sleep(0.3)
    assert [s["name"] for s in _spans(rotel, service)] == ["single"]


def test_the_tracing_hook_turns_filtered_pre_post_pairs_into_spans(rotel: Rotel) -> None:
    service = _service()
    manager = _manager(rotel, service)
    hook = TracingHook(
        tracing_manager=manager, events_to_trace=[HookEvent.PRE_TOOL_USE, HookEvent.POST_TOOL_USE]
    )
    hooks = HookManager()
    hooks.register_hook(hook)

    async def agent_loop() -> None:
        await hooks.trigger(HookEvent.PRE_AGENT_LOOP, "agent-1")
        await hooks.trigger(HookEvent.PRE_TOOL_USE, "agent-1", {"tool_name": "load_data"})
        await asyncio.sleep(0.02)
        await hooks.trigger(HookEvent.POST_TOOL_USE, "agent-1", {"tool_name": "load_data"})
        await hooks.trigger(HookEvent.POST_AGENT_LOOP, "agent-1")

    asyncio.run(agent_loop())
    manager.force_flush()
    (span,) = _spans(rotel, service)
    assert span["name"] == "execute_tool load_data"
    assert span["end_time_unix_nano"] - span["start_time_unix_nano"] >= 20_000_000
    manager.shutdown()


def test_bad_arguments_name_the_parameter() -> None:
    with pytest.raises(KaizenConfigError, match="jaeger_port"):
        TracingManager("svc", jaeger_port=70000)
    with pytest.raises(KaizenConfigError, match="max_export_batch_size"):
        TracingManager("svc", batch_size=10, max_export_batch_size=20)
    with pytest.raises(KaizenConfigError, match="insecure"):
        TracingManager("svc", insecure="no")  # type: ignore[arg-type]


class _TLSCollector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver that accepts TLS connections only."""

    def __init__(self, certs: Path) -> None:
        self.names: list[str] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        key, chain = (certs / "collector.key").read_bytes(), (certs / "collector.crt").read_bytes()
        self.port = self.server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, chain)]))
        self.server.start()

    def Export(self, request: Any, context: Any) -> Any:  # the gRPC service's method name
        self.names += [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
        return trace_service_pb2.ExportTraceServiceResponse()


def test_insecure_false_speaks_tls_verified_with_the_configured_ca(
    certs: Path, compat_env: pytest.MonkeyPatch
) -> None:
    collector = _TLSCollector(certs)
    try:
        compat_env.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(certs / "ca.crt"))
        manager = TracingManager(
            _service(), jaeger_host="localhost", jaeger_port=collector.port, insecure=False
        )
        manager.tracer.start_span("over tls").end()
        assert manager.force_flush(timeout=10)
        assert collector.names == ["over tls"]
        manager.shutdown()
    finally:
        collector.server.stop(0)


def test_a_hanging_receiver_makes_flush_report_failure_and_cleanup_end_at_the_shutdown_limit(
    compat_env: pytest.MonkeyPatch,
) -> None:
    import socket

    compat_env.setenv("KAIZEN_OTEL_SHUTDOWN_TIMEOUT_MS", "300")
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)  # accepts connections, never answers
    try:
        obs = kaizen_otel.ObservabilityManager(
            _service(), enable_audit=False, jaeger_host="127.0.0.1", jaeger_port=hole.getsockname()[1]
        )
        tracing = obs.get_tracing_manager()
        assert tracing is not None
        tracing.tracer.start_span("stuck").end()
        assert tracing.force_flush(timeout=0.3) is False
        obs.shutdown()  # bounded by shutdown_timeout_ms, not the documents' 30 s
        assert obs.closed
    finally:
        hole.close()


def test_the_number_of_endpoints_is_capped(rotel: Rotel, monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_otel.compat import tracing as compat_tracing

    monkeypatch.setattr(compat_tracing, "MAX_ENDPOINTS", 1)
    first = _manager(rotel, _service())
    again = _manager(rotel, "same-endpoint")  # the one in use: shared, not counted twice
    with pytest.raises(KaizenConfigError, match="one of the 1 endpoints in use"):
        TracingManager("svc", jaeger_host="127.0.0.1", jaeger_port=rotel.http_port)
    first.shutdown()
    again.shutdown()
