"""Hook events around agent operations, the manager that fires them, and three built-in hooks.

The agent helpers (``agent_run``, ``llm_call``, ``tool_call``) fire PRE/POST events on the default
:class:`HookManager`; code that runs its own loop can fire the same events itself. A hook is a
callable ``(HookContext) -> HookResult | None`` or an object with ``handle(context)``; either may be
sync or async. A hook that raises never reaches the agent: the manager logs it, counts it in
``kaizen.hook.failures`` and returns a failed :class:`HookResult`.

Built-in hooks:

* :class:`TracingHook` turns PRE/POST pairs into spans with the real operation duration, pairing
  concurrent calls by a composite key, and ends (and flags) PRE spans left open at shutdown.
* :class:`MetricsHook` turns PRE/POST pairs into the same metrics the helpers record.
* :class:`AuditHook` writes one audit record per event (POST events by default).

The helpers already emit spans and metrics, so the tracing and metrics hooks ignore events fired
by the helpers (``context.source == "helper"``) unless asked not to.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from kaizen_otel.genai import semconv as sc

if TYPE_CHECKING:
    import asyncio

    from kaizen_otel.genai.runtime import Runtime

__all__ = [
    "AuditHook",
    "BaseHook",
    "HookContext",
    "HookEvent",
    "HookManager",
    "HookResult",
    "MetricsHook",
    "TracingHook",
    "get_hook_manager",
]

_log = logging.getLogger("kaizen_otel.genai")

SOURCE_HELPER = "helper"
SOURCE_USER = "user"


class HookEvent(str, Enum):
    """The built-in events. Any other string is a custom event (``pre_x``/``post_x`` pair up)."""

    PRE_AGENT_LOOP = "pre_agent_loop"
    POST_AGENT_LOOP = "post_agent_loop"
    PRE_TOOL_USE = "pre_tool_use"
    POST_TOOL_USE = "post_tool_use"
    PRE_LLM_CALL = "pre_llm_call"
    POST_LLM_CALL = "post_llm_call"
    PRE_MEMORY_READ = "pre_memory_read"
    POST_MEMORY_READ = "post_memory_read"

    def __str__(self) -> str:
        return self.value


EventType = Union[HookEvent, str]  # noqa: UP007 - a runtime alias, valid on 3.10


def _event_name(event: EventType) -> str:
    return event.value if isinstance(event, HookEvent) else str(event)


def _phase(name: str) -> tuple[str | None, str]:
    """('pre'|'post'|None, pair name) of an event name: ``pre_tool_use`` -> ('pre', 'tool_use')."""
    if name.startswith("pre_"):
        return "pre", name[4:]
    if name.startswith("post_"):
        return "post", name[5:]
    return None, name


@dataclass
class HookContext:
    """What a hook is told about one event."""

    event_type: EventType
    agent_id: str
    trace_id: str | None = None
    timestamp: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = SOURCE_USER

    @property
    def event_name(self) -> str:
        return _event_name(self.event_type)


@dataclass
class HookResult:
    """What a hook answers; ``success=False`` with ``error`` when it failed."""

    success: bool = True
    data: dict[str, Any] | None = None
    error: str | None = None
    duration_ms: float | None = None


HookCallable = Callable[[HookContext], Union[HookResult, Awaitable[Union[HookResult, None]], None]]  # noqa: UP007


class BaseHook:
    """Base of the built-in hooks: a sync ``process`` with an async ``handle`` over it.

    ``events`` limits the events the hook is registered for by ``register_hook`` (None = all).
    """

    events: tuple[str, ...] | None = None

    def process(self, context: HookContext) -> HookResult:
        return HookResult()

    async def handle(self, context: HookContext) -> HookResult:
        return self.process(context)

    def handle_sync(self, context: HookContext) -> HookResult:
        return self.process(context)

    def shutdown(self) -> None:
        """Release what the hook holds; called by :meth:`HookManager.shutdown`."""


class _Entry(NamedTuple):
    """One registered hook and how to call it (a named tuple: cheaper to define than a dataclass)."""

    hook: object
    sync: Callable[[HookContext], Any] | None
    async_: Callable[[HookContext], Any] | None
    name: str


def _entry(hook: object) -> _Entry:
    name = getattr(hook, "__qualname__", None) or type(hook).__name__
    handle_sync = getattr(hook, "handle_sync", None)
    handle = getattr(hook, "handle", None)
    if callable(handle_sync) or callable(handle):
        async_ = handle if callable(handle) and inspect.iscoroutinefunction(handle) else None
        sync = handle_sync if callable(handle_sync) else (handle if async_ is None else None)
        return _Entry(hook, sync, async_, name)
    if not callable(hook):
        raise TypeError(f"hook must be callable or have a handle() method, got {hook!r}")
    if inspect.iscoroutinefunction(hook):
        return _Entry(hook, None, hook, name)
    return _Entry(hook, hook, None, name)


class HookManager:
    """Registers hooks per event and fires them; never lets a hook's error reach the caller.

    ``trigger`` (async) awaits async hooks. ``trigger_sync`` (used by the sync helpers) calls sync
    hooks; an async-only hook is scheduled on the running event loop if there is one in this
    thread, otherwise run to completion with ``asyncio.run``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_event: dict[str, tuple[_Entry, ...]] = {}
        self._all: tuple[_Entry, ...] = ()
        self._hooks: list[object] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._warned: set[str] = set()
        #: True when any hook is registered: the helpers' one-attribute fast path.
        self.active = False

    # --- registration ------------------------------------------------------------------------
    def register(self, event: EventType | None, hook: object) -> None:
        """Register ``hook`` for one event (``None`` = every event)."""
        entry = _entry(hook)
        with self._lock:
            if event is None:
                self._all = (*self._all, entry)
            else:
                name = _event_name(event)
                self._by_event[name] = (*self._by_event.get(name, ()), entry)
            if hook not in self._hooks:
                self._hooks.append(hook)
            self.active = True

    def register_hook(self, hook: object, events: Iterable[EventType] | None = None) -> None:
        """Register ``hook`` for ``events``, or the events it declares (``hook.events``), or all."""
        chosen = events if events is not None else getattr(hook, "events", None)
        if chosen is None:
            self.register(None, hook)
            return
        for event in chosen:
            self.register(event, hook)

    def unregister(self, hook: object) -> None:
        """Remove ``hook`` from every event."""
        with self._lock:
            self._all = tuple(e for e in self._all if e.hook is not hook)
            self._by_event = {
                k: kept
                for k, v in self._by_event.items()
                if (kept := tuple(e for e in v if e.hook is not hook))
            }
            if hook in self._hooks:
                self._hooks.remove(hook)
            self.active = bool(self._all or self._by_event)

    def clear(self) -> None:
        with self._lock:
            self._all = ()
            self._by_event = {}
            self._hooks = []
            self.active = False

    def has_hooks(self, event: EventType) -> bool:
        return bool(self._all) or _event_name(event) in self._by_event

    @property
    def hooks(self) -> tuple[object, ...]:
        return tuple(self._hooks)

    # --- firing ------------------------------------------------------------------------------
    def _entries(self, name: str) -> tuple[_Entry, ...]:
        specific = self._by_event.get(name, ())
        return specific + self._all if self._all else specific

    async def trigger(
        self,
        event: EventType | HookContext,
        agent_id: str = "",
        data: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[HookResult]:
        """Fire an event (or a ready :class:`HookContext`) and await every hook registered for it."""
        context = event if isinstance(event, HookContext) else _context(event, agent_id, data, kwargs)
        results: list[HookResult] = []
        for entry in self._entries(context.event_name):
            started = time.perf_counter()
            try:
                if entry.async_ is not None:
                    value = await entry.async_(context)
                else:
                    assert entry.sync is not None
                    value = entry.sync(context)
                    if inspect.isawaitable(value):
                        value = await value
                results.append(_result(value, started))
            except Exception as exc:
                results.append(self._failed(entry, context, exc, started))
        return results

    def trigger_sync(
        self,
        event: EventType | HookContext,
        agent_id: str = "",
        data: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[HookResult]:
        """Fire an event from synchronous code (see the class docstring for async hooks)."""
        context = event if isinstance(event, HookContext) else _context(event, agent_id, data, kwargs)
        results: list[HookResult] = []
        for entry in self._entries(context.event_name):
            started = time.perf_counter()
            try:
                if entry.sync is not None:
                    value = entry.sync(context)
                else:
                    assert entry.async_ is not None
                    value = entry.async_(context)
                if inspect.isawaitable(value):
                    value = self._run_awaitable(value)
                results.append(_result(value, started))
            except Exception as exc:
                results.append(self._failed(entry, context, exc, started))
        return results

    def _run_awaitable(self, value: Awaitable[Any]) -> Any:
        import asyncio  # only async hooks need it; importing it eagerly costs ~25 ms at startup

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(_await(value))
        task = loop.create_task(_await(value))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return HookResult(data={"scheduled": True})

    def _failed(self, entry: _Entry, context: HookContext, exc: Exception, started: float) -> HookResult:
        if entry.name not in self._warned:
            self._warned.add(entry.name)
            _log.warning(
                "hook %s failed on %s: %r (later failures are counted, not logged)",
                entry.name,
                context.event_name,
                exc,
            )
        runtime = _runtime()
        if runtime is not None and runtime.instruments is not None:
            runtime.instruments.hook_failures.add(1, {sc.KAIZEN_HOOK_EVENT: context.event_name})
        return HookResult(success=False, error=repr(exc), duration_ms=(time.perf_counter() - started) * 1e3)

    def shutdown(self) -> None:
        """Call ``shutdown()`` on every registered hook that has one."""
        for hook in self.hooks:
            closer = getattr(hook, "shutdown", None)
            if callable(closer):
                try:
                    closer()
                except Exception as exc:
                    _log.warning("hook %r failed to shut down: %r", hook, exc)


async def _await(value: Awaitable[Any]) -> Any:
    return await value


def _context(
    event: EventType, agent_id: str, data: Mapping[str, Any] | None, kwargs: dict[str, Any]
) -> HookContext:
    return HookContext(event, agent_id, data=dict(data or {}), **kwargs)


def _result(value: Any, started: float) -> HookResult:
    if isinstance(value, HookResult):
        if value.duration_ms is None:
            value.duration_ms = (time.perf_counter() - started) * 1e3
        return value
    return HookResult(
        data=value if isinstance(value, dict) else None, duration_ms=(time.perf_counter() - started) * 1e3
    )


_DEFAULT = HookManager()


def get_hook_manager() -> HookManager:
    """The process-wide manager the helpers fire their events on."""
    return _DEFAULT


def _hand_over_default_manager() -> None:
    """Give the runtime the default manager: it does not import this module, to keep startup light."""
    from kaizen_otel.genai import runtime

    runtime.use_hook_manager(_DEFAULT)


_hand_over_default_manager()


def _runtime() -> Runtime | None:
    from kaizen_otel.genai import runtime

    return runtime.current()


def _pair_key(context: HookContext, pair: str) -> tuple[str, str, str]:
    """(trace and agent, event pair, call): concurrent calls of one tool pair by call id."""
    scope = f"{context.trace_id or ''}/{context.agent_id}"
    if pair == "agent_loop":
        return (scope, pair, "")
    data = context.data
    which = (
        data.get("call_id") or data.get("tool_call_id") or data.get("tool_name") or data.get("model") or ""
    )
    return (scope, pair, str(which))


def _scalar_attributes(data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}{k}": v
        for k, v in data.items()
        if isinstance(v, (str, bool, int, float)) and not k.startswith("_")
    }


def _failed_data(data: Mapping[str, Any]) -> str | None:
    """The error type named by an event's data, or None when the operation succeeded."""
    if data.get("success") is False or data.get("error") or data.get("error_type"):
        return str(data.get("error_type") or data.get("error") or "error")
    return None


class _Pairing:
    """FIFO pairing of PRE and POST events by composite key, shared by tracing and metrics hooks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str, str], deque[Any]] = {}

    def push(self, key: tuple[str, str, str], value: Any) -> None:
        with self._lock:
            self._open.setdefault(key, deque()).append(value)

    def pop(self, key: tuple[str, str, str]) -> Any:
        with self._lock:
            queue = self._open.get(key)
            if not queue:
                return None
            value = queue.popleft()
            if not queue:
                del self._open[key]
            return value

    def peek(self, key: tuple[str, str, str]) -> Any:
        with self._lock:
            queue = self._open.get(key)
            return queue[0] if queue else None

    def drain(self) -> list[Any]:
        with self._lock:
            values = [v for queue in self._open.values() for v in queue]
            self._open.clear()
        return values

    def __len__(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._open.values())


def _filter(events: Iterable[EventType] | None) -> tuple[str, ...] | None:
    return None if events is None else tuple(_event_name(e) for e in events)


class TracingHook(BaseHook):
    """PRE events start a span, POST events end it: the span lasts as long as the operation.

    Concurrent calls are paired by ``(trace_id or agent_id, event pair, call_id or tool_name or
    model)``, first in first out. Tool and LLM spans become children of the open agent-loop span of
    the same agent. A POST without its PRE gives a zero-length span flagged ``kaizen.hook.unpaired``;
    a PRE never closed is ended and flagged the same way by :meth:`shutdown`.
    """

    def __init__(
        self,
        tracing_manager: Any = None,
        events_to_trace: Iterable[EventType] | None = None,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        include_helper_events: bool = False,
    ) -> None:
        self.events = _filter(events_to_trace)
        self._include_helper = include_helper_events
        tracer = getattr(tracing_manager, "tracer", None)
        if tracer is None:
            provider = tracer_provider or getattr(tracing_manager, "tracer_provider", None)
            tracer = trace.get_tracer("kaizen_otel.hooks", tracer_provider=provider)
        self._tracer: trace.Tracer = tracer
        self._pairs = _Pairing()

    @property
    def open_spans(self) -> int:
        return len(self._pairs)

    def process(self, context: HookContext) -> HookResult:
        name = context.event_name
        if (self.events is not None and name not in self.events) or (
            context.source == SOURCE_HELPER and not self._include_helper
        ):
            return HookResult(data={"skipped": True})
        phase, pair = _phase(name)
        key = _pair_key(context, pair)
        stamp = int(context.timestamp * 1e9)
        if phase == "pre":
            opened = self._start(context, pair, stamp)
            self._pairs.push(key, opened)
            return HookResult(data={"span_id": format(opened.get_span_context().span_id, "016x")})
        span: Span | None = self._pairs.pop(key) if phase == "post" else None
        if span is None:
            span = self._start(context, pair, stamp)
            if phase == "post":
                span.set_attribute(sc.KAIZEN_HOOK_UNPAIRED, "post_without_pre")
        span.set_attributes(_scalar_attributes(context.data, "kaizen.hook.data."))
        error = _failed_data(context.data)
        if error is not None:
            span.set_attribute(sc.ERROR_TYPE, error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=stamp)
        return HookResult()

    def _start(self, context: HookContext, pair: str, stamp: int) -> Span:
        data = context.data
        attributes: dict[str, Any] = {
            sc.KAIZEN_HOOK_EVENT: context.event_name,
            sc.GEN_AI_AGENT_ID: context.agent_id,
        }
        parent = None
        kind = SpanKind.INTERNAL
        if pair == "agent_loop":
            name = f"{sc.OP_INVOKE_AGENT} {data.get('agent_name') or context.agent_id}"
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.OP_INVOKE_AGENT
        elif pair == "tool_use":
            tool = data.get("tool_name", "tool")
            name = f"{sc.OP_EXECUTE_TOOL} {tool}"
            attributes.update({sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: str(tool)})
        elif pair == "llm_call":
            operation = str(data.get("operation", sc.OP_CHAT))
            model = data.get("model")
            name = f"{operation} {model}" if model else operation
            kind = SpanKind.CLIENT
            attributes[sc.GEN_AI_OPERATION_NAME] = operation
            if model:
                attributes[sc.GEN_AI_REQUEST_MODEL] = str(model)
            if data.get("provider"):
                attributes[sc.GEN_AI_PROVIDER_NAME] = str(data["provider"])
        else:
            name = pair
        if pair != "agent_loop":
            agent_span = self._pairs.peek(_pair_key(context, "agent_loop"))
            if agent_span is not None:
                parent = trace.set_span_in_context(agent_span)
        return self._tracer.start_span(
            name, context=parent, kind=kind, attributes=attributes, start_time=stamp
        )

    def shutdown(self) -> None:
        """End every span whose POST never came, flagged ``kaizen.hook.unpaired=pre_without_post``."""
        now = time.time_ns()
        for span in self._pairs.drain():
            span.set_attribute(sc.KAIZEN_HOOK_UNPAIRED, "pre_without_post")
            span.set_status(Status(StatusCode.ERROR, "PRE event without POST event"))
            span.end(end_time=now)


class MetricsHook(BaseHook):
    """Records, for PRE/POST pairs fired by user code, the metrics the helpers record.

    Tool use -> ``kaizen.tool.calls`` / ``kaizen.tool.duration``; LLM call ->
    ``gen_ai.client.operation.duration`` (+ ``gen_ai.client.token.usage`` from ``input_tokens`` /
    ``output_tokens`` in the POST data, ``kaizen.llm.errors`` on failure); agent loop ->
    ``kaizen.agent.runs`` / ``kaizen.agent.run.duration``. No-op until ``configure()``.
    """

    def __init__(
        self, events: Iterable[EventType] | None = None, *, include_helper_events: bool = False
    ) -> None:
        self.events = _filter(events)
        self._include_helper = include_helper_events
        self._pairs = _Pairing()

    def process(self, context: HookContext) -> HookResult:
        name = context.event_name
        if (self.events is not None and name not in self.events) or (
            context.source == SOURCE_HELPER and not self._include_helper
        ):
            return HookResult(data={"skipped": True})
        phase, pair = _phase(name)
        key = _pair_key(context, pair)
        if phase == "pre":
            self._pairs.push(key, context.timestamp)
            return HookResult()
        started = self._pairs.pop(key) if phase == "post" else None
        runtime = _runtime()
        if runtime is None or runtime.instruments is None or started is None:
            return HookResult(data={"recorded": False})
        runtime.record_hook_pair(
            pair, context, max(context.timestamp - started, 0.0), _failed_data(context.data)
        )
        return HookResult(data={"recorded": True})


_AUDIT_DEFAULT_EVENTS = (
    HookEvent.POST_AGENT_LOOP.value,
    HookEvent.POST_TOOL_USE.value,
    HookEvent.POST_LLM_CALL.value,
    HookEvent.POST_MEMORY_READ.value,
)


class AuditHook(BaseHook):
    """Writes one audit record per event: who (agent id), what (event, data), outcome, trace id.

    ``audit`` is an object with ``record(agent_id, action, details=None, result="success",
    user_id=None, metadata=None)``; by default the trail opened by ``configure()``. Only scalar
    data values are recorded, and message content never. Register it for POST events (the
    default) to record each operation once, with its outcome.
    """

    def __init__(
        self,
        audit: Any = None,
        events: Iterable[EventType] | None = _AUDIT_DEFAULT_EVENTS,
        *,
        user_id: str | None = None,
    ) -> None:
        self.events = _filter(events)
        self._audit = audit
        self._user_id = user_id

    def process(self, context: HookContext) -> HookResult:
        if self.events is not None and context.event_name not in self.events:
            return HookResult(data={"skipped": True})
        audit = self._audit
        if audit is None:
            runtime = _runtime()
            audit = runtime.audit if runtime is not None else None
        if audit is None:
            return HookResult(data={"recorded": False})
        details = {
            k: v
            for k, v in context.data.items()
            if isinstance(v, (str, bool, int, float)) and not k.startswith("_")
        }
        metadata = {"trace_id": context.trace_id, "source": context.source, **context.metadata}
        audit.record(
            context.agent_id,
            context.event_name,
            details=details,
            result="failure" if _failed_data(context.data) else "success",
            user_id=self._user_id,
            metadata=metadata,
        )
        return HookResult(data={"recorded": True})
