"""OTLP over TLS and mutual TLS, with certificates from deploy/tls/generate-certs.sh.

The receiving ends are real: a gRPC server with TLS credentials (grpcio, the library the OTLP
exporter uses) and an HTTPS server, each accepting only TLS connections.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from kaizen_otel._internal.providers import otlp_exporter
from kaizen_otel._internal.settings import resolve
from kaizen_otel.exceptions import KaizenConfigError


def _span_names(request: Any) -> list[str]:
    return [span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.names: list[str] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.names += _span_names(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def _grpc_server(certs: Path, mutual: bool) -> tuple[grpc.Server, _Traces, int]:
    service = _Traces()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)
    credentials = grpc.ssl_server_credentials(
        [((certs / "collector.key").read_bytes(), (certs / "collector.crt").read_bytes())],
        root_certificates=(certs / "ca.crt").read_bytes() if mutual else None,
        require_client_auth=mutual,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, service, port


@pytest.fixture
def tls_collector(certs: Path) -> Iterator[tuple[_Traces, int]]:
    server, service, port = _grpc_server(certs, mutual=False)
    yield service, port
    server.stop(0)


@pytest.fixture
def mtls_collector(certs: Path) -> Iterator[tuple[_Traces, int]]:
    server, service, port = _grpc_server(certs, mutual=True)
    yield service, port
    server.stop(0)


def _send_span(overrides: dict[str, Any], name: str) -> bool:
    """Export one span through the exporter the settings build; True when the export succeeded."""
    exporter = otlp_exporter(resolve(overrides, environ={}).settings, "traces")
    results: list[Any] = []

    class Recording(SimpleSpanProcessor):
        def on_end(self, span: Any) -> None:
            results.append(exporter.export([span]))

    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(Recording(exporter))
    provider.get_tracer("tls-test").start_span(name).end()
    provider.shutdown()
    return bool(results) and results[0].name == "SUCCESS"


def test_generated_certificates_chain_to_the_generated_ca(certs: Path) -> None:
    verify = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(certs / "ca.crt"),
            str(certs / "collector.crt"),
            str(certs / "client.crt"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert (certs / "ca.key").stat().st_mode & 0o077 == 0  # the CA key is private


def test_a_certificate_turns_tls_on_even_for_an_http_grpc_endpoint(
    tls_collector: tuple[_Traces, int], certs: Path
) -> None:
    service, port = tls_collector
    ok = _send_span(
        {"otlp_endpoint": f"http://localhost:{port}", "otlp_certificate": str(certs / "ca.crt")},
        "over tls",
    )
    assert ok and service.names == ["over tls"]


def test_mutual_tls_sends_the_client_certificate(mtls_collector: tuple[_Traces, int], certs: Path) -> None:
    service, port = mtls_collector
    ok = _send_span(
        {
            "otlp_endpoint": f"https://localhost:{port}",
            "otlp_certificate": str(certs / "ca.crt"),
            "otlp_client_certificate": str(certs / "client.crt"),
            "otlp_client_key": str(certs / "client.key"),
        },
        "mutual",
    )
    assert ok and service.names == ["mutual"]


class _HTTPSCollector:
    def __init__(self, certs: Path) -> None:
        self.paths: list[str] = []
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                outer.paths.append(self.path)
                outer.bodies.append(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "collector.crt", certs / "collector.key")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_http_protobuf_with_a_certificate_uses_https_and_that_ca(
    certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would let a CA bundle in the environment replace the configured CA; it must not.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", requests.certs.where())
    collector = _HTTPSCollector(certs)
    try:
        ok = _send_span(
            {
                "otlp_endpoint": f"http://localhost:{collector.port}",
                "otlp_protocol": "http/protobuf",
                "otlp_certificate": str(certs / "ca.crt"),
            },
            "over https",
        )
    finally:
        collector.close()
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(collector.bodies[0])
    assert ok and collector.paths == ["/v1/traces"] and _span_names(request) == ["over https"]


def test_an_unreadable_certificate_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    settings = resolve(
        {"otlp_endpoint": "http://localhost:4317", "otlp_certificate": str(tmp_path / "missing.crt")},
        environ={},
    ).settings
    with pytest.raises(KaizenConfigError, match="otlp_certificate") as error:
        otlp_exporter(settings, "traces")
    assert "missing.crt" in str(error.value)


def test_a_client_certificate_without_its_key_is_a_config_error(certs: Path) -> None:
    settings = resolve(
        {
            "otlp_endpoint": "http://localhost:4317",
            "otlp_certificate": str(certs / "ca.crt"),
            "otlp_client_certificate": str(certs / "client.crt"),
        },
        environ={},
    ).settings
    with pytest.raises(KaizenConfigError, match="otlp_client_key"):
        otlp_exporter(settings, "traces")


def test_the_standard_environment_variables_set_the_certificates(certs: Path) -> None:
    settings = resolve(
        environ={
            "OTEL_EXPORTER_OTLP_CERTIFICATE": str(certs / "ca.crt"),
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(certs / "client.crt"),
            "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(certs / "client.key"),
        }
    ).settings
    assert settings.otlp_certificate == str(certs / "ca.crt")
    assert settings.otlp_client_certificate == str(certs / "client.crt")
    assert settings.otlp_client_key == str(certs / "client.key")
