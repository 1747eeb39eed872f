"""The tracer provider's processor chain, calling each processor only for the hooks it uses.

The SDK's ``SynchronousMultiSpanProcessor`` calls ``on_start``, ``_on_ending`` and ``on_end`` of
every processor for every span. In a ``configure()`` pipeline half of those calls do nothing: the
batch processor's ``on_start`` and ``_on_ending``, the redaction and enrichment processors'
``on_end``. Each is a Python call per span per processor, which shows in the agent-step
benchmark. This chain keeps one tuple of bound methods per hook, leaving out the hooks known to do
nothing, and is otherwise the SDK's: same order, same ``add_span_processor``, ``shutdown`` and
``force_flush``.

A hook is left out only when it is one of :data:`NO_OP_HOOKS` (the SDK base class's and its batch
and simple processors' empty hooks) or a processor of ours says so with ``unused_hooks``; any
other processor is called for every hook, as the SDK would.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

__all__ = ["NO_OP_HOOKS", "HookDispatchingSpanProcessor"]

_HOOKS = ("on_start", "_on_ending", "on_end")


def _function(cls: type, hook: str) -> Any:
    return getattr(cls, hook, None)


#: Hooks whose body is empty in the SDK this was written against.
NO_OP_HOOKS = frozenset(
    fn
    for fn in (
        _function(SpanProcessor, "on_start"),
        _function(SpanProcessor, "_on_ending"),
        _function(SpanProcessor, "on_end"),
        _function(BatchSpanProcessor, "on_start"),
        _function(BatchSpanProcessor, "_on_ending"),
        _function(SimpleSpanProcessor, "on_start"),
        _function(SimpleSpanProcessor, "_on_ending"),
    )
    if fn is not None
)


def _used(processor: SpanProcessor, hook: str) -> bool:
    if hook in getattr(processor, "unused_hooks", ()):
        return False
    return _function(type(processor), hook) not in NO_OP_HOOKS


class HookDispatchingSpanProcessor(SynchronousMultiSpanProcessor):
    """``SynchronousMultiSpanProcessor`` without the calls to hooks that do nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._starts: tuple[Any, ...] = ()
        self._endings: tuple[Any, ...] = ()
        self._ends: tuple[Any, ...] = ()

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        with self._lock:
            processors = (*self._span_processors, span_processor)
            # Built before they are published: a span on another thread sees the old or the new set.
            starts = tuple(p.on_start for p in processors if _used(p, "on_start"))
            endings = tuple(p._on_ending for p in processors if _used(p, "_on_ending"))
            ends = tuple(p.on_end for p in processors if _used(p, "on_end"))
            self._span_processors = processors
            self._starts, self._endings, self._ends = starts, endings, ends

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for on_start in self._starts:
            on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        for on_ending in self._endings:
            on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        for on_end in self._ends:
            on_end(span)
