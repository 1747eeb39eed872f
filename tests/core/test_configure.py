"""configure(): one handle per process, the embedded defaults, shutdown, the HTTP server."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import urllib.error
import urllib.request

import pytest
from opentelemetry import metrics, trace

import kaizen_otel
from kaizen_otel import KaizenConfigError

DEFAULT_PROMETHEUS_PORT = 9464


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def obs(clean_env: pytest.MonkeyPatch):
    handle = kaizen_otel.configure(prometheus_port=0, service_name="test-agent")
    yield handle
    handle.shutdown()


def test_configure_installs_the_three_global_providers(obs: kaizen_otel.Observability) -> None:
    assert trace.get_tracer_provider() is obs.tracer_provider
    assert metrics.get_meter_provider() is obs.meter_provider
    from opentelemetry import _logs

    assert _logs.get_logger_provider() is obs.logger_provider


def test_a_second_configure_returns_the_same_handle_and_says_so(
    obs: kaizen_otel.Observability, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kaizen_otel"):
        again = kaizen_otel.configure(service_name="other")
    assert again is obs
    assert "already configured (by configure())" in caplog.text
    assert "ignoring the new settings: service_name" in caplog.text


def test_shutdown_is_safe_to_call_twice(obs: kaizen_otel.Observability) -> None:
    obs.shutdown()
    obs.shutdown()
    assert obs.closed
    assert kaizen_otel.get_observability() is None


def test_metrics_are_served_on_the_prometheus_endpoint(obs: kaizen_otel.Observability) -> None:
    counter = metrics.get_meter("test").create_counter("kaizen.test.requests")
    counter.add(3, {"route": "chat"})
    status, body = _get(obs.metrics_url)
    assert status == 200
    assert 'kaizen_test_requests_total{route="chat"} 3.0' in body
    assert 'service_name="test-agent"' in body


def test_metrics_registered_with_prometheus_client_are_served_too(
    obs: kaizen_otel.Observability,
) -> None:
    from prometheus_client import Counter

    legacy = Counter("legacy_jobs", "Jobs counted with prometheus-client")
    try:
        legacy.inc(2)
        assert "legacy_jobs_total 2.0" in _get(obs.metrics_url)[1]
    finally:
        from prometheus_client import REGISTRY

        REGISTRY.unregister(legacy)


def test_healthz_answers_ok_and_readyz_reports_ready(obs: kaizen_otel.Observability) -> None:
    assert obs.health_url is not None
    assert _get(obs.health_url) == (200, "ok\n")
    status, body = _get(obs.metrics_url.replace("/metrics", "/readyz"))
    assert status == 200
    assert json.loads(body) == {"ready": True, "reasons": []}


def test_readyz_turns_unready_while_an_exporter_fails(obs: kaizen_otel.Observability) -> None:
    obs._pipeline.stats.record_export("traces", 5, ok=False)
    status, body = _get(obs.metrics_url.replace("/metrics", "/readyz"))
    assert status == 503
    assert json.loads(body) == {"ready": False, "reasons": ["traces exporter failing"]}
    obs._pipeline.stats.record_export("traces", 1, ok=True)
    assert _get(obs.metrics_url.replace("/metrics", "/readyz"))[0] == 200


def test_a_taken_port_is_a_clear_error_naming_host_and_port(clean_env: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(KaizenConfigError) as caught:
            kaizen_otel.configure(prometheus_host="127.0.0.1", prometheus_port=port)
    assert str(caught.value) == (
        f"invalid value for prometheus_port (from argument): {port}; expected a port that is "
        f"free on 127.0.0.1 (port {port} on 127.0.0.1 is already in use; 0 picks a free port; "
        "pre-fork workers share one port with PROMETHEUS_MULTIPROC_DIR, see docs/operations.md)"
    )
    assert kaizen_otel.get_observability() is None


def test_a_taken_default_port_leaves_the_application_running_with_the_endpoint_off(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A second agent on the same machine, both on the defaults: the second one must still start."""
    with contextlib.ExitStack() as stack:
        try:
            taken = stack.enter_context(socket.socket())
            taken.bind(("0.0.0.0", DEFAULT_PROMETHEUS_PORT))
            taken.listen()
        except OSError:
            pass  # already held by another process: taken all the same
        handle = kaizen_otel.configure()
    try:
        assert handle.metrics_url is None
        assert handle.tracer_provider is not None
        problem = next(p for p in handle.problems if "already in use" in p)
        assert f"port {DEFAULT_PROMETHEUS_PORT}" in problem and "0 picks a free port" in problem
        assert any("Prometheus endpoint disabled" in r.getMessage() for r in caplog.records)
    finally:
        handle.shutdown()


def test_under_auto_instrumentation_a_taken_port_disables_only_the_endpoint(
    clean_env: pytest.MonkeyPatch,
) -> None:
    from kaizen_otel._internal.setup import configure_once

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        handle = configure_once(
            {"prometheus_host": "127.0.0.1", "prometheus_port": port},
            strict=False,
            origin="opentelemetry-instrument",
        )
    assert handle.metrics_url is None
    assert handle.tracer_provider is not None
    assert any("already in use" in problem for problem in handle.problems)
    handle.shutdown()


def test_sdk_disabled_installs_no_provider(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_SDK_DISABLED", "true")
    handle = kaizen_otel.configure()
    assert handle.tracer_provider is None and handle.metrics_url is None
    assert not trace.get_tracer_provider().get_tracer("x").start_span("s").is_recording()


def test_configure_after_shutdown_says_why_it_cannot(obs: kaizen_otel.Observability) -> None:
    obs.shutdown()
    with pytest.raises(kaizen_otel.KaizenError, match="set only once per process"):
        kaizen_otel.configure()


def test_a_provider_installed_by_someone_else_is_left_in_place(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    theirs = TracerProvider()
    trace.set_tracer_provider(theirs)
    with caplog.at_level(logging.WARNING, logger="kaizen_otel"):
        handle = kaizen_otel.configure(prometheus_port=0)
    assert trace.get_tracer_provider() is theirs
    assert "a global TracerProvider (TracerProvider) was already installed" in caplog.text
    handle.shutdown()


def test_the_resource_names_the_service_and_the_distro(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=agents")
    handle = kaizen_otel.configure(prometheus_port=0, service_name="svc", environment="prod")
    attributes = handle.tracer_provider.resource.attributes
    assert attributes["service.name"] == "svc"
    assert attributes["deployment.environment.name"] == "prod"
    assert attributes["team"] == "agents"
    assert attributes["telemetry.distro.name"] == "kaizen_otel"
    handle.shutdown()


def test_the_sampler_follows_the_settings(clean_env: pytest.MonkeyPatch) -> None:
    handle = kaizen_otel.configure(prometheus_port=0, traces_sampler="always_off")
    span = trace.get_tracer("t").start_span("dropped")
    assert not span.is_recording()
    handle.shutdown()


def test_a_forked_child_keeps_its_providers_but_does_not_claim_the_endpoint(
    obs: kaizen_otel.Observability,
) -> None:
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports what it sees, then leaves without running atexit hooks
        child = kaizen_otel.get_observability()
        answer = f"{child is obs}:{child.metrics_url}:{child.tracer_provider is not None}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 200).decode()
    os.waitpid(pid, 0)
    assert answer == "True:None:True"
    assert _get(obs.health_url)[0] == 200
