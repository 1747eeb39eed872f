"""The agent view from GenAI-convention spans, whoever produced them: one processor.

:class:`GenAIEnrichmentProcessor` follows every span with a ``gen_ai.operation.name`` (or a
neighbouring convention's equivalent, see :mod:`~kaizen_otel.genai.conventions`): our helpers'
spans, openai-v2's, anthropic's, pydantic-ai's, the OpenAI Agents SDK's. From each it computes

* model calls: the cost from the usage and the response (else request) model through the pricing
  table, written on the span as ``kaizen.cost.usd`` and added to ``kaizen.cost``; the
  ``gen_ai.client.token.usage`` / ``gen_ai.client.operation.duration`` measurements and
  ``kaizen.llm.errors``; the tokens and cost rolled up to the enclosing ``invoke_agent`` run and
  the process, which is what feeds budgets (warning, audit record, metric);
* agent runs (``invoke_agent``): ``kaizen.run.cost.usd`` / ``kaizen.run.tokens`` on the span, the
  provider and server of its model calls when the span lacks them, run count, duration and active
  runs, and the agent's heartbeat;
* tool calls (``execute_tool``): count and duration per tool and agent, heartbeat.

One real operation is counted once. A model-call span that starts inside another one (our
``llm_call`` around an instrumented client; the Agents SDK's span around openai-v2's) is a second
record of the same call: its usage and response attributes fill the outer span's gaps, it is not
counted, and the sampler wrapper :class:`RecordGenAISpans` keeps it out of the export. A record
that says it is a model call only as it ends (OpenInference's) is taken out of the export then.
Two records side by side, neither inside the other (an instrumentation that does not make its span
current around a client that traces itself, see ``conventions.SIBLING_RECORDS``), are paired
within the thread or task that made the call: the client's counts, the wrapper's fills its gaps.

The work is done in ``on_start`` and ``_on_ending``: the SDK calls ``_on_ending`` on every
processor with the still-live span before any ``on_end``, so the attributes written here reach every
exporter whatever the processor order. Per-span state is one dict entry per open span inside a run
or a model call, capped at :data:`OPEN_LIMIT`, removed when the span ends, cleared by ``reset``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanContext, SpanKind, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from kaizen_otel._internal.bound_records import BoundRecord
from kaizen_otel._internal.resets import on_reset
from kaizen_otel.exceptions import BudgetExceededError
from kaizen_otel.genai import conventions as cv
from kaizen_otel.genai import semconv as sc
from kaizen_otel.genai.budgets import RunBudget
from kaizen_otel.genai.shapes import SHAPE_LIMIT, agent_shape, tool_shape

if TYPE_CHECKING:
    from kaizen_otel.genai.instruments import Instruments
    from kaizen_otel.genai.pricing import ModelPrice
    from kaizen_otel.genai.runtime import Runtime
    from kaizen_otel.liveview.store import LiveStore
    from kaizen_otel.liveview.store import Run as LiveRun

__all__ = ["COUNTED_LIMIT", "OPEN_LIMIT", "GenAIEnrichmentProcessor", "RecordGenAISpans", "clear_open_spans"]

_log = logging.getLogger("kaizen_otel.genai")

#: Open spans followed at once (runs, model calls and the spans inside them); past it, new spans
#: are not rolled up to their run, and a warning says so once.
OPEN_LIMIT = 65_536
_OTHER_ERROR = "_OTHER"
_LLM = cv.LLM_OPERATIONS
_INVOKE_AGENT = sc.OP_INVOKE_AGENT
_EXECUTE_TOOL = sc.OP_EXECUTE_TOOL
_ERROR = StatusCode.ERROR
_CONTENT = cv.CONTENT_ATTRIBUTES
_PROVIDER = sc.GEN_AI_PROVIDER_NAME
_REQUEST_MODEL = sc.GEN_AI_REQUEST_MODEL
_RESPONSE_MODEL = sc.GEN_AI_RESPONSE_MODEL
_INPUT_TOKENS = sc.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT_TOKENS = sc.GEN_AI_USAGE_OUTPUT_TOKENS
_SWALLOWED = cv.START_ERRORS_SWALLOWED


#: ``TracingHook`` rebuilds spans from hook events (they carry this attribute); their metrics are
#: ``MetricsHook``'s job, so measuring the spans too would count each event twice.
_HOOK_SPAN = sc.KAIZEN_HOOK_EVENT
_NO_ATTRIBUTES: Mapping[str, Any] = {}
_now = time.time
_get_current = otel_context.get_current


class _Run:
    """One agent run as seen from its spans: what its model calls added up to."""

    __slots__ = ("_title", "active", "agent_id", "budget", "name", "provider", "server", "span", "span_id")

    def __init__(
        self,
        name: str,
        agent_id: str | None,
        budget: RunBudget,
        span_id: int,
        active: bool,
        span: Span | None = None,
    ) -> None:
        self.span = span  # live until the run ends: frameworks name their agent after starting it
        self.name = name
        self.agent_id = agent_id
        self.budget = budget
        self.span_id = span_id
        self.active = active
        self.provider: str | None = None
        self.server: tuple[Any, Any] | None = None
        #: The span name ``name`` was last read from (the attributes are not read while it holds).
        self._title: str | None = None

    def current_name(self) -> str:
        """The agent's name as the run's span says now ('' for an unnamed run, e.g. a workflow)."""
        span = self.span
        if span is not None:
            title = span._name
            if title is self._title:  # named by this very span name already: nothing to read again
                return self.name
            named = _agent_name(span, getattr(span._attributes, "_dict", span._attributes) or _NO_ATTRIBUTES)
            if named is not None:
                self.name = named
            if title.startswith(_INVOKE_AGENT_PREFIX) and len(title) > len(_INVOKE_AGENT_PREFIX):
                self._title = title
        return self.name


_INVOKE_AGENT_PREFIX = sc.OP_INVOKE_AGENT + " "


def _agent_name(span: Any, attributes: Mapping[str, Any]) -> str | None:
    """The agent an ``invoke_agent`` span is about: the span's name after ``invoke_agent ``.

    The conventions name the span after ``gen_ai.agent.name``, and some producers get the name
    right before the attribute: the OpenAI Agents SDK's instrumentation starts ``invoke_agent
    assistant`` with the placeholder ``gen_ai.agent.name="OpenAI Agent"`` and writes the real name
    only when the run ends. A span named otherwise (``agent run``, a workflow) is read from the
    attribute or its aliases.
    """
    title = span._name
    if title.startswith(_INVOKE_AGENT_PREFIX) and len(title) > len(_INVOKE_AGENT_PREFIX):
        return str(title[len(_INVOKE_AGENT_PREFIX) :])
    named = cv.attribute(attributes, sc.GEN_AI_AGENT_NAME)
    return str(named) if named is not None else None


class _Node:
    """What an open span is inside of: its run, the model-call span that counts (if any), and
    the live view's run it joins (if the live view is fed).

    ``inner``: a span without an operation at its start, inside a model call; if it ends as a
    model call (OpenInference declares the operation when the span ends) it is another record of
    that call, kept out of the export unless ``exported_child``: a sampled span started inside it
    points at it.

    ``unchecked``: the model call's budget was not checked at its span, whose producer would
    swallow the refusal (:data:`~kaizen_otel.genai.conventions.START_ERRORS_SWALLOWED`); a record
    of the call inside it checks instead. ``refused``: such a record refused the call, so the
    outer span is not counted as a model call (the refusal was counted once, by ``refuse``).
    """

    __slots__ = ("duplicate", "exported_child", "inner", "live", "llm", "refused", "run", "unchecked")

    def __init__(self, run: _Run | None, llm: Span | None, duplicate: bool, live: LiveRun | None) -> None:
        self.run = run
        self.llm = llm
        self.duplicate = duplicate
        self.live = live
        self.unchecked = False
        self.refused = False
        self.inner = False
        self.exported_child = False


#: span id -> node, shared with the sampler wrapper (which runs before a span exists).
_open: dict[int, _Node] = {}
_warned_full = False
#: (trace id, gen_ai.response.id) of the model calls counted lately, oldest first: a second span
#: of the same trace with the same response (two producers recording one call side by side) is not
#: counted again. The anthropic client and its instrumentation are paired without it (their records
#: are in two traces outside any span, and one lacks the id in the instrumentation's events mode).
_counted: OrderedDict[tuple[int, str], None] = OrderedDict()
COUNTED_LIMIT = 4096


def clear_open_spans() -> None:
    """Forget every followed span (``reset_genai`` and ``kaizen_otel.testing`` call this)."""
    global _warned_full
    _open.clear()
    _counted.clear()
    _warned_full = False


on_reset("genai.enrichment", clear_open_spans)


def _first_record(trace_id: int, response_id: Any) -> bool:
    """True the first time a (trace, response id) is seen; a span without an id always counts."""
    if response_id is None:
        return True
    key = (trace_id, str(response_id))
    if key in _counted:
        return False
    if len(_counted) >= COUNTED_LIMIT:
        try:
            _counted.popitem(last=False)  # constant time; a dict's first key is found by a scan once full
        except KeyError:  # emptied by another thread meanwhile
            pass
    _counted[key] = None
    return True


_SIBLING_SCOPES = frozenset(cv.SIBLING_RECORDS) | frozenset(cv.SIBLING_RECORDS.values())
#: The wrapping instrumentation's model-call span started last in this thread or task and not paired
#: yet (see ``cv.SIBLING_RECORDS``): (the client's scope, its parent's span id, its span id). Three
#: numbers and a name per thread or task, no reference to the span; stale once the span has ended.
_wrapper: ContextVar[tuple[str, int, int] | None] = ContextVar("kaizen_otel_sibling_wrapper", default=None)


def _pair_siblings(span: Span, scope: str, parent: Any, live: LiveRun | None) -> LiveRun | None:
    """The two records of one call that are siblings, not nested: the wrapper's counts no more.

    The client's span is paired with the wrapper's open span that the same thread or task started
    last under the same parent; two calls made at the same time, even under one parent, are never
    paired with each other. Returns the live-view run the client's span joins.
    """
    parent_id = parent.span_id if parent is not None else 0
    client = cv.SIBLING_RECORDS.get(scope)
    if client is not None:  # the wrapper: the client's own span of this call follows, in this flow
        _wrapper.set((client, parent_id, span._context.span_id))  # type: ignore[union-attr]
        return live
    pending = _wrapper.get()
    if pending is None or pending[0] != scope or pending[1] != parent_id:
        return live
    _wrapper.set(None)
    outer = _open.get(pending[2])
    if outer is None or outer.duplicate:  # ended, or paired already (a task started meanwhile)
        return live
    outer.llm = span  # the wrapper's record now fills this one's gaps at its end and is not counted
    outer.duplicate = True
    return live if live is not None else outer.live


def _remember(span_id: int, node: _Node) -> None:
    global _warned_full
    if len(_open) < OPEN_LIMIT:
        _open[span_id] = node
    elif not _warned_full:
        _warned_full = True
        _log.warning("kaizen_otel: %d GenAI spans open at once; later ones are not rolled up", OPEN_LIMIT)


class _Measure:
    """Metric attribute dicts and the price of one (operation, provider, model, agent), built once,
    and the recordings of the usual outcome bound to their series (see ``BoundRecord``)."""

    __slots__ = (
        "cost",
        "duration",
        "price",
        "record_cost",
        "record_duration",
        "record_in",
        "record_out",
        "tokens_in",
        "tokens_out",
    )

    def __init__(
        self, rt: Runtime, op: str, provider: str, request: str, response: str | None, agent: str | None
    ) -> None:
        self.duration = rt.op_attrs(op, provider, request, response, None)
        self.tokens_in = rt.token_attrs(op, provider, request, response, sc.TOKEN_TYPE_INPUT)
        self.tokens_out = rt.token_attrs(op, provider, request, response, sc.TOKEN_TYPE_OUTPUT)
        self.cost = rt.cost_attrs(provider, request, agent)
        self.price: ModelPrice | None = rt.pricing.price(provider or None, response or request)
        ins = rt.instruments
        if ins is not None:
            self.record_duration = BoundRecord(ins.operation_duration, self.duration)
            self.record_in = BoundRecord(ins.token_usage, self.tokens_in)
            self.record_out = BoundRecord(ins.token_usage, self.tokens_out)
            self.record_cost = BoundRecord(ins.cost, self.cost)


def _plain(attributes: Any) -> Mapping[str, Any]:
    """The dict behind the SDK's ``BoundedAttributes`` (its ``get`` is a Python-level call)."""
    inner = getattr(attributes, "_dict", None)
    return inner if isinstance(inner, dict) else attributes  # type: ignore[no-any-return]


def _edit(span: ReadableSpan, updates: Mapping[str, Any] | None, remove: Iterable[str] = ()) -> None:
    """Change the attributes of a span that is ending (the SDK has just made them read-only).

    The values written here are numbers and strings the SDK would store unchanged, so they go to
    the dict behind the attributes directly, without its per-value cleaning.
    """
    attributes: Any = span._attributes
    if attributes is None:
        return
    inner = getattr(attributes, "_dict", None)
    if isinstance(inner, dict):
        for key in remove:
            inner.pop(key, None)
        if updates:
            inner.update(updates)
        return
    was = getattr(attributes, "_immutable", False)
    attributes._immutable = False
    try:
        for key in remove:
            attributes.pop(key, None)
        if updates:
            attributes.update(updates)
    finally:
        attributes._immutable = was


def _error_type(span: ReadableSpan, attributes: Mapping[str, Any]) -> str | None:
    error = attributes.get(sc.ERROR_TYPE)
    if error is not None:
        return str(error)
    return _OTHER_ERROR if span._status._status_code is _ERROR else None


def _seconds(span: ReadableSpan) -> float:
    start, end = span._start_time, span._end_time
    return (end - start) / 1e9 if start is not None and end is not None else 0.0


class GenAIEnrichmentProcessor(SpanProcessor):
    """Cost, roll-ups, budgets, heartbeats and agent metrics from any GenAI-convention span.

    Built by the agent runtime (``configure()`` or the helpers' first use) and added to its tracer
    provider; reading only span data, it treats our helpers as one producer among others.
    """

    #: The work is done in ``on_start`` and ``_on_ending``; the span dispatcher of ``configure()``
    #: does not call ``on_end``.
    unused_hooks = ("on_end",)

    def __init__(self, rt: Runtime) -> None:
        self._rt: Runtime | None = rt
        self._measures: dict[tuple[Any, ...], _Measure] = {}
        self._lock = threading.Lock()
        self._live: LiveStore | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def bind(self, rt: Runtime | None) -> None:
        """Serve ``rt`` from now on (``None``: do nothing until bound again)."""
        self._rt = rt
        self._measures = {}
        self._live = None

    def feed(self, store: LiveStore) -> None:
        """Feed the live view's ``store`` from this processor's span tracking (one pass over each
        span for both); bound to a runtime again, the processor stops feeding it."""
        store.follow(_open)
        self._live = store

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # --- what the helpers ask -----------------------------------------------------------------
    def adopt_run(self, span: trace.Span, budget: RunBudget) -> None:
        """Count the run of ``span`` against ``budget`` (a helper run with its own limits)."""
        node = _open.get(span.get_span_context().span_id)
        if node is not None and node.run is not None:
            node.run.budget = budget

    # --- span start ---------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        rt = self._rt
        if rt is None:
            return
        parent = span._parent
        pnode = _open.get(parent.span_id) if parent is not None else None
        attributes: Mapping[str, Any] = getattr(span._attributes, "_dict", span._attributes) or _NO_ATTRIBUTES
        op = cv.operation(attributes) if attributes else None
        span_id = span._context.span_id  # type: ignore[union-attr]
        if pnode is not None and pnode.inner and span._context.trace_flags.sampled:  # type: ignore[union-attr]
            pnode.exported_child = True
        if op is None or _HOOK_SPAN in attributes:
            if pnode is not None:
                if pnode.llm is not None and op is None and not pnode.inner:
                    inner = _Node(pnode.run, pnode.llm, False, pnode.live)  # may end as a model call
                    inner.inner = True
                    _remember(span_id, inner)
                else:
                    _remember(span_id, pnode)  # inside a run or a model call: share the parent's node
            return
        live = pnode.live if pnode is not None else None
        if op in _LLM:
            if pnode is not None and pnode.llm is not None:
                if pnode.unchecked and rt.budgets.enforce:
                    self._refuse_inside(rt, pnode, attributes)
                _remember(span_id, _Node(pnode.run, pnode.llm, True, live))
                return
            run = pnode.run if pnode is not None else None
            unchecked = False
            scope = span._instrumentation_scope
            if rt.budgets.enforce:
                if scope is not None and scope._name in _SWALLOWED:
                    unchecked = True  # a refusal here would not reach the caller
                else:
                    self._check_budget(rt, run, attributes)
            if scope is not None and scope._name in _SIBLING_SCOPES:
                live = _pair_siblings(span, scope._name, parent, live)
            if live is None:
                live = self._live_run(span, op, attributes, None)  # a lone call is a run of its own
            node = _Node(run, span, False, live)
            node.unchecked = unchecked
            _remember(span_id, node)
        elif op == _INVOKE_AGENT:
            run = self._start_run(rt, span, span_id, attributes)
            _remember(span_id, _Node(run, None, False, self._live_run(span, op, attributes, live)))
        elif op == _EXECUTE_TOOL or pnode is not None:
            if live is None and op == _EXECUTE_TOOL:
                live = self._live_run(span, op, attributes, None)  # a lone tool call: a run of its own
            _remember(span_id, _Node(pnode.run if pnode is not None else None, None, False, live))

    def _live_run(self, span: Span, op: str, attributes: Any, parent: LiveRun | None) -> LiveRun | None:
        """A new run in the live view, when it is fed and the span will be followed to its end."""
        live = self._live
        if live is None or len(_open) >= OPEN_LIMIT:
            return None
        return live.open_run(span, op, attributes, parent)

    def _start_run(self, rt: Runtime, span: Span, span_id: int, attributes: Any) -> _Run:
        name = _agent_name(span, attributes) or ""  # unnamed: a framework's workflow span
        agent_id = attributes.get(sc.GEN_AI_AGENT_ID)
        agent_id = str(agent_id) if agent_id is not None else None
        ins = rt.instruments
        if name:
            if ins is not None:
                shape = rt.agent_shapes.get(name) or agent_shape(rt, name)
                ins.active_runs.add(1, shape.active)
            rt.beat(name)
        budget = rt.budgets.new_run(name or None, agent_id, None, None)
        return _Run(name, agent_id, budget, span_id, bool(name), span)

    def _refuse_inside(self, rt: Runtime, pnode: _Node, attributes: Any) -> None:
        """Check the budget at a record of the call made inside an unchecked model-call span."""
        try:
            self._check_budget(rt, pnode.run, attributes)
        except BudgetExceededError:
            outer = _open.get(pnode.llm._context.span_id) if pnode.llm is not None else None  # type: ignore[union-attr]
            if outer is not None:
                outer.refused = True
            raise

    @staticmethod
    def _check_budget(rt: Runtime, run: _Run | None, attributes: Any) -> None:
        """Enforce mode: refuse an instrumented model call once its run or the process is over."""
        try:
            rt.budgets.check(run.budget if run is not None else None)
        except BudgetExceededError as exc:
            rt.refuse(
                exc,
                str(cv.attribute(attributes, sc.GEN_AI_PROVIDER_NAME) or ""),
                str(cv.attribute(attributes, sc.GEN_AI_REQUEST_MODEL) or ""),
                (run.agent_id or run.name) if run is not None else None,
            )
            raise

    # --- span end -----------------------------------------------------------------------------
    def _on_ending(self, span: Span) -> None:
        rt = self._rt
        if rt is None:
            return
        span_id = span._context.span_id  # type: ignore[union-attr]
        node = _open.pop(span_id, None)
        attributes = getattr(span._attributes, "_dict", span._attributes)  # not BoundedAttributes.__len__
        op = None
        counted = False
        if attributes:
            op = cv.operation(attributes)
            if op is not None and _HOOK_SPAN not in attributes:
                counted = self._enrich(rt, span, attributes, op, node)
            else:
                op = None
        else:
            attributes = _NO_ATTRIBUTES
        if node is not None and node.live is not None:
            live = self._live
            if live is not None:
                try:  # after the edits above and redaction: the live view keeps the final attributes
                    live.span_ended(node.live, span_id, span, attributes, op, counted)
                except Exception:
                    _log.debug("kaizen_otel: the live view missed span %r", span.name, exc_info=True)

    def _enrich(self, rt: Runtime, span: Span, attributes: Any, op: str, node: _Node | None) -> bool:
        """Cost, metrics and roll-ups of a GenAI span; True when it was counted as a model call."""
        counted = False
        try:
            if op in _LLM:
                if node is not None and node.llm is not None and node.llm is not span:
                    self._merge_duplicate(span, attributes, node.llm)
                    if node.inner and not node.exported_child:
                        _unsample(span)
                elif node is None or not node.refused:  # a refused call was counted by refuse()
                    counted = self._model_call(
                        rt, span, attributes, op, node.run if node is not None else None
                    )
            elif op == _INVOKE_AGENT:
                self._agent_run(rt, span, attributes, node)
            elif op == _EXECUTE_TOOL:
                self._tool_call(rt, span, attributes, node.run if node is not None else None)
            if not rt.capture_content and span._instrumentation_scope is not rt.scope:
                _strip_content(span, attributes)  # our helpers record content only when capture is on
        except BudgetExceededError:
            raise
        except Exception:  # never break the application's span.end()
            _log.debug("kaizen_otel: enriching span %r failed", span.name, exc_info=True)
        return counted

    def on_end(self, span: ReadableSpan) -> None:
        return None

    @staticmethod
    def _merge_duplicate(span: Span, attributes: Mapping[str, Any], outer: Span) -> None:
        """A second record of a call: its usage and response fill the outer span's gaps."""
        if not outer.is_recording():
            return
        have = outer._attributes or {}
        missing = {k: v for k, v in attributes.items() if k not in have and k not in cv.CONTENT_ATTRIBUTES}
        if missing:
            outer.set_attributes(missing)

    def _model_call(self, rt: Runtime, span: Span, attributes: Any, op: str, run: _Run | None) -> bool:
        """Measure one model call; False when it is a second record of a call already counted.

        Runs once per model call on the application's thread: the current conventions' names are
        read directly, the alias table (``cv.attribute`` / ``cv.tokens``) only when one is absent.
        """
        get = attributes.get
        if not _first_record(span._context.trace_id, get(sc.GEN_AI_RESPONSE_ID)):  # type: ignore[union-attr]
            return False
        provider = get(_PROVIDER)
        if provider is None:
            provider = cv.attribute(attributes, _PROVIDER)
        request = get(_REQUEST_MODEL)
        if request is None:
            request = cv.attribute(attributes, _REQUEST_MODEL)
        response = get(_RESPONSE_MODEL)
        if response is None:
            response = cv.attribute(attributes, _RESPONSE_MODEL)
        provider = "" if provider is None else provider if provider.__class__ is str else str(provider)
        if request is None:
            request = str(response or "")
        elif request.__class__ is not str:
            request = str(request)
        if response is not None and response.__class__ is not str:
            response = str(response)
        agent = (run.current_name() or None) if run is not None else get(sc.GEN_AI_AGENT_NAME)
        key = (op, provider, request, response, agent)
        measure = self._measures.get(key)
        if measure is None:
            measure = _Measure(rt, op, provider, request, response, agent)
            if len(self._measures) < SHAPE_LIMIT:
                self._measures[key] = measure
        input_tokens = get(_INPUT_TOKENS)
        if input_tokens.__class__ is not int or input_tokens < 0:  # absent, an alias, or not a count
            input_tokens = cv.tokens(attributes, _INPUT_TOKENS)
        output_tokens = get(_OUTPUT_TOKENS)
        if output_tokens.__class__ is not int or output_tokens < 0:
            output_tokens = cv.tokens(attributes, _OUTPUT_TOKENS)
        tokens = (input_tokens or 0) + (output_tokens or 0)
        cost = 0.0
        if tokens:
            price = measure.price
            cached = cv.tokens(attributes, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) or 0
            if price is not None:
                cost = price.cost(input_tokens or 0, output_tokens or 0, cached)
            else:  # the table warns once per unknown model
                cost = rt.pricing.cost(provider or None, response or request, 0, 0)
            _edit(span, {sc.KAIZEN_COST_USD: cost})
        error_type = _error_type(span, attributes)
        ins = rt.instruments
        if ins is not None:
            seconds = _seconds(span)
            context = _get_current()  # read once for the measurements below (exemplars use it)
            if error_type is None:
                measure.record_duration(seconds, context)
            else:
                ins.operation_duration.record(
                    seconds, rt.op_attrs(op, provider, request, response, error_type), context
                )
                ins.llm_errors.add(1, rt.error_attrs(provider, request, error_type), context)
            first = attributes.get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
            if first is not None and error_type is None:
                self._streamed(ins, measure, float(first), seconds, attributes, context)
            if input_tokens is not None:
                measure.record_in(input_tokens, context)
            if output_tokens is not None:
                measure.record_out(output_tokens, context)
            if cost > 0.0:
                measure.record_cost(cost, context)
        rt.count_model_call(input_tokens or 0, output_tokens or 0, error_type is not None)
        if tokens:
            rt.budgets.add(run.budget if run is not None else None, cost, tokens)
        if run is not None:
            if agent:
                rt.beat(agent)
            if run.provider is None and provider:
                run.provider = provider
            if run.server is None:
                address = attributes.get("server.address")
                if address is not None:
                    run.server = (address, attributes.get("server.port"))
        return True

    @staticmethod
    def _streamed(
        ins: Instruments, measure: _Measure, first: float, seconds: float, attributes: Any, context: Any
    ) -> None:
        """A streamed answer: time to the first chunk, and per chunk after it when counted."""
        ins.time_to_first_chunk.record(first, measure.duration, context)
        chunks = attributes.get(sc.KAIZEN_RESPONSE_CHUNKS)
        if isinstance(chunks, int) and chunks > 1:
            ins.time_per_output_chunk.record(
                max(seconds - first, 0.0) / (chunks - 1), measure.duration, context
            )

    def _agent_run(self, rt: Runtime, span: Span, attributes: Any, node: _Node | None) -> None:
        span_id = span.context.span_id
        run = node.run if node is not None else None
        if run is None or run.span_id != span_id:  # made an agent span only after it started
            name = _agent_name(span, attributes) or ""
            run = _Run(name, None, rt.budgets.new_run(name or None, None, None, None), span_id, False)
        budget = run.budget
        updates: dict[str, Any] = {sc.KAIZEN_RUN_COST_USD: budget.usd, sc.KAIZEN_RUN_TOKENS: budget.tokens}
        if run.provider is not None and sc.GEN_AI_PROVIDER_NAME not in attributes:
            updates[sc.GEN_AI_PROVIDER_NAME] = run.provider
        if run.server is not None and "server.address" not in attributes:
            updates["server.address"] = run.server[0]
            if run.server[1] is not None:
                updates["server.port"] = run.server[1]
        _edit(span, updates)
        started_as = run.name
        name = _agent_name(span, attributes) or started_as
        run.span = None
        ins = rt.instruments
        if ins is not None:
            context = _get_current()
            if run.active:
                started = rt.agent_shapes.get(started_as) or agent_shape(rt, started_as)
                ins.active_runs.add(-1, started.active, context)
            if name:  # an unnamed invoke_agent span (a workflow) is an enclosing run, not an agent's
                shape = rt.agent_shapes.get(name) or agent_shape(rt, name)
                outcome = shape.ok if _error_type(span, attributes) is None else shape.error
                ins.agent_runs.add(1, outcome, context)
                ins.run_duration.record(_seconds(span), outcome, context)
        if name:
            rt.beat(name)
            rt.count_agent_run()

    def _tool_call(self, rt: Runtime, span: Span, attributes: Any, run: _Run | None) -> None:
        name = str(cv.attribute(attributes, sc.GEN_AI_TOOL_NAME) or "tool")
        agent = (run.current_name() or None) if run is not None else attributes.get(sc.GEN_AI_AGENT_NAME)
        failed = _error_type(span, attributes) is not None
        ins = rt.instruments
        if ins is not None:
            shape = rt.tool_shapes.get((name, agent)) or tool_shape(rt, name, agent)
            outcome = shape.error if failed else shape.ok
            context = _get_current()
            ins.tool_calls.add(1, outcome, context)
            ins.tool_duration.record(_seconds(span), outcome, context)
        rt.count_tool_call(failed)
        if agent:
            rt.beat(agent)


def _unsample(span: Span) -> None:
    """Keep a second record of a model call out of the export, decided only as it ends.

    Export processors (the SDK's batch and simple ones) skip a span whose context is not sampled;
    the span's ids are kept, and no exported span points at it (see ``_Node.exported_child``).
    """
    context = span._context
    if context is not None and context.trace_flags.sampled:
        span._context = SpanContext(
            context.trace_id,
            context.span_id,
            context.is_remote,
            TraceFlags(context.trace_flags & ~TraceFlags.SAMPLED),
            context.trace_state,
        )


#: Attribute keys seen before that hold no content (not listed, no content prefix): a span whose
#: keys are all known is answered with one set operation. Bounded; cleared by ``reset``.
_plain_keys: set[str] = set()
_PLAIN_KEYS_LIMIT = 4096
on_reset("genai.enrichment.plain_keys", _plain_keys.clear)


def _has_content(attributes: Mapping[str, Any]) -> bool:
    if _plain_keys.issuperset(attributes):
        return False
    if not _CONTENT.isdisjoint(attributes):
        return True
    prefixes = cv.CONTENT_ATTRIBUTE_PREFIXES
    if any(key.startswith(prefixes) for key in attributes):
        return True
    if len(_plain_keys) < _PLAIN_KEYS_LIMIT:
        _plain_keys.update(key for key in attributes if key.__class__ is str)
    return False


def _strip_content(span: ReadableSpan, attributes: Mapping[str, Any]) -> None:
    """Message-content capture off: no prompt, completion or tool payload leaves, whoever wrote it."""
    prefixes = cv.CONTENT_ATTRIBUTE_PREFIXES
    if _has_content(attributes):
        _edit(span, None, [k for k in list(attributes) if k in _CONTENT or k.startswith(prefixes)])
    for event in span._events or ():
        event_attributes: Any = event._attributes
        if event_attributes and _has_content(event_attributes):
            kept = {
                k: v for k, v in event_attributes.items() if k not in _CONTENT and not k.startswith(prefixes)
            }
            event._attributes = kept  # type: ignore[misc]


class RecordGenAISpans(Sampler):
    """Wraps the configured sampler so the agent view never depends on trace sampling.

    * A GenAI span the inner sampler drops is still *recorded* (not exported): cost, budgets and
      metrics count every call, at 1 % trace sampling too.
    * A model-call span started inside another model-call span is recorded, not exported: it is a
      second record of the same call (see the module docstring), so the trace shows one span.
    """

    def __init__(self, inner: Sampler) -> None:
        self._inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        inner = self._inner
        result = inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        if not attributes:
            return result
        op = cv.operation(attributes)
        if op is None:
            return result
        if result.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        if op in _LLM and result.decision is Decision.RECORD_AND_SAMPLE:
            parent = trace.get_current_span(parent_context).get_span_context()
            node = _open.get(parent.span_id) if parent.is_valid else None
            if node is not None and node.llm is not None:
                return SamplingResult(Decision.RECORD_ONLY, result.attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"RecordGenAISpans{{{self._inner.get_description()}}}"
