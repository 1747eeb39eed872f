"""One ``/metrics`` for pre-fork servers, on prometheus-client's multiprocess mode.

With ``PROMETHEUS_MULTIPROC_DIR`` set, every process (each gunicorn or uvicorn worker, the master)
writes its OTel metrics into its own files in that directory, in prometheus-client's multiprocess
file format, and whichever process answers a scrape serves the merge of all files through
prometheus-client's own ``MultiProcessCollector``:

* counters and histograms are summed over processes, including processes that have exited, so a
  worker that dies and is replaced never makes a counter go backwards;
* up-down counters (active runs, memory) are summed over live processes (``livesum``);
* gauges are one series per live process, labelled ``pid`` (``liveall``).

A process writes one export under an exclusive lock on a file beside the metric files, and a scrape
reads the files under a shared lock, so a scrape never shows one family of a worker's new export
beside another family of its previous one (a request counted but its latency not yet). ``flock``
locks go with their process: a worker killed while writing releases it. Neither side waits longer
than :data:`LOCK_WAIT_S` (a stopped process must not stop scrapes): it then goes on without it.

The translation from OTel data to Prometheus names and labels is the OTel Prometheus exporter's
own, so names are the same as in single-process mode. The writer is a push exporter on a periodic
reader (every :data:`WRITE_INTERVAL_MS`, and at shutdown): recording a measurement costs what it
costs in a single process; the files are written once per interval, not per measurement.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: writes and scrapes go on unlocked
    fcntl = None  # type: ignore[assignment]

from opentelemetry.exporter.prometheus import _CustomCollector
from opentelemetry.sdk.metrics.export import (
    Gauge,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
    Sum,
)
from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from kaizen_otel._internal.selfmon import CountingMetricExporter, TelemetryStats
from kaizen_otel.exceptions import KaizenConfigError

__all__ = ["WRITE_INTERVAL_MS", "MultiprocessFileExporter", "merged_registry", "multiproc_reader"]

_log = logging.getLogger("kaizen_otel.multiproc")

#: How often a process writes its metrics to its files: a scrape sees values at most this old.
WRITE_INTERVAL_MS = 1000
_KEY_CACHE_LIMIT = 65_536
#: The lock file beside the metric files (prometheus-client's merge reads ``*.db`` only).
LOCK_NAME = ".kaizen_export.lock"
#: The longest a write or a scrape waits for the other side's lock before going on without it.
LOCK_WAIT_S = 1.0


@contextmanager
def directory_lock(directory: str, exclusive: bool) -> Iterator[bool]:
    """Hold the directory's export lock (exclusive: writing an export; shared: reading for a
    scrape). Yields whether it is held: after :data:`LOCK_WAIT_S`, or when the lock file cannot be
    opened, the caller goes on without it. Opened per use, so a forked child never shares its
    parent's lock."""
    if fcntl is None:
        yield False
        return
    try:
        # Whoever can write the directory can put a FIFO (an open would block until a writer came)
        # or a symlink there: neither stops a write or a scrape.
        flags = os.O_RDONLY | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
        fd = os.open(os.path.join(directory, LOCK_NAME), flags, 0o644)
    except OSError:
        yield False
        return
    try:
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + LOCK_WAIT_S
        held = False
        while not held:
            try:
                fcntl.flock(fd, mode)
                held = True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.002)
            except OSError:
                break
        yield held
    finally:
        os.close(fd)  # releases the lock


class MultiprocessFileExporter(MetricExporter):
    """Writes this process's cumulative metrics into its prometheus-client multiprocess files."""

    def __init__(self, directory: str) -> None:
        super().__init__()
        self._directory = directory
        self._lock = threading.Lock()
        self._pid = -1
        self._files: dict[str, MmapedDict] = {}
        self._keys: dict[tuple[Any, ...], str] = {}
        self._translator = _CustomCollector(disable_target_info=True, scope_info_enabled=False)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """The parent's export thread may have held the lock at fork; the files are the parent's."""
        self._lock = threading.Lock()
        self._files = {}
        self._pid = os.getpid()

    # files ------------------------------------------------------------------------------------------
    def _file(self, prefix: str) -> MmapedDict:
        pid = os.getpid()
        if pid != self._pid:  # a forked child writes its own files, never its parent's
            self._files = {}
            self._pid = pid
        found = self._files.get(prefix)
        if found is None:
            found = self._files[prefix] = MmapedDict(os.path.join(self._directory, f"{prefix}_{pid}.db"))
        return found

    def _key(self, family: str, sample: str, labels: dict[str, str], documentation: str) -> str:
        cache_key = (family, sample, tuple(labels.items()), documentation)
        key = self._keys.get(cache_key)
        if key is None:
            key = mmap_key(family, sample, list(labels), list(labels.values()), documentation)
            if len(self._keys) < _KEY_CACHE_LIMIT:
                self._keys[cache_key] = key
        return key

    # export -----------------------------------------------------------------------------------------
    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        now = time.time()
        with self._lock, directory_lock(self._directory, exclusive=True):
            for resource_metrics in metrics_data.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        self._write_metric(metric, now)
        return MetricExportResult.SUCCESS

    def _write_metric(self, metric: Any, now: float) -> None:
        families: dict[str, Any] = {}
        self._translator._translate_metric(
            metric=metric, scope_attrs={}, resource_attrs={}, metric_family_id_metric_family=families
        )
        data = metric.data
        for family in families.values():
            if family.type == "counter":
                self._write_samples(self._file("counter"), family, family.samples, now)
            elif family.type == "gauge":
                mode = "livesum" if isinstance(data, Sum) else "liveall"
                if not isinstance(data, Sum | Gauge):
                    mode = "liveall"
                self._write_samples(self._file(f"gauge_{mode}"), family, family.samples, now)
            elif family.type == "histogram":
                self._write_samples(self._file("histogram"), family, _per_bucket(family.samples), now)

    def _write_samples(self, target: MmapedDict, family: Any, samples: Iterable[Any], now: float) -> None:
        for sample in samples:
            key = self._key(family.name, sample.name, sample.labels, family.documentation)
            target.write_value(key, float(sample.value), now)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Close the files; this process's live gauges leave the merged view, its counters stay."""
        with self._lock:
            for mapped in self._files.values():
                mapped.close()
            self._files = {}
            if self._pid == os.getpid():
                mark_process_dead(self._pid, self._directory)


def _per_bucket(samples: Iterable[Any]) -> list[Any]:
    """Histogram samples as the multiprocess files hold them: per-bucket counts, the sum, no count.

    The Prometheus family has cumulative ``_bucket`` samples; the collector adds the buckets up
    again (and derives ``_count``) when it merges the files.
    """
    out: list[Any] = []
    previous: dict[tuple[tuple[str, str], ...], float] = {}
    for sample in samples:
        if sample.name.endswith("_bucket"):
            series = tuple((k, v) for k, v in sample.labels.items() if k != "le")
            before = previous.get(series, 0.0)
            previous[series] = sample.value
            out.append(sample._replace(value=sample.value - before))
        elif sample.name.endswith("_sum"):
            out.append(sample)
    return out


class _LiveMultiProcessCollector(MultiProcessCollector):
    """prometheus-client's merge, after dropping the live gauges of processes that are gone.

    A worker killed with SIGKILL cannot remove its own ``gauge_live*`` files; without this its
    last gauge values would stay in the merged view until someone calls ``mark_process_dead``.
    """

    def collect(self) -> Iterable[Any]:
        for path in glob.glob(os.path.join(self._path, "gauge_live*_*.db")):
            pid = os.path.basename(path)[:-3].rsplit("_", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                mark_process_dead(int(pid), self._path)
        with directory_lock(self._path, exclusive=False):
            return list(super().collect())  # read every file while no process is writing


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def merged_registry(directory: str) -> CollectorRegistry:
    """A registry that serves the merge of every process's files in ``directory``."""
    if not os.path.isdir(directory):
        raise KaizenConfigError(
            "prometheus_multiproc_dir",
            directory,
            "an existing directory that every worker can write (create it before the server starts)",
        )
    registry = CollectorRegistry()
    _LiveMultiProcessCollector(registry, directory)
    return registry


def multiproc_reader(directory: str, stats: TelemetryStats, cardinality_limit: int) -> MetricReader:
    """The periodic reader that writes this process's metrics into ``directory``."""
    exporter = CountingMetricExporter(MultiprocessFileExporter(directory), stats, cardinality_limit)
    return PeriodicExportingMetricReader(exporter, export_interval_millis=WRITE_INTERVAL_MS)
