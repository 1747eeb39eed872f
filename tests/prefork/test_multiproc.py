"""The multiprocess writer and merge with forked children: sums, per-worker gauges, bad settings."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

import pytest
from opentelemetry import metrics
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import kaizen_otel
from kaizen_otel._internal.multiproc import merged_registry
from kaizen_otel.exceptions import KaizenConfigError


def _samples(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(merged_registry(str(directory))).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _worker(directory: Path, index: int, stay: bool) -> int:
    """A forked worker that counts ``index + 1`` jobs and sets its queue gauge; returns its pid."""
    read, write = os.pipe()
    errors = directory.parent / f"worker-{index}.err"
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 0
        try:
            obs = kaizen_otel.configure(
                prometheus_port=0, prometheus_multiproc_dir=str(directory), logs_exporter="none"
            )
            meter = metrics.get_meter("jobs")
            meter.create_counter("jobs.done").add(index + 1, {"queue": "q"})
            meter.create_gauge("jobs.waiting").set(10 * (index + 1), {"queue": "q"})
            obs.force_flush()
            os.write(write, b"x")
            if stay:
                time.sleep(60)  # until the parent kills it
            # either way it leaves without shutdown, as a worker killed with SIGKILL does
        except BaseException:
            errors.write_text(traceback.format_exc())
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    ready = os.read(read, 1)
    os.close(read)
    assert ready == b"x", errors.read_text() if errors.exists() else "the worker died"
    return pid


def test_counters_add_up_over_workers_and_gauges_are_per_live_worker(tmp_path: Path) -> None:
    live = _worker(tmp_path, 0, stay=True)
    gone = _worker(tmp_path, 1, stay=False)
    os.waitpid(gone, 0)
    try:
        samples = _samples(tmp_path)
        assert samples[("jobs_done_total", (("queue", "q"),))] == 3  # 1 + 2: the gone worker's stay
        waiting = {labels: v for (name, labels), v in samples.items() if name == "jobs_waiting"}
        assert waiting == {(("pid", str(live)), ("queue", "q")): 10.0}  # the dead worker's gauge left
    finally:
        os.kill(live, 9)
        os.waitpid(live, 0)


def test_a_missing_directory_is_a_clear_error(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(KaizenConfigError, match="prometheus_multiproc_dir") as caught:
        kaizen_otel.configure(prometheus_port=0, prometheus_multiproc_dir=str(missing))
    assert "an existing directory" in str(caught.value)


def test_under_auto_instrumentation_a_missing_directory_falls_back_to_this_process(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    from kaizen_otel._internal.setup import configure_once

    obs = configure_once(
        {"prometheus_port": 0, "prometheus_multiproc_dir": str(tmp_path / "nope")}, strict=False
    )
    assert obs.metrics_url is not None
    assert any("prometheus_multiproc_dir" in problem for problem in obs.problems)


def test_a_scrape_never_shows_half_of_a_processs_export(tmp_path: Path) -> None:
    """Twenty counters that always move together, written over and over while scrapes read: each
    scrape shows all twenty at one value (a request counted and its latency, never one of them)."""
    import threading

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from kaizen_otel._internal.multiproc import MultiprocessFileExporter

    reader = PeriodicExportingMetricReader(
        MultiprocessFileExporter(str(tmp_path)), export_interval_millis=3_600_000
    )
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    meter = provider.get_meter("together")
    counters = [meter.create_counter(f"family{i}") for i in range(20)]
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            for counter in counters:
                counter.add(1)
            reader.force_flush()

    writer = threading.Thread(target=write)
    writer.start()
    torn: list[dict[str, float]] = []
    try:
        for _ in range(60):
            seen = {
                name: value for (name, _), value in _samples(tmp_path).items() if name.startswith("family")
            }
            if seen and (len(seen) != len(counters) or len(set(seen.values())) != 1):
                torn.append(seen)
    finally:
        stop.set()
        writer.join()
        provider.shutdown()
    assert torn == []


@pytest.mark.parametrize("planted", ["fifo", "symlink"])
def test_a_fifo_or_symlink_planted_as_the_lock_file_stops_neither_writes_nor_scrapes(
    tmp_path: Path, planted: str
) -> None:
    """Whoever can write the directory could plant one; an open of a FIFO would wait for a writer."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from kaizen_otel._internal.multiproc import LOCK_NAME, MultiprocessFileExporter

    lock = tmp_path / LOCK_NAME
    if planted == "fifo":
        os.mkfifo(lock)
    else:
        (tmp_path.parent / "elsewhere").write_text("")
        lock.symlink_to(tmp_path.parent / "elsewhere")
    reader = PeriodicExportingMetricReader(
        MultiprocessFileExporter(str(tmp_path)), export_interval_millis=3_600_000
    )
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    provider.get_meter("m").create_counter("planted").add(3)
    assert reader.force_flush(timeout_millis=10_000)
    assert _samples(tmp_path)[("planted_total", ())] == 3.0
    provider.shutdown()
