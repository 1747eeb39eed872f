"""One lock for every console exporter, so a span line never lands inside a log line.

The span and log exporters run on different threads (each batch processor has its own worker).
``sys.stderr`` is a ``TextIOWrapper``, which is not thread-safe: two large writes from two threads
into a pipe can interleave mid-line, and a JSON line split that way is lost to every log shipper
reading the stream. A lock per exporter does not help; the lock has to be shared.
"""

from __future__ import annotations

import threading
from typing import IO

__all__ = ["write_lines"]

_CONSOLE_LOCK = threading.Lock()


def write_lines(stream: IO[str], text: str) -> None:
    """Write ``text`` (whole lines) and flush, with no other console exporter writing meanwhile."""
    with _CONSOLE_LOCK:
        stream.write(text)
        stream.flush()


def flush(stream: IO[str]) -> None:
    """Flush ``stream`` without cutting into another exporter's write."""
    with _CONSOLE_LOCK:
        stream.flush()
