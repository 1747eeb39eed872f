"""CPU time, memory, threads and garbage collections of this process, from the standard library.

These are the one set of process metrics on ``/metrics``: while they are on, prometheus-client's
default process and GC collectors (``process_cpu_seconds_total``, ``python_gc_*``), which
report the same things under other names, are taken off the served registry
(:func:`hide_default_collectors`) and put back at shutdown.

The source documents ask for memory and CPU of the agent process. These are observable
instruments: their callbacks run only when a reader collects (a Prometheus scrape, an OTLP export),
so they cost nothing between collections. Names follow the OTel process and CPython conventions;
their Prometheus names differ from prometheus-client's own collectors', which are taken off.

The standard library is enough here (``resource``, ``/proc/self/statm``, ``gc``), so no psutil
dependency: RSS comes from ``/proc`` on Linux and falls back to the peak RSS elsewhere.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from kaizen_otel.genai import semconv as sc

try:
    import resource as _resource
except ImportError:  # pragma: no cover - Windows
    _resource = None  # type: ignore[assignment]

__all__ = ["THREADS", "hide_default_collectors", "read_rss_bytes", "reset", "running", "start", "stop"]

#: The thread count. Not the conventions' ``process.thread.count``: in Prometheus that becomes a
#: gauge named ``process_thread_count``, and ``promtool check metrics`` rejects a ``_count`` suffix
#: on anything but a histogram or summary. ``process.threads`` (the conventions' earlier name) is
#: ``process_threads`` there.
THREADS = "process.threads"

_lock = threading.Lock()
_state: dict[str, object] = {"on": False, "registered_on": None, "attributes": {}}
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def read_rss_bytes() -> int:
    """Resident set size now (Linux), else the peak resident size."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        if _resource is None:
            return 0
        peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def _attrs(extra: Mapping[str, str]) -> dict[str, str]:
    return dict(_state["attributes"]) | dict(extra)  # type: ignore[call-overload]


def _cpu(_options: CallbackOptions) -> Iterable[Observation]:
    if not _state["on"]:
        return []
    if _resource is not None:
        usage = _resource.getrusage(_resource.RUSAGE_SELF)
        user, system = usage.ru_utime, usage.ru_stime
    else:  # pragma: no cover
        times = os.times()
        user, system = times.user, times.system
    return [
        Observation(user, _attrs({sc.CPU_MODE: "user"})),
        Observation(system, _attrs({sc.CPU_MODE: "system"})),
    ]


def _memory(_options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(read_rss_bytes(), _attrs({}))] if _state["on"] else []


def _threads(_options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(threading.active_count(), _attrs({}))] if _state["on"] else []


def _gc(_options: CallbackOptions) -> Iterable[Observation]:
    if not _state["on"]:
        return []
    return [
        Observation(stats.get("collections", 0), _attrs({sc.GC_GENERATION: str(generation)}))
        for generation, stats in enumerate(gc.get_stats())
    ]


def start(meter_provider: MeterProvider, attributes: Mapping[str, str] | None = None) -> None:
    """Report process metrics through ``meter_provider`` until :func:`stop`.

    Instruments are registered once per provider (the API cannot unregister a callback), so
    stop/start cycles on the same provider reuse them.
    """
    with _lock:
        _state["attributes"] = dict(attributes or {})
        _state["on"] = True
        if _state["registered_on"] is meter_provider:
            return
        meter = meter_provider.get_meter("kaizen_otel.process")
        meter.create_observable_counter(
            sc.METRIC_PROCESS_CPU_TIME,
            callbacks=[_cpu],
            unit="s",
            description="CPU time of this process, by mode.",
        )
        meter.create_observable_up_down_counter(
            sc.METRIC_PROCESS_MEMORY_USAGE,
            callbacks=[_memory],
            unit="By",
            description="Resident memory of this process.",
        )
        meter.create_observable_up_down_counter(
            THREADS,
            callbacks=[_threads],
            unit="{thread}",
            description="Threads alive in this process.",
        )
        meter.create_observable_counter(
            sc.METRIC_GC_COLLECTIONS,
            callbacks=[_gc],
            unit="{collection}",
            description="Garbage collections, by generation.",
        )
        _state["registered_on"] = meter_provider
        _state["started"] = time.time()


def stop() -> None:
    """Stop reporting (the callbacks answer nothing from now on)."""
    with _lock:
        _state["on"] = False


def reset() -> None:
    """Stop, and forget the provider the instruments were registered on (``reset_globals()``)."""
    with _lock:
        _state.update(on=False, registered_on=None, attributes={})


def running() -> bool:
    return bool(_state["on"])


def hide_default_collectors(registry: Any) -> Callable[[], None]:
    """Take prometheus-client's process and GC collectors off ``registry``; returns the undo.

    Only those two (the platform collector's ``python_info`` has no counterpart here). A
    collector that is not registered (the application removed it, or this is not the default
    registry) is left alone, and only what was taken off is put back.
    """
    from prometheus_client import GC_COLLECTOR, PROCESS_COLLECTOR

    removed = []
    for collector in (PROCESS_COLLECTOR, GC_COLLECTOR):
        try:
            registry.unregister(collector)
        except KeyError:
            continue
        removed.append(collector)

    def restore() -> None:
        for collector in removed:
            try:
                registry.register(collector)
            except ValueError:  # registered again meanwhile
                pass
        removed.clear()

    return restore
