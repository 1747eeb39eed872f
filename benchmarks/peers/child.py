"""The measuring process for one side: ``python -m benchmarks.peers.child SIDE STEPS ROUNDS``.

Runs in the side's virtualenv (the project's own for kaizen). It builds the bare step of
``bench_agent_step.py`` on providers of its own, sets the side up (which installs that SDK's global
providers, hence one process per side), then alternates rounds of no instrumentation, bare and the
side, each timed in process CPU with its own export flushed inside the round. Prints one JSON line.

Connections to anything but loopback are refused and recorded: every side must run offline, and
one that tries to reach the network shows up in the report instead of slowing a round unseen.
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

from benchmarks.bench_agent_step import (
    _cpu,
    _metric_points,
    _quartiles,
    make_bare_side,
    step_none,
)
from benchmarks.peers import DISTRIBUTIONS
from benchmarks.peers.steps import SETUPS

LOOPBACK = ("127.", "::1", "localhost")


def refuse_network(attempts: list[str]) -> Callable[[], None]:
    """Refuse (and record) name lookups and connections that leave this machine; returns the undo."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def local(host: object) -> bool:
        return not isinstance(host, str) or host.startswith(LOOPBACK) or host == ""

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
            attempts.append(f"connect {address[0]}:{address[1]}")
            raise ConnectionRefusedError(f"the benchmark runs offline: {address!r}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not local(host if not isinstance(host, bytes) else host.decode()):
            attempts.append(f"lookup {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"the benchmark runs offline: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def undo() -> None:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    return undo


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "-"


def measure(side_name: str, steps: int, rounds: int) -> dict[str, Any]:
    attempts: list[str] = []
    refuse_network(attempts)

    bare_side = make_bare_side()
    bare, bare_flush = bare_side.step, bare_side.flush
    bare_spans, bare_logs, bare_reader = bare_side.spans, bare_side.logs, bare_side.reader

    side = SETUPS[side_name]()
    for fn, flush in ((step_none, lambda: None), (bare, bare_flush), (side.step, side.flush)):
        _cpu(fn, steps // 4, flush)  # warm up caches and code paths
    counted = (bare_spans.count, bare_logs.count, side.spans.count, side.logs.count)
    samples: dict[str, list[float]] = {"none": [], "bare": [], "side": []}
    for _ in range(rounds):
        samples["none"].append(_cpu(step_none, steps))
        samples["bare"].append(_cpu(bare, steps, bare_flush))
        samples["side"].append(_cpu(side.step, steps, side.flush))
    measured = steps * rounds
    emitted = {
        "bare": {
            "spans": (bare_spans.count - counted[0]) / measured,
            "logs": (bare_logs.count - counted[1]) / measured,
            "metric_series": _metric_points(bare_reader),
        },
        "side": {
            "spans": (side.spans.count - counted[2]) / measured,
            "logs": (side.logs.count - counted[3]) / measured,
            "metric_series": side.metric_series(),
        },
    }
    side.close()
    ratios = [s / b for s, b in zip(samples["side"], samples["bare"], strict=True)]
    return {
        "side": side_name,
        "version": _version(DISTRIBUTIONS[side_name]),
        "opentelemetry_sdk": _version("opentelemetry-sdk"),
        "python": sys.version.split()[0],
        "steps": steps,
        "rounds": rounds,
        "none_us": statistics.median(samples["none"]),
        "bare_us": statistics.median(samples["bare"]),
        "side_us": statistics.median(samples["side"]),
        "vs_bare": statistics.median(ratios),
        "vs_bare_iqr": _quartiles(ratios),
        "emitted_per_step": emitted,
        "network_attempts": sorted(set(attempts)),
    }


if __name__ == "__main__":
    result = measure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps(result))
