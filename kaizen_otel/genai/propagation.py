"""Carry trace context across agents, threads and processes, so a supervisor's trace holds its workers.

``inject_context()`` writes the current context into a plain dict with the configured propagators
(W3C ``traceparent``/``tracestate`` and baggage by default, ``OTEL_PROPAGATORS`` otherwise); send
that dict with the task (a queue message, an HTTP header set, a subprocess environment). On the
other side, ``extract_context(carrier)`` gives a context to pass as ``agent_run(..., context=...)``,
or ``use_context(carrier)`` makes it current for a block. For threads and executors in the same
process, ``bind_context(fn)`` runs ``fn`` in a copy of the caller's context (trace *and* the current
agent run), which a plain ``Thread(target=fn)`` does not.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry.context import Context

__all__ = ["bind_context", "extract_context", "inject_context", "use_context"]

F = TypeVar("F", bound=Callable[..., Any])

_log = logging.getLogger("kaizen_otel")
_propagate_module: Any = None
_fallback: Any = None


def _propagate() -> Any:
    """``opentelemetry.propagate``, or W3C trace context + baggage while it cannot load.

    The module reads ``OTEL_PROPAGATORS`` when first imported and raises ``ValueError`` for a
    name it does not know, on every import: a typo in a variable must not crash the caller of
    ``inject_context()``. The error is logged once and the default propagators are used.
    """
    global _propagate_module, _fallback
    if _propagate_module is not None:
        return _propagate_module
    try:
        from opentelemetry import propagate
    except ValueError as exc:
        if _fallback is None:
            from opentelemetry.baggage.propagation import W3CBaggagePropagator
            from opentelemetry.propagators.composite import CompositePropagator
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            _log.error("kaizen_otel: OTEL_PROPAGATORS: %s; using tracecontext,baggage", exc)
            _fallback = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        return _fallback
    _propagate_module = propagate
    return propagate


def inject_context(
    carrier: MutableMapping[str, str] | None = None, *, context: Context | None = None
) -> MutableMapping[str, str]:
    """The current (or given) trace context written into ``carrier`` (a new dict by default)."""
    target: MutableMapping[str, str] = {} if carrier is None else carrier
    _propagate().inject(target, context=context)
    return target


def extract_context(carrier: Mapping[str, str] | None, *, context: Context | None = None) -> Context:
    """The context a carrier written by :func:`inject_context` describes (empty carrier: no parent)."""
    return _propagate().extract(carrier or {}, context=context)


@contextmanager
def use_context(carrier: Mapping[str, str] | Context | None) -> Iterator[Context]:
    """Make a carrier's (or a ready) context current for the block; spans started in it join that trace."""
    ctx = carrier if isinstance(carrier, Context) else extract_context(carrier)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)


def bind_context(fn: F) -> F:
    """``fn`` bound to a copy of the caller's context: use it as a thread target or executor task."""
    snapshot = contextvars.copy_context()

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return snapshot.copy().run(fn, *args, **kwargs)

    return bound  # type: ignore[return-value]
