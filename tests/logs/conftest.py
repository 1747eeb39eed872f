"""Real SDK providers with in-memory exporters; the global logger provider is reset after each test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry._logs import _internal as logs_internal
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.util._once import Once

from kaizen_otel.logging import reset_logging


def reset_global_logger_provider() -> None:
    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()
    logs_internal._LOGGER_PROVIDER = None


@dataclass
class Logs:
    provider: LoggerProvider
    exporter: InMemoryLogRecordExporter

    def records(self) -> list[ReadableLogRecord]:
        return list(self.exporter.get_finished_logs())

    def bodies(self) -> list[object]:
        return [r.log_record.body for r in self.records()]


@pytest.fixture
def local_logs() -> Iterator[Logs]:
    """A LoggerProvider exporting synchronously to memory, not installed globally."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield Logs(provider, exporter)
    provider.shutdown()


@pytest.fixture
def logs(local_logs: Logs) -> Iterator[Logs]:
    """``local_logs`` installed as the global LoggerProvider for the test."""
    reset_global_logger_provider()
    set_logger_provider(local_logs.provider)
    try:
        yield local_logs
    finally:
        reset_logging()
        reset_global_logger_provider()


@pytest.fixture
def tracer() -> Iterator[Tracer]:
    provider = TracerProvider(shutdown_on_exit=False)
    yield provider.get_tracer("tests.logs")
    provider.shutdown()
