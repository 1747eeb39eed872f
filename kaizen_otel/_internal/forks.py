"""A forked child starts its own telemetry: empty metric state, flushed at a multiprocessing exit.

After ``os.fork()`` the child holds a copy of the parent's MeterProvider, counts included. The SDK
restarts the child's export threads, clears its batch queues and gives it a new
``service.instance.id``, but keeps the counts: every child re-exported the parent's pre-fork
counters as its own (4 processes turned 10 agent runs into 40). Here the child forgets what the
parent recorded; the parent is untouched.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

_log = logging.getLogger("kaizen_otel")


def forget_metrics(meter_provider: Any) -> None:
    """Drop every aggregation the parent recorded; the child's series start at the fork.

    The locks are replaced too: one held by another thread at the fork stays held forever in
    the child, where that thread does not exist.
    """
    consumer: Any = getattr(meter_provider, "_measurement_consumer", None)
    storages = getattr(consumer, "_reader_storages", None)
    if storages is None:
        _log.warning(
            "this OpenTelemetry SDK hides its metric storage; a forked child re-exports the parent's counters"
        )
        return
    consumer._lock = threading.Lock()
    now = time.time_ns()
    for storage in storages.values():
        storage._lock = threading.RLock()
        for matches in storage._instrument_view_instrument_matches.values():
            for match in matches:
                match._lock = threading.Lock()
                match._attributes_aggregation = {}
                match._previous_collection_start_nanos = now


def flush_multiprocessing_child(handle: Any) -> None:
    """Shut ``handle`` down when a ``multiprocessing`` child ends, which skips the exit hook.

    A ``multiprocessing`` process leaves through ``os._exit`` after running multiprocessing's
    own finalizers, so our exit hook never runs there and its buffered spans and logs were lost.
    Its start-up clears the inherited finalizers and then runs the after-fork callbacks: the
    finalizer is registered from one of those. Nothing happens when multiprocessing is not used.
    """
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None:
        return

    def register_finalizer(obs: Any) -> None:
        mp_util.Finalize(obs, obs.shutdown, exitpriority=0)

    mp_util.register_after_fork(handle, register_finalizer)
