"""Real GenAI clients and instrumentations against local fake model servers.

Every test here is marked ``integration`` (subprocesses, promtool). ``configured`` gives a
``kaizen_otel.configure()`` handle with a /metrics endpoint on a free port and a fake audit trail,
and the helpers to read what it recorded.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import kaizen_otel
from tests.testbed.fixtures import prometheus, require
from tests.thirdparty.fake_models import FakeModelServer

__all__ = ["prometheus"]

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def fake_models() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    try:
        yield server
    finally:
        server.stop()


class Audit:
    """Stands in for the audit trail: keeps what ``record()`` was given."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(
        self, agent_id: str, action: str, details: Any = None, result: str = "success", **_: Any
    ) -> None:
        self.records.append({"agent_id": agent_id, "action": action, "details": details, "result": result})


class Configured:
    """A configured kaizen_otel with an in-memory copy of every exported span."""

    def __init__(self, handle: Any, spans: InMemorySpanExporter, audit: Audit) -> None:
        self.handle = handle
        self.exported = spans
        self.audit = audit

    def spans(self) -> list[Any]:
        return list(self.exported.get_finished_spans())

    def scrape(self) -> str:
        url = self.handle.metrics_url
        assert url, "no /metrics endpoint"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def samples(self, name: str, **labels: str) -> list[float]:
        """Values of the samples of ``name`` on /metrics whose labels include ``labels``."""
        found = []
        for line in self.scrape().splitlines():
            if line.startswith("#") or not line.startswith(name + "{"):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                found.append(float(value))
        return found


def promtool_check(exposition: str) -> None:
    """``promtool check metrics`` accepts the page (one HELP/TYPE block per family, valid names)."""
    require(shutil.which("promtool") is not None, "Debian package `prometheus` (promtool)")
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=30
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        # promtool lints style too; only errors and the duplicate-family complaint matter here
        if "error" in line.lower() or "second HELP" in line or "second TYPE" in line
    ]
    assert done.returncode in (0, 3) and not problems, done.stdout + done.stderr


@pytest.fixture
def configured(clean_env: pytest.MonkeyPatch) -> Iterator[Callable[..., Configured]]:
    made: list[Any] = []

    def build(**settings: Any) -> Configured:
        settings.setdefault("prometheus_port", 0)
        settings.setdefault("process_metrics", False)
        settings.setdefault("traces_exporter", "none")
        settings.setdefault("logs_exporter", "none")
        handle = kaizen_otel.configure(**settings)
        made.append(handle)
        spans = InMemorySpanExporter()
        handle.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        audit = Audit()
        from kaizen_otel.genai import runtime

        assert runtime._runtime is not None
        runtime._runtime.audit = audit
        return Configured(handle, spans, audit)

    yield build
    for handle in made:
        handle.shutdown()
