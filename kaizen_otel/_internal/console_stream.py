"""Whole lines on a shared console stream, whoever else writes to it.

The span and log exporters run on different threads (each batch processor has its own worker),
and the application's own ``logging.StreamHandler`` often writes to the same ``sys.stderr``. A
pipe keeps a write whole only up to ``PIPE_BUF`` (4 KiB): a longer JSON line (a stack trace, a
large payload) written while another thread writes is cut mid-line, and a log shipper loses both
lines. So every console write here happens under one lock shared by our exporters, and also under
the lock of each handler on the root logger that writes to the same stream (the lock its
``emit`` holds). A handler lock that cannot be taken within a second is skipped, so a stuck
application thread never stalls an export.
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from typing import IO

__all__ = ["flush", "write_lines"]

_CONSOLE_LOCK = threading.Lock()
_HANDLER_LOCK_WAIT_S = 1.0


def _hold_handlers_writing_to(stream: IO[str], stack: ExitStack) -> None:
    for handler in list(logging.getLogger().handlers):
        lock = getattr(handler, "lock", None)
        if lock is None or getattr(handler, "stream", None) is not stream:
            continue
        if lock.acquire(timeout=_HANDLER_LOCK_WAIT_S):
            stack.callback(lock.release)


def write_lines(stream: IO[str], text: str) -> None:
    """Write ``text`` (whole lines) and flush, with no other console writer writing meanwhile."""
    with _CONSOLE_LOCK, ExitStack() as stack:
        _hold_handlers_writing_to(stream, stack)
        stream.write(text)
        stream.flush()


def flush(stream: IO[str]) -> None:
    """Flush ``stream`` without cutting into another exporter's write."""
    with _CONSOLE_LOCK:
        stream.flush()
