"""``MetricsCollector``: the source documents' counter / gauge / histogram API over OTel instruments.

Each name becomes one OpenTelemetry instrument of the process's MeterProvider, created on first
use and cached, so a call costs one dict lookup plus the SDK's own recording. Values are never
kept in lists: histograms are the SDK's bucketed aggregation, and ``export()`` estimates
p50/p95/p99 from the buckets (see :mod:`kaizen_otel.compat.quantiles` for the error bound).

One name has one type in the whole process: the cache is shared by every collector of the same
MeterProvider (two instruments with one name would render two families on ``/metrics``, which
Prometheus rejects), and recording a name with a second type raises ``ValueError``.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from opentelemetry import metrics
from prometheus_client import REGISTRY

from kaizen_otel._internal.resets import on_reset
from kaizen_otel.compat.quantiles import render_with_quantiles
from kaizen_otel.exceptions import KaizenConfigError

__all__ = ["MAX_METRIC_NAMES", "MetricsCollector", "histogram_buckets"]

#: Distinct metric names per MeterProvider; past it a new name raises (memory stays bounded).
MAX_METRIC_NAMES = 1000
_SCOPE = "kaizen_otel.compat"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")
_KINDS = ("counter", "gauge", "histogram")

#: The SDK's default boundaries: made for milliseconds, the unit of the documents' timers.
_MS_BUCKETS: tuple[float, ...] = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0)
_MS_BUCKETS += (1000.0, 2500.0, 5000.0, 7500.0, 10000.0)
_SECONDS_BUCKETS = tuple(bound / 1000 for bound in _MS_BUCKETS)


def histogram_buckets(name: str) -> tuple[float, ...]:
    """Default boundaries for a histogram: seconds for names ending ``_seconds``, else milliseconds."""
    return _SECONDS_BUCKETS if name.endswith("_seconds") else _MS_BUCKETS


class _Instruments:
    """The instruments of one MeterProvider, by name: ``name -> (kind, instrument)``."""

    def __init__(self, provider: Any) -> None:
        self.meter = provider.get_meter(_SCOPE)
        self.by_name: dict[str, tuple[str, Any]] = {}
        self.lock = threading.Lock()

    def get(self, name: str, kind: str, buckets: Sequence[float] | None) -> Any:
        with self.lock:
            found = self.by_name.get(name)
            if found is None:
                found = self.by_name[name] = (kind, self._create(name, kind, buckets))
        if found[0] != kind:
            raise ValueError(
                f"metric {name!r} is already a {found[0]}; it cannot also be recorded as a {kind} "
                "(one name, one type: use another name)"
            )
        return found[1]

    def _create(self, name: str, kind: str, buckets: Sequence[float] | None) -> Any:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise KaizenConfigError(
                "metric name", name, "a letter, then letters, digits, '_', '.', '-' or '/' (255 at most)"
            )
        if len(self.by_name) >= MAX_METRIC_NAMES:
            raise ValueError(f"more than {MAX_METRIC_NAMES} metric names; {name!r} was not created")
        if kind == "counter":
            return self.meter.create_counter(name)
        if kind == "gauge":
            return self.meter.create_gauge(name)
        bounds = list(buckets if buckets is not None else histogram_buckets(name))
        return self.meter.create_histogram(name, explicit_bucket_boundaries_advisory=bounds)


#: Per MeterProvider (weak: a provider that is gone takes its instruments with it).
_BY_PROVIDER: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()
_BY_PROVIDER_LOCK = threading.Lock()
on_reset("compat.metrics", _BY_PROVIDER.clear)


def _instruments_of(provider: Any) -> _Instruments:
    with _BY_PROVIDER_LOCK:
        found = _BY_PROVIDER.get(provider)
        if found is None:
            found = _BY_PROVIDER[provider] = _Instruments(provider)
        return found


class MetricsCollector:
    """Counters, gauges and histograms by name, with labels, exported as Prometheus text.

    ``attributes`` are added to every measurement (an :class:`ObservabilityManager` whose service
    name differs from the process's puts its name there). ``buckets`` maps histogram names to
    their bucket boundaries; other histograms get :func:`histogram_buckets`. ``backend`` is kept
    for the documents' signature: export is always Prometheus text.
    """

    def __init__(
        self,
        backend: str = "prometheus",
        *,
        attributes: Mapping[str, str] | None = None,
        buckets: Mapping[str, Sequence[float]] | None = None,
        registry: Any = None,
    ) -> None:
        if backend != "prometheus":
            raise KaizenConfigError("backend", backend, "prometheus")
        self.backend = backend
        self._attributes = dict(attributes or {})
        self._buckets = {name: tuple(bounds) for name, bounds in (buckets or {}).items()}
        self._registry = registry if registry is not None else REGISTRY
        self._provider: Any = None
        self._instruments: _Instruments | None = None

    def _instrument(self, name: str, kind: str) -> Any:
        provider = metrics.get_meter_provider()
        instruments = self._instruments
        if provider is not self._provider or instruments is None:
            instruments = self._instruments = _instruments_of(provider)
            self._provider = provider
        found = instruments.by_name.get(name)
        if found is not None and found[0] == kind:
            return found[1]
        return instruments.get(name, kind, self._buckets.get(name))

    def _labels(self, labels: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        if not self._attributes:
            return labels
        return {**self._attributes, **labels} if labels else self._attributes

    def counter(self, name: str, value: float = 1.0, labels: Mapping[str, str] | None = None) -> None:
        """Add ``value`` (>= 0) to the counter ``name``."""
        if value < 0:
            raise ValueError(f"counter {name!r} can only increase; got {value!r} (use a gauge)")
        self._instrument(name, "counter").add(value, self._labels(labels))

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Set the gauge ``name`` to ``value``."""
        self._instrument(name, "gauge").set(value, self._labels(labels))

    def histogram(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Record one observation of ``value`` in the histogram ``name``."""
        self._instrument(name, "histogram").record(value, self._labels(labels))

    @asynccontextmanager
    async def timer(self, name: str, labels: Mapping[str, str] | None = None) -> AsyncIterator[None]:
        """Time the block into the histogram ``name``: milliseconds, or seconds for ``*_seconds``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._observe_duration(name, started, labels)

    @contextmanager
    def timer_sync(self, name: str, labels: Mapping[str, str] | None = None) -> Iterator[None]:
        """The synchronous form of :meth:`timer`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._observe_duration(name, started, labels)

    def _observe_duration(self, name: str, started: float, labels: Mapping[str, str] | None) -> None:
        elapsed = time.perf_counter() - started
        self.histogram(name, elapsed if name.endswith("_seconds") else elapsed * 1000.0, labels)

    async def export(self) -> str:
        """Prometheus text of the live registry (what ``/metrics`` serves), plus p50/p95/p99 lines."""
        return self.export_text()

    def export_text(self) -> str:
        """The synchronous form of :meth:`export`."""
        return render_with_quantiles(self._registry)
