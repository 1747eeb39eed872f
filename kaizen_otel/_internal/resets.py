"""Where module state registers how to forget itself, for ``kaizen_otel.testing.reset_globals()``.

Any module that keeps process-wide state (a store, a cache, a registry) calls :func:`on_reset` at
import with a function that empties it. ``reset_globals()`` runs every registered function, so a
test never sees what the previous one left behind. A module that was never imported registered
nothing and holds nothing, so nothing has to be imported to be reset.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["on_reset", "run_resets"]

_log = logging.getLogger("kaizen_otel")
_lock = threading.Lock()
_resets: dict[str, Callable[[], None]] = {}


def on_reset(name: str, reset: Callable[[], None]) -> None:
    """Register ``reset`` under ``name`` (registering a name again replaces the earlier one)."""
    with _lock:
        _resets[name] = reset


def run_resets() -> None:
    """Run every registered reset; one that fails is logged and the others still run."""
    with _lock:
        resets = list(_resets.items())
    for name, reset in resets:
        try:
            reset()
        except Exception:
            _log.exception("kaizen_otel: resetting %s failed", name)
