"""Fixtures: real SDK providers with in-memory exporters, handed to the agent helpers explicitly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kaizen_otel._internal.settings import Settings, resolve
from kaizen_otel.genai import configure_genai, get_hook_manager, reset_genai


class FakeAudit:
    """Stands in for the audit trail: keeps what ``record()`` was given."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(
        self,
        agent_id: str,
        action: str,
        details: Any = None,
        result: str = "success",
        user_id: str | None = None,
        metadata: Any = None,
    ) -> None:
        self.records.append(
            {
                "agent_id": agent_id,
                "action": action,
                "details": details or {},
                "result": result,
                "user_id": user_id,
                "metadata": metadata,
            }
        )


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs: InMemoryLogRecordExporter
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    audit: FakeAudit

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def span(self, name: str) -> Any:
        matches = [s for s in self.finished() if s.name == name]
        assert matches, f"no span named {name!r} in {[s.name for s in self.finished()]}"
        return matches[0]

    def metrics(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        found: dict[str, Any] = {}
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found[metric.name] = metric
        return found

    def points(self, name: str) -> list[Any]:
        metric = self.metrics().get(name)
        assert metric is not None, f"no metric {name!r}; have {sorted(self.metrics())}"
        return list(metric.data.data_points)

    def log_records(self) -> list[Any]:
        return [r.log_record for r in self.logs.get_finished_logs()]


def make_settings(**overrides: Any) -> Settings:
    overrides.setdefault("process_metrics", False)
    return resolve(overrides, environ={}).settings


@pytest.fixture
def telemetry_factory() -> Iterator[Callable[..., Telemetry]]:
    made: list[Telemetry] = []

    def build(**overrides: Any) -> Telemetry:
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader])
        logs = InMemoryLogRecordExporter()
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        audit = FakeAudit()
        configure_genai(
            make_settings(**overrides),
            audit=audit,
            meter_provider=meter_provider,
            tracer_provider=tracer_provider,
            logger_provider=logger_provider,
        )
        tele = Telemetry(spans, reader, logs, tracer_provider, meter_provider, logger_provider, audit)
        made.append(tele)
        return tele

    yield build
    reset_genai()
    get_hook_manager().clear()
    for tele in made:
        tele.tracer_provider.shutdown()
        tele.meter_provider.shutdown()
        tele.logger_provider.shutdown()


@pytest.fixture
def telemetry(telemetry_factory: Callable[..., Telemetry]) -> Telemetry:
    return telemetry_factory()
