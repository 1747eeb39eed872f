"""One-line observability for any agent class: ``enable_observability()`` and ``cleanup()``.

:class:`ObservabilityMixin` gives an agent what the documents' ``BaseAgent`` has: a
``_hook_manager`` (created on first use), ``enable_observability(...)`` returning an
:class:`ObservabilityManager`, and ``cleanup()``. Nothing is built, wrapped or registered until
``enable_observability()`` is called, so an agent that never calls it pays nothing.

Enabling registers the existing hooks on the agent's hook manager, one per component switched on
(:class:`TracingHook`, :class:`MetricsHook`, :class:`AuditHook`, and a hook that logs each event
through the manager's :class:`StructuredLogger`), and wraps this instance's ``run`` (sync or
async) so it fires ``PRE_AGENT_LOOP`` / ``POST_AGENT_LOOP`` inside an ``invoke_agent`` span that is
current for the whole run. Tool, LLM and memory events the agent fires on ``self._hook_manager``
go through the same hooks, and every span started during the run (the hooks', the helpers',
instrumented clients') is a child of the run's span; audit records carry its trace id.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import trace

from kaizen_otel.compat.audit import AuditTrailManager
from kaizen_otel.compat.manager import ObservabilityManager
from kaizen_otel.genai import semconv as sc
from kaizen_otel.genai.hooks import (
    AuditHook,
    BaseHook,
    HookContext,
    HookEvent,
    HookManager,
    HookResult,
    MetricsHook,
    TracingHook,
    _failed_data,
    _scalar_attributes,
)
from kaizen_otel.logging import StructuredLogger

__all__ = ["LoggingHook", "ObservabilityMixin", "RunMetricsHook", "RunTracingHook", "agent_hooks"]

_log = logging.getLogger("kaizen_otel.compat")


class _SyncAudit:
    """The synchronous ``record`` the AuditHook calls, over an :class:`AuditTrailManager`."""

    def __init__(self, audit: AuditTrailManager) -> None:
        self.record = audit.record_sync


class LoggingHook(BaseHook):
    """Logs each hook event through a StructuredLogger: INFO, or ERROR when the event failed."""

    def __init__(self, logger: StructuredLogger) -> None:
        self._logger = logger

    def process(self, context: HookContext) -> HookResult:
        fields = {"agent_id": context.agent_id, **_scalar_attributes(context.data, "")}
        if _failed_data(context.data):
            self._logger.error(context.event_name, **fields)
        else:
            self._logger.info(context.event_name, **fields)
        return HookResult()


class RunTracingHook(TracingHook):
    """:class:`TracingHook` for an agent whose ``run`` span the mixin opens as the current span.

    The agent-loop events are left to the mixin, so everything started during the run (tool and
    LLM spans of this hook, the helpers' spans, instrumented HTTP clients) is a child of that span.
    """

    def process(self, context: HookContext) -> HookResult:
        if context.event_name in _LOOP_EVENTS:
            return HookResult(data={"skipped": True})
        return super().process(context)


class RunMetricsHook(MetricsHook):
    """:class:`MetricsHook` for an agent whose run span the GenAI enrichment already counts.

    The run's ``invoke_agent`` span is a GenAI span like any producer's: the enrichment processor
    counts it (runs, duration, active runs, heartbeat) and rolls the cost and tokens of the model
    calls inside it up to it. Counting the agent-loop events here too would count each run twice.
    """

    def process(self, context: HookContext) -> HookResult:
        if context.event_name in _LOOP_EVENTS:
            return HookResult(data={"skipped": True})
        return super().process(context)


_LOOP_EVENTS = frozenset({HookEvent.PRE_AGENT_LOOP.value, HookEvent.POST_AGENT_LOOP.value})


def _traces_loop(events_to_trace: Iterable[Any] | None) -> bool:
    if events_to_trace is None:
        return True
    return HookEvent.PRE_AGENT_LOOP.value in {getattr(e, "value", e) for e in events_to_trace}


def agent_hooks(
    manager: ObservabilityManager, events_to_trace: Iterable[Any] | None = None
) -> list[BaseHook]:
    """The existing hooks for the components ``manager`` has switched on."""
    hooks: list[BaseHook] = []
    tracing = manager.get_tracing_manager()
    if tracing is not None:
        hooks.append(RunTracingHook(tracing, events_to_trace))
    if manager.metrics is not None:
        runs_counted = tracing is not None and tracing.enriched and _traces_loop(events_to_trace)
        hooks.append(RunMetricsHook() if runs_counted else MetricsHook())
    if manager.audit is not None:
        hooks.append(AuditHook(_SyncAudit(manager.audit)))
    logger = manager.get_logger(manager.service_name)
    if logger is not None:
        hooks.append(LoggingHook(logger))
    return hooks


class ObservabilityMixin:
    """Mix into an agent class: ``enable_observability()``, ``cleanup()`` and ``_hook_manager``.

    The agent's id is its ``agent_id`` attribute, or its class name; it is the default service
    name and the ``agent_id`` of every event.
    """

    _observability_manager: ObservabilityManager | None = None
    _observability_hooks: tuple[BaseHook, ...] = ()
    _observability_run: _RunShape | None = None
    _kaizen_hook_manager: HookManager | None = None

    @property
    def _hook_manager(self) -> HookManager:
        """This agent's hook manager, created on first use."""
        manager = self._kaizen_hook_manager
        if manager is None:
            manager = self._kaizen_hook_manager = HookManager()
        return manager

    @_hook_manager.setter
    def _hook_manager(self, manager: HookManager) -> None:
        self._kaizen_hook_manager = manager

    def _observability_agent_id(self) -> str:
        return str(getattr(self, "agent_id", None) or type(self).__name__)

    def enable_observability(
        self,
        service_name: str | None = None,
        jaeger_host: str | None = None,
        jaeger_port: int = 4317,
        enable_metrics: bool = True,
        enable_logging: bool = True,
        enable_tracing: bool = True,
        enable_audit: bool = True,
        events_to_trace: Iterable[Any] | None = None,
    ) -> ObservabilityManager:
        """Switch observability on for this agent and return its manager (a second call replaces it)."""
        manager = ObservabilityManager(
            service_name or self._observability_agent_id(),
            enable_metrics,
            enable_logging,
            enable_tracing,
            enable_audit,
            jaeger_host=jaeger_host,
            jaeger_port=jaeger_port,
        )
        self._release_observability()
        hooks = tuple(agent_hooks(manager, events_to_trace))
        for hook in hooks:
            self._hook_manager.register_hook(hook)
        self._observability_manager = manager
        self._observability_hooks = hooks
        tracing = manager.get_tracing_manager()
        tracer = tracing.tracer if tracing is not None and _traces_loop(events_to_trace) else None
        self._observability_run = _RunShape(
            self._hook_manager, self._observability_agent_id(), manager.service_name, tracer
        )
        self._observe_run()
        return manager

    def _release_observability(self) -> None:
        self._observability_run = None
        manager, self._observability_manager = self._observability_manager, None
        hooks, self._observability_hooks = self._observability_hooks, ()
        for hook in hooks:
            self._hook_manager.unregister(hook)
            hook.shutdown()
        if manager is not None:
            manager.shutdown()

    def cleanup(self) -> None:
        """Flush traces, metrics and logs and close the audit file; then the class's own cleanup."""
        self._release_observability()
        parent = getattr(super(), "cleanup", None)
        if callable(parent):
            parent()

    def _observe_run(self) -> None:
        """Wrap this instance's ``run`` once so each call fires PRE/POST_AGENT_LOOP."""
        run = getattr(self, "run", None)
        if not callable(run) or getattr(run, "_kaizen_observed", False):
            return
        wrapper = _async_observed(self, run) if inspect.iscoroutinefunction(run) else _observed(self, run)
        wrapper._kaizen_observed = True  # type: ignore[attr-defined]
        try:
            self.run = wrapper
        except AttributeError:  # __slots__ without run: the agent fires the events itself
            _log.warning("kaizen_otel: %s.run cannot be wrapped; fire agent events yourself", type(self))


class _RunShape:
    """What each observed run needs, computed once at ``enable_observability()``."""

    __slots__ = ("agent_id", "attributes", "data", "hooks", "span_name", "tracer")

    def __init__(self, hooks: HookManager, agent_id: str, name: str, tracer: Any) -> None:
        self.hooks = hooks
        self.agent_id = agent_id
        self.data = {"agent_name": name}
        self.tracer = tracer
        self.span_name = f"{sc.OP_INVOKE_AGENT} {name}"
        self.attributes = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
            sc.GEN_AI_AGENT_NAME: name,
            sc.GEN_AI_AGENT_ID: agent_id,
        }

    def span(self) -> Any:
        """The run's span, current for the whole run (nothing when the loop is not traced)."""
        if self.tracer is None:
            return contextlib.nullcontext()
        return self.tracer.start_as_current_span(self.span_name, attributes=self.attributes)

    def failed(self, exc: BaseException) -> dict[str, Any]:
        if self.tracer is not None:
            trace.get_current_span().set_attribute(sc.ERROR_TYPE, type(exc).__qualname__)
        return {**self.data, "success": False, "error_type": type(exc).__qualname__}

    def succeeded(self) -> dict[str, Any]:
        return {**self.data, "success": True}


def _observed(agent: ObservabilityMixin, run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run)
    def observed_run(*args: Any, **kwargs: Any) -> Any:
        shape = agent._observability_run
        if shape is None:
            return run(*args, **kwargs)
        with shape.span():
            shape.hooks.trigger_sync(HookEvent.PRE_AGENT_LOOP, shape.agent_id, shape.data)
            try:
                result = run(*args, **kwargs)
            except BaseException as exc:
                shape.hooks.trigger_sync(HookEvent.POST_AGENT_LOOP, shape.agent_id, shape.failed(exc))
                raise
            shape.hooks.trigger_sync(HookEvent.POST_AGENT_LOOP, shape.agent_id, shape.succeeded())
            return result

    return observed_run


def _async_observed(agent: ObservabilityMixin, run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run)
    async def observed_run(*args: Any, **kwargs: Any) -> Any:
        shape = agent._observability_run
        if shape is None:
            return await run(*args, **kwargs)
        with shape.span():
            await shape.hooks.trigger(HookEvent.PRE_AGENT_LOOP, shape.agent_id, shape.data)
            try:
                result = await run(*args, **kwargs)
            except BaseException as exc:
                await shape.hooks.trigger(HookEvent.POST_AGENT_LOOP, shape.agent_id, shape.failed(exc))
                raise
            await shape.hooks.trigger(HookEvent.POST_AGENT_LOOP, shape.agent_id, shape.succeeded())
            return result

    return observed_run
