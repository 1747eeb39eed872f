"""Agent runs, LLM calls and tool calls: spans, metrics, cost, budgets and hook events.

Three shapes of the same thing, after util-genai's ``TelemetryHandler``:

* ``start_agent_run(...)`` / ``start_llm_call(...)`` / ``start_tool_call(...)`` return an
  invocation with ``.stop()`` and ``.fail(exc)``;
* ``agent_run(...)`` / ``llm_call(...)`` / ``tool_call(...)`` are context managers (``with`` and
  ``async with``) around the same invocation;
* the same objects decorate functions: sync, async, generators and async generators.

The hot path is written for cost: one attribute read decides whether anything is configured (if
not, shared no-op objects are returned), spans are started with their attributes in one call and
made current with one ``attach``, metric attribute dicts are built once per distinct key and reused,
and instruments are looked up once at configure time.
"""

from __future__ import annotations

import abc
import functools
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation import _SPAN_KEY as _SPAN_CONTEXT_KEY

from kaizen_otel.exceptions import BudgetExceededError
from kaizen_otel.genai import runtime as _rt
from kaizen_otel.genai import semconv as sc
from kaizen_otel.genai.budgets import RunBudget
from kaizen_otel.genai.hooks import SOURCE_HELPER, HookContext, HookEvent
from kaizen_otel.genai.shapes import agent_shape, llm_shape, tool_shape

__all__ = [
    "AgentInvocation",
    "LLMInvocation",
    "ToolInvocation",
    "agent_run",
    "current_agent_run",
    "llm_call",
    "start_agent_run",
    "start_llm_call",
    "start_tool_call",
    "tool_call",
]

F = TypeVar("F", bound=Callable[..., Any])

_current_run: ContextVar[AgentInvocation | None] = ContextVar("kaizen_otel_agent_run", default=None)

_LEVELS: dict[str, tuple[SeverityNumber, str]] = {
    name: (level, level.name)
    for name, level in (
        ("debug", SeverityNumber.DEBUG),
        ("info", SeverityNumber.INFO),
        ("warning", SeverityNumber.WARN),
        ("warn", SeverityNumber.WARN),
        ("error", SeverityNumber.ERROR),
        ("critical", SeverityNumber.FATAL),
    )
}
_INFO = _LEVELS["info"]
_INTERNAL = SpanKind.INTERNAL
_CLIENT = SpanKind.CLIENT
_set_value = otel_context.set_value
_SPAN_KEY = _SPAN_CONTEXT_KEY
_attach = otel_context.attach
_get_current = otel_context.get_current
_detach = otel_context.detach
_perf = time.perf_counter
_now = time.time
_now_ns = time.time_ns


def current_agent_run() -> AgentInvocation | None:
    """The agent run this code runs in (None outside any ``agent_run`` or before configure)."""
    return _current_run.get()


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return (
        cls.__qualname__
        if cls.__module__ in ("builtins", "__main__")
        else f"{cls.__module__}.{cls.__qualname__}"
    )


def _count(value: Any, kind: type = int) -> Any:
    """``value`` as a finite, non-negative ``kind``, or None when it is not one."""
    if kind is int and value.__class__ is int and value >= 0:  # the common case: one class check
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < _INF:
        return value if type(value) is kind else kind(value)
    return None


_INF = float("inf")


def _to_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


class _Noop:
    """What every helper returns before ``configure()``: accepts every call, records nothing."""

    __slots__ = ()
    span = trace.INVALID_SPAN
    name = ""
    agent_id = None
    cost_usd = 0.0
    tokens = 0
    iterations = 0

    def __enter__(self) -> _Noop:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> _Noop:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def stop(self, *args: Any, **kwargs: Any) -> None:
        return None

    def fail(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set_attribute(self, *args: Any, **kwargs: Any) -> None:
        return None

    def record_usage(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set_response(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set_output(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set_result(self, *args: Any, **kwargs: Any) -> None:
        return None

    def record_cost(self, *args: Any, **kwargs: Any) -> None:
        return None

    def heartbeat(self) -> None:
        return None

    def chunk(self) -> None:
        return None

    def iteration(self) -> _Noop:
        return self


NOOP = _Noop()


class _Invocation(abc.ABC):
    """Shared parts: the span, making it current, logging, ending once."""

    __slots__ = ("_ended", "_hooked", "_rt", "_started", "_token", "span")

    _rt: _rt.Runtime
    span: Span

    def _begin_span(
        self, name: str, kind: SpanKind, attributes: dict[str, Any], parent: Context | None, attach: bool
    ) -> None:
        tracer = self._rt.tracer
        self._token: Token[Context] | None = None
        if tracer is None:
            self.span = trace.INVALID_SPAN
            return
        # One read of the current context serves the span's parent and the context it is made current in.
        context = parent if parent is not None else _get_current()
        self.span = span = tracer.start_span(name, context, kind, attributes)
        if attach:
            self._token = _attach(_set_value(_SPAN_KEY, span, context))

    def _end_span(self, error: BaseException | None, error_type: str | None) -> None:
        token = self._token
        if token is not None:
            self._token = None
            try:
                _detach(token)
            except Exception:  # stopped in another context than it started: nothing to undo here
                pass
        span = self.span
        if span is trace.INVALID_SPAN:
            return
        if error_type is not None:
            span.set_attribute(sc.ERROR_TYPE, error_type)
            if error is not None:
                span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error) if error is not None else error_type))
        span.end()

    # --- used by scopes for generator bodies: current only while the body runs -----------------
    def _activate(self) -> Token[Context] | None:
        if self.span is trace.INVALID_SPAN:
            return None
        return _attach(_set_value(_SPAN_KEY, self.span))

    def log(self, body: Any, attributes: Mapping[str, Any] | None = None, *, level: str = "info") -> None:
        """One log record through the OTel logs API, correlated with this span."""
        logger = self._rt.logger
        if logger is not None:
            severity, text = _LEVELS.get(level, _INFO)
            now = _now_ns()  # observed when emitted: the spec's value for first-party logs
            logger.emit(
                timestamp=now,
                observed_timestamp=now,
                severity_number=severity,
                severity_text=text,
                body=body,
                attributes=attributes,
            )

    def set_attribute(self, key: str, value: Any) -> None:
        """An extra attribute on this invocation's span."""
        self.span.set_attribute(key, value)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.fail(exc)
        else:
            self.stop()

    def stop(self) -> None:
        """End successfully."""
        self._finish(None, None, sync=True)

    def fail(self, error: BaseException | str) -> None:
        """End as failed, with the exception (or an error type name) recorded."""
        if isinstance(error, BaseException):
            self._finish(error, _error_type(error), sync=True)
        else:
            self._finish(None, str(error), sync=True)

    @abc.abstractmethod
    def _finish(
        self, error: BaseException | None, error_type: str | None, *, sync: bool
    ) -> HookContext | None:
        """Record the end; with ``sync=False`` return the POST hook context for the caller to await."""

    @abc.abstractmethod
    def _pre_context(self) -> HookContext:
        """The PRE hook context of this invocation."""

    def _hook_context(self, event: HookEvent, agent_id: str, data: dict[str, Any]) -> HookContext:
        span_context = self.span.get_span_context()
        trace_id = format(span_context.trace_id, "032x") if span_context.is_valid else None
        return HookContext(event, agent_id, trace_id, _now(), data, source=SOURCE_HELPER)


# ================================================================================================
# agent runs
# ================================================================================================
class AgentInvocation(_Invocation):
    """One run of an agent: an ``invoke_agent {name}`` span, run metrics, a run budget, heartbeats."""

    __slots__ = ("_run_token", "_shape", "agent_id", "budget", "conversation_id", "iterations", "name")

    def __init__(
        self,
        rt: _rt.Runtime,
        name: str,
        agent_id: str | None,
        conversation_id: str | None,
        description: str | None,
        budget_usd: float | None,
        budget_tokens: int | None,
        attributes: Mapping[str, Any] | None,
        parent: Context | None,
        attach: bool,
        fire: bool,
    ) -> None:
        self._rt = rt
        self.name = name
        self.agent_id = agent_id
        self.conversation_id = conversation_id
        self.iterations = 0
        self._ended = False
        self.budget: RunBudget = rt.budgets.new_run(name, agent_id, budget_usd, budget_tokens)
        self._shape = shape = rt.agent_shapes.get(name) or agent_shape(rt, name)
        attrs = shape.span_attrs
        if agent_id is not None or conversation_id is not None or description is not None or attributes:
            attrs = dict(attrs)
            if agent_id is not None:
                attrs[sc.GEN_AI_AGENT_ID] = agent_id
            if conversation_id is not None:
                attrs[sc.GEN_AI_CONVERSATION_ID] = conversation_id
            if description is not None:
                attrs[sc.GEN_AI_AGENT_DESCRIPTION] = description
            if attributes:
                attrs.update(attributes)
        self._begin_span(shape.span_name, _INTERNAL, attrs, parent, attach)
        enricher = rt.enricher
        if enricher is not None:  # the processor rolls this run up against the run's own limits
            enricher.adopt_run(self.span, self.budget)
        self._run_token: Token[AgentInvocation | None] | None = _current_run.set(self) if attach else None
        self._hooked = rt.hooks.active
        if self._hooked and fire:
            rt.hooks.trigger_sync(self._pre_context())
        self._started = _perf()

    @property
    def cost_usd(self) -> float:
        return self.budget.usd

    @property
    def tokens(self) -> int:
        return self.budget.tokens

    def _pre_context(self) -> HookContext:
        return self._hook_context(
            HookEvent.PRE_AGENT_LOOP, self.agent_id or self.name, {"agent_name": self.name}
        )

    def _post_context(self, error_type: str | None, seconds: float) -> HookContext:
        data: dict[str, Any] = {
            "agent_name": self.name,
            "iterations": self.iterations,
            "cost_usd": self.budget.usd,
            "tokens": self.budget.tokens,
            "duration_ms": seconds * 1e3,
            "success": error_type is None,
        }
        if error_type is not None:
            data["error_type"] = error_type
        return self._hook_context(HookEvent.POST_AGENT_LOOP, self.agent_id or self.name, data)

    def heartbeat(self) -> None:
        """Mark progress now (LLM calls, tool calls and iterations do this themselves)."""
        self._rt.beat(self.name)

    def iteration(self) -> _Iteration:
        """A context manager around one loop iteration: counted, timed, outcome recorded."""
        return _Iteration(self)

    def _finish(
        self, error: BaseException | None, error_type: str | None, *, sync: bool
    ) -> HookContext | None:
        if self._ended:
            return None
        self._ended = True
        seconds = _perf() - self._started
        rt = self._rt
        if self._run_token is not None:
            try:
                _current_run.reset(self._run_token)
            except ValueError:
                pass
            self._run_token = None
        span = self.span
        if span is not trace.INVALID_SPAN:
            span.set_attribute(sc.KAIZEN_RUN_ITERATIONS, self.iterations)
        self._end_span(error, error_type)  # run metrics, roll-up attributes, heartbeat: the processor
        post = self._post_context(error_type, seconds) if self._hooked else None
        if post is not None and sync:
            rt.hooks.trigger_sync(post)
            return None
        return post

    def _activate_run(self) -> tuple[Token[Context] | None, Token[AgentInvocation | None]]:
        return self._activate(), _current_run.set(self)


class _Iteration:
    __slots__ = ("_run", "_started")

    def __init__(self, run: AgentInvocation) -> None:
        self._run = run
        self._started = 0.0

    def __enter__(self) -> _Iteration:
        self._started = _perf()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        run = self._run
        rt = run._rt
        run.iterations += 1
        ins = rt.instruments
        if ins is not None:
            attrs = run._shape.ok if exc is None else run._shape.error
            context = _get_current()
            ins.iterations.add(1, attrs, context)
            ins.iteration_duration.record(_perf() - self._started, attrs, context)
        rt.beat(run.name)

    async def __aenter__(self) -> _Iteration:
        return self.__enter__()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.__exit__(exc_type, exc, tb)


def start_agent_run(
    name: str,
    *,
    agent_id: str | None = None,
    conversation_id: str | None = None,
    description: str | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    attributes: Mapping[str, Any] | None = None,
    context: Context | None = None,
    _fire_hooks: bool = True,
) -> AgentInvocation:
    """Start an agent run (``invoke_agent {name}``), current until ``.stop()`` or ``.fail(exc)``.

    ``budget_usd`` / ``budget_tokens`` override the run budget settings for this run;
    ``context`` parents the run on an extracted remote context (see ``extract_context``).
    """
    rt = _rt._runtime or _rt.current()
    if rt is None:
        return cast(AgentInvocation, NOOP)
    return AgentInvocation(
        rt,
        name,
        agent_id,
        conversation_id,
        description,
        budget_usd,
        budget_tokens,
        attributes,
        context,
        True,
        _fire_hooks,
    )


# ================================================================================================
# LLM calls
# ================================================================================================
class LLMInvocation(_Invocation):
    """One model call: a ``{operation} {model}`` client span, token and duration metrics, cost."""

    __slots__ = (
        "_attrs_key",
        "_cached",
        "_chunks",
        "_first_chunk",
        "_input",
        "_output",
        "_reasoning",
        "_response",
        "_run",
        "_shape",
        "model",
        "operation",
        "provider",
    )

    def __init__(
        self,
        rt: _rt.Runtime,
        provider: str,
        model: str,
        operation: str,
        run: AgentInvocation | None,
        request: Mapping[str, Any] | None,
        attributes: Mapping[str, Any] | None,
        messages: Any,
        system_instructions: Any,
        fire: bool,
    ) -> None:
        self._rt = rt
        self.provider = provider
        self.model = model
        self.operation = operation
        self._run = run
        self._ended = False
        self._input: int | None = None
        self._output: int | None = None
        self._cached = 0
        self._reasoning = 0
        self._chunks = 0
        self._first_chunk = 0.0
        self._response: dict[str, Any] | None = None
        agent = run.name if run is not None else None
        self._shape = shape = rt.llm_shapes.get((provider, model, operation, agent)) or llm_shape(
            rt, provider, model, operation, agent
        )
        attrs = shape.span_attrs
        capture = rt.capture_content and (messages is not None or system_instructions is not None)
        if request or attributes or capture:
            attrs = dict(attrs)
            if request:
                attrs.update(request)
            if attributes:
                attrs.update(attributes)
            if capture:
                if messages is not None:
                    attrs[sc.GEN_AI_INPUT_MESSAGES] = _to_json(messages)
                if system_instructions is not None:
                    attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = _to_json(system_instructions)
        self._begin_span(shape.span_name, _CLIENT, attrs, None, True)
        self._hooked = rt.hooks.active
        if self._hooked and fire:
            rt.hooks.trigger_sync(self._pre_context())
        self._started = _perf()

    def _agent_id(self) -> str:
        run = self._run
        return (run.agent_id or run.name) if run is not None else ""

    def _pre_context(self) -> HookContext:
        return self._hook_context(
            HookEvent.PRE_LLM_CALL,
            self._agent_id(),
            {
                "provider": self.provider,
                "model": self.model,
                "operation": self.operation,
            },
        )

    def record_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        *,
        cached_input_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> None:
        """Token counts. ``input_tokens`` includes cached ones, ``output_tokens`` reasoning ones.

        A count that is not a non-negative whole number (a string, NaN, -1) is left out, rather
        than failing the app's call when the span ends.
        """
        self._input = _count(input_tokens)
        self._output = _count(output_tokens)
        self._cached = _count(cached_input_tokens) or 0
        self._reasoning = _count(reasoning_tokens) or 0

    def set_response(
        self,
        *,
        model: str | None = None,
        finish_reasons: Sequence[str] | None = None,
        response_id: str | None = None,
        output: Any = None,
    ) -> None:
        """Response model, finish reasons and id; ``output`` messages only with content capture on."""
        response: dict[str, Any] = self._response or {}
        if model is not None:
            response[sc.GEN_AI_RESPONSE_MODEL] = model
        if finish_reasons is not None:
            response[sc.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(finish_reasons)
        if response_id is not None:
            response[sc.GEN_AI_RESPONSE_ID] = response_id
        if output is not None and self._rt.capture_content:
            response[sc.GEN_AI_OUTPUT_MESSAGES] = _to_json(output)
        self._response = response

    def chunk(self) -> None:
        """One chunk of a streamed answer arrived: gives ``gen_ai.client.operation.time_to_first_chunk``
        and ``time_per_output_chunk`` (call it per chunk, from the first)."""
        if not self._chunks:
            self._first_chunk = _perf()
        self._chunks += 1

    def set_output(self, output: Any) -> None:
        """Completion messages (recorded only when message-content capture is on)."""
        self.set_response(output=output)

    def _finish(
        self, error: BaseException | None, error_type: str | None, *, sync: bool
    ) -> HookContext | None:
        if self._ended:
            return None
        self._ended = True
        seconds = _perf() - self._started
        rt = self._rt
        provider, model, op = self.provider, self.model, self.operation
        response = self._response
        input_tokens = self._input
        output_tokens = self._output
        span = self.span
        if span is not trace.INVALID_SPAN:
            end_attrs: dict[str, Any] = dict(response) if response else {}
            if input_tokens is not None:
                end_attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
            if output_tokens is not None:
                end_attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
            if self._cached:
                end_attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = self._cached
            if self._reasoning:
                end_attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = self._reasoning
            if self._chunks:
                end_attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._first_chunk - self._started
                end_attrs[sc.KAIZEN_RESPONSE_CHUNKS] = self._chunks
            if end_attrs:
                span.set_attributes(end_attrs)
        if error_type is not None:
            rt.emit_log(
                f"LLM call {op} {model} failed: {error_type}",
                SeverityNumber.WARN,
                {
                    sc.GEN_AI_PROVIDER_NAME: provider,
                    sc.GEN_AI_REQUEST_MODEL: model,
                    sc.ERROR_TYPE: error_type,
                },
            )
        # Cost, token and duration metrics, budgets, roll-up and heartbeat: the enrichment processor.
        self._end_span(error, error_type)
        post = None
        if self._hooked:
            data: dict[str, Any] = {
                "provider": provider,
                "model": model,
                "operation": op,
                "input_tokens": input_tokens or 0,
                "output_tokens": output_tokens or 0,
                "cost_usd": _span_cost(span),
                "duration_ms": seconds * 1e3,
                "success": error_type is None,
            }
            if error_type is not None:
                data["error_type"] = error_type
            post = self._hook_context(HookEvent.POST_LLM_CALL, self._agent_id(), data)
        if post is not None and sync:
            rt.hooks.trigger_sync(post)
            return None
        return post


def _span_cost(span: Span) -> float:
    """The cost the enrichment processor wrote on an ended LLM span (0.0 without one)."""
    attributes = getattr(span, "attributes", None)
    cost = attributes.get(sc.KAIZEN_COST_USD) if attributes else None
    return float(cost) if isinstance(cost, (int, float)) else 0.0


def start_llm_call(
    provider: str,
    model: str,
    operation: str = sc.OP_CHAT,
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    attributes: Mapping[str, Any] | None = None,
    messages: Any = None,
    system_instructions: Any = None,
    _fire_hooks: bool = True,
) -> LLMInvocation:
    """Start an LLM call span, current until ``.stop()``/``.fail(exc)``.

    Raises :class:`~kaizen_otel.exceptions.BudgetExceededError` *before* the call when an enforced
    budget of the current run or of the process is already crossed. ``messages`` and
    ``system_instructions`` are recorded only with message-content capture on.
    """
    rt = _rt._runtime or _rt.current()
    if rt is None:
        return cast(LLMInvocation, NOOP)
    run = _current_run.get()
    if rt.budgets.enforce:
        try:
            rt.budgets.check(run.budget if run is not None else None)
        except BudgetExceededError as exc:
            rt.refuse(exc, provider, model, (run.agent_id or run.name) if run is not None else None)
            raise
    request: dict[str, Any] | None = None
    if max_tokens is not None or temperature is not None or top_p is not None:
        request = {}
        if max_tokens is not None:
            request[sc.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        if temperature is not None:
            request[sc.GEN_AI_REQUEST_TEMPERATURE] = temperature
        if top_p is not None:
            request[sc.GEN_AI_REQUEST_TOP_P] = top_p
    return LLMInvocation(
        rt, provider, model, operation, run, request, attributes, messages, system_instructions, _fire_hooks
    )


# ================================================================================================
# tool calls
# ================================================================================================
class ToolInvocation(_Invocation):
    """One tool execution: an ``execute_tool {name}`` span, ``kaizen.tool.*`` metrics per tool and outcome."""

    __slots__ = ("_run", "_shape", "call_id", "name")

    def __init__(
        self,
        rt: _rt.Runtime,
        name: str,
        call_id: str | None,
        description: str | None,
        tool_type: str,
        arguments: Any,
        attributes: Mapping[str, Any] | None,
        run: AgentInvocation | None,
        fire: bool,
    ) -> None:
        self._rt = rt
        self.name = name
        self.call_id = call_id
        self._run = run
        self._ended = False
        agent = run.name if run is not None else None
        self._shape = shape = rt.tool_shapes.get((name, agent)) or tool_shape(rt, name, agent)
        attrs = shape.span_attrs
        capture = arguments is not None and rt.capture_content
        if call_id is not None or description is not None or attributes or capture or tool_type != "function":
            attrs = dict(attrs)
            attrs[sc.GEN_AI_TOOL_TYPE] = tool_type
            if call_id is not None:
                attrs[sc.GEN_AI_TOOL_CALL_ID] = call_id
            if description is not None:
                attrs[sc.GEN_AI_TOOL_DESCRIPTION] = description
            if attributes:
                attrs.update(attributes)
            if capture:
                attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _to_json(arguments)
        self._begin_span(shape.span_name, _INTERNAL, attrs, None, True)
        self._hooked = rt.hooks.active
        if self._hooked and fire:
            rt.hooks.trigger_sync(self._pre_context())
        self._started = _perf()

    def _agent_id(self) -> str:
        run = self._run
        return (run.agent_id or run.name) if run is not None else ""

    def _call_key(self) -> str:
        return self.call_id or f"{self.name}#{id(self):x}"

    def _pre_context(self) -> HookContext:
        return self._hook_context(
            HookEvent.PRE_TOOL_USE, self._agent_id(), {"tool_name": self.name, "call_id": self._call_key()}
        )

    def set_result(self, result: Any) -> None:
        """The tool's result (recorded only when message-content capture is on)."""
        if self._rt.capture_content:
            self.span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, _to_json(result))

    def record_cost(self, usd: float) -> None:
        """A cost of this tool call (a paid API, for example): counted in ``kaizen.cost`` and budgets."""
        rt = self._rt
        run = self._run
        agent = run.name if run is not None else None
        usd = _count(usd, float) or 0.0
        if rt.instruments is not None and usd > 0:
            rt.instruments.cost.add(
                usd,
                (
                    rt._attrs.get(("toolcost", self.name, agent))
                    or rt.attrs(
                        ("toolcost", self.name, agent),
                        ((sc.GEN_AI_TOOL_NAME, self.name), (sc.GEN_AI_AGENT_NAME, agent)),
                    )
                ),
            )
        rt.budgets.add(run.budget if run is not None else None, usd, 0)

    def _finish(
        self, error: BaseException | None, error_type: str | None, *, sync: bool
    ) -> HookContext | None:
        if self._ended:
            return None
        self._ended = True
        seconds = _perf() - self._started
        rt = self._rt
        if error_type is not None:
            rt.emit_log(
                f"tool {self.name} failed: {error_type}",
                SeverityNumber.WARN,
                {sc.GEN_AI_TOOL_NAME: self.name, sc.ERROR_TYPE: error_type},
            )
        self._end_span(error, error_type)  # tool metrics and heartbeat: the enrichment processor
        post = None
        if self._hooked:
            data: dict[str, Any] = {
                "tool_name": self.name,
                "call_id": self._call_key(),
                "duration_ms": seconds * 1e3,
                "success": error_type is None,
            }
            if error_type is not None:
                data["error_type"] = error_type
            post = self._hook_context(HookEvent.POST_TOOL_USE, self._agent_id(), data)
        if post is not None and sync:
            rt.hooks.trigger_sync(post)
            return None
        return post


def start_tool_call(
    name: str,
    *,
    call_id: str | None = None,
    description: str | None = None,
    tool_type: str = "function",
    arguments: Any = None,
    attributes: Mapping[str, Any] | None = None,
    _fire_hooks: bool = True,
) -> ToolInvocation:
    """Start a tool call span, current until ``.stop()``/``.fail(exc)``.

    ``arguments`` are recorded only with message-content capture on.
    """
    rt = _rt._runtime or _rt.current()
    if rt is None:
        return cast(ToolInvocation, NOOP)
    return ToolInvocation(
        rt, name, call_id, description, tool_type, arguments, attributes, _current_run.get(), _fire_hooks
    )


# ================================================================================================
# context managers and decorators
# ================================================================================================
class _Scope:
    """``with`` / ``async with`` / decorator form of one ``start_*`` function.

    As a context manager it is single-use (each ``with agent_run(...)`` makes a new one); as a
    decorator each call of the decorated function gets its own invocation.
    """

    __slots__ = ("_args", "_inv", "_kwargs", "_start")

    def __init__(self, start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._start = start
        self._args = args
        self._kwargs = kwargs
        self._inv: Any = None

    # sync
    def __enter__(self) -> Any:
        if _rt._runtime is None and _rt.current() is None:
            return NOOP
        self._inv = inv = self._start(*self._args, **self._kwargs)
        return inv

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        inv = self._inv
        if inv is None:
            return
        self._inv = None
        if exc is not None:
            inv.fail(exc)
        else:
            inv.stop()

    # async: hooks are awaited instead of called
    async def __aenter__(self) -> Any:
        if _rt._runtime is None and _rt.current() is None:
            return NOOP
        self._inv = inv = self._start(*self._args, _fire_hooks=False, **self._kwargs)
        if inv is not NOOP and inv._hooked:
            await inv._rt.hooks.trigger(inv._pre_context())
        return inv

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        inv = self._inv
        if inv is None:
            return
        self._inv = None
        if exc is not None:
            post = inv._finish(exc, _error_type(exc), sync=False)
        else:
            post = inv._finish(None, None, sync=False)
        if post is not None:
            await inv._rt.hooks.trigger(post)

    # decorator
    def __call__(self, fn: F) -> F:
        start, args, kwargs = self._start, self._args, self._kwargs
        if inspect.isasyncgenfunction(fn):
            return cast(F, _wrap_async_gen(fn, start, args, kwargs))
        if inspect.isgeneratorfunction(fn):
            return cast(F, _wrap_gen(fn, start, args, kwargs))
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*a: Any, **k: Any) -> Any:
                async with _Scope(start, args, kwargs) as inv:
                    result = await fn(*a, **k)
                    _auto_usage(inv, result)
                    return result

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with _Scope(start, args, kwargs) as inv:
                result = fn(*a, **k)
                _auto_usage(inv, result)
                return result

        return cast(F, wrapper)


def _auto_usage(inv: Any, result: Any) -> None:
    """Decorated LLM functions: take token usage from a returned ``usage`` (OpenAI/Anthropic shapes)."""
    if type(inv) is not LLMInvocation or inv._input is not None:
        return
    usage = result.get("usage") if isinstance(result, dict) else getattr(result, "usage", None)
    if usage is None:
        return

    def field(*names: str) -> int | None:
        for name in names:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
            if isinstance(value, int):
                return value
        return None

    inv.record_usage(field("input_tokens", "prompt_tokens"), field("output_tokens", "completion_tokens"))
    model = result.get("model") if isinstance(result, dict) else getattr(result, "model", None)
    if isinstance(model, str):
        inv.set_response(model=model)


def _step_tokens(inv: Any) -> tuple[Token[Context] | None, Token[Any] | None]:
    if isinstance(inv, AgentInvocation):
        return inv._activate_run()
    if isinstance(inv, _Invocation):
        return inv._activate(), None
    return None, None


def _unstep(tokens: tuple[Token[Context] | None, Token[Any] | None]) -> None:
    ctx_token, run_token = tokens
    if run_token is not None:
        _current_run.reset(run_token)
    if ctx_token is not None:
        _detach(ctx_token)


def _start_detached(start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Start an invocation for a generator: it is made current only while the generator runs."""
    inv = start(*args, **kwargs)
    if isinstance(inv, _Invocation):
        token = inv._token
        if token is not None:
            inv._token = None
            _detach(token)
        if isinstance(inv, AgentInvocation) and inv._run_token is not None:
            _current_run.reset(inv._run_token)
            inv._run_token = None
    return inv


def _wrap_gen(
    fn: Callable[..., Generator[Any, Any, Any]],
    start: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Callable[..., Iterator[Any]]:
    @functools.wraps(fn)
    def wrapper(*a: Any, **k: Any) -> Iterator[Any]:
        inv = _start_detached(start, args, kwargs)
        gen = fn(*a, **k)
        sent: Any = None
        try:
            while True:
                tokens = _step_tokens(inv)
                try:
                    item = gen.send(sent)
                except StopIteration as stop:
                    inv.stop()
                    return stop.value
                finally:
                    _unstep(tokens)
                sent = yield item
        except GeneratorExit:
            gen.close()
            inv.stop()
            raise
        except BaseException as exc:
            inv.fail(exc)
            raise

    return wrapper


def _wrap_async_gen(
    fn: Callable[..., AsyncIterator[Any]],
    start: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(fn)
    async def wrapper(*a: Any, **k: Any) -> AsyncIterator[Any]:
        inv = _start_detached(start, args, kwargs)
        agen = fn(*a, **k)
        sent: Any = None
        try:
            while True:
                tokens = _step_tokens(inv)
                try:
                    item = await agen.asend(sent)  # type: ignore[attr-defined]
                except StopAsyncIteration:
                    inv.stop()
                    return
                finally:
                    _unstep(tokens)
                sent = yield item
        except GeneratorExit:
            await agen.aclose()  # type: ignore[attr-defined]
            inv.stop()
            raise
        except BaseException as exc:
            inv.fail(exc)
            raise

    return wrapper


def _named(target: Any, start: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """``@agent_run`` / ``@tool_call`` used bare: the function's name is the agent's or tool's."""
    return _Scope(start, (target.__name__,), kwargs)(target)


def agent_run(name: Any = None, **kwargs: Any) -> Any:
    """Context manager (sync/async) and decorator form of :func:`start_agent_run`.

    ``with agent_run("planner", agent_id="p-1") as run: ...``; ``@agent_run("planner")``;
    bare ``@agent_run`` names the run after the function.
    """
    if type(name) is str:
        return _Scope(start_agent_run, (name,), kwargs)
    if name is None:
        return _DeferredName(start_agent_run, kwargs)
    return _named(name, start_agent_run, kwargs)


def tool_call(name: Any = None, **kwargs: Any) -> Any:
    """Context manager (sync/async) and decorator form of :func:`start_tool_call`."""
    if type(name) is str:
        return _Scope(start_tool_call, (name,), kwargs)
    if name is None:
        return _DeferredName(start_tool_call, kwargs)
    return _named(name, start_tool_call, kwargs)


def llm_call(provider: str, model: str, operation: str = sc.OP_CHAT, **kwargs: Any) -> Any:
    """Context manager (sync/async) and decorator form of :func:`start_llm_call`.

    As a decorator, a returned object or dict with ``usage`` (``input_tokens``/``prompt_tokens``,
    ``output_tokens``/``completion_tokens``) is recorded automatically.
    """
    return _Scope(start_llm_call, (provider, model, operation), kwargs)


class _DeferredName:
    """``@tool_call()`` with no name: decorating gives the function's name."""

    __slots__ = ("_kwargs", "_start")

    def __init__(self, start: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self._start = start
        self._kwargs = kwargs

    def __call__(self, fn: F) -> F:
        return cast(F, _named(fn, self._start, self._kwargs))
