"""A bounded in-process store of recent agent runs, fed from span ends and a log processor.

It reads the GenAI semantic conventions from the telemetry itself (``gen_ai.operation.name``,
``gen_ai.usage.*``, ``kaizen.cost.usd``, ``error.type``), so runs from kaizen_otel's helpers and
from any other GenAI-convention source look the same. A run is an ``invoke_agent`` span with
everything under it; a GenAI span outside any agent run (a bare ``chat`` call) is a run of its own.
Spans under a run that are not GenAI spans (an HTTP client call inside a tool) join their run.

Bounded: at most ``max_runs`` runs and about ``max_bytes`` bytes (an estimate that errs high),
oldest runs dropped first; one run keeps at most a quarter of the byte cap of span details, after
which its spans are still counted but no longer kept. Under ``configure()`` the GenAI enrichment
processor feeds it from the span tracking it does anyway (a run opens at its span's start, each
span is kept as one compact record at its end), so the live view adds no span processor of its
own; ``span_processor`` does the same tracking for a tracer provider without that processor.
Building JSON happens only when the page asks.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from kaizen_otel.genai import conventions as cv
from kaizen_otel.genai import semconv as sc

__all__ = ["LiveStore", "Run", "SpanRecord"]

_OP = sc.GEN_AI_OPERATION_NAME
_AGENT_OP = sc.OP_INVOKE_AGENT
_AGENT_NAME = sc.GEN_AI_AGENT_NAME
_TOOL_OP = sc.OP_EXECUTE_TOOL
#: Operations that call a model: counted as LLM calls, their tokens and cost summed.
LLM_OPS = cv.LLM_OPERATIONS
GENAI_OPS = LLM_OPS | {_AGENT_OP, _TOOL_OP}
_IN = sc.GEN_AI_USAGE_INPUT_TOKENS
_OUT = sc.GEN_AI_USAGE_OUTPUT_TOKENS
_COST = sc.KAIZEN_COST_USD
_ERROR = StatusCode.ERROR
_INF = float("inf")

# Byte estimates, set about twice what tracemalloc measures (benchmarks/bench_liveview.py: ~3.1 KB
# for a run with 4 spans and a log record): a kept span record with a dozen short attributes (its
# string values are added), a log record, a run.
SPAN_BYTES = 1_024
EVENT_BYTES = 512
RUN_BYTES = 1_536
#: Log records kept per run (the rest are counted).
EVENTS_PER_RUN = 200
#: Open spans tracked at once; beyond this (spans started and never ended) new ones are not tracked.
MAX_OPEN_SPANS = 100_000
#: Points of the spend-over-time series (one per second while cost changes).
SPEND_POINTS = 720
#: Audit records the page shows (read from the end of the trail's file on request).
AUDIT_TAIL = 50

EVENT_BUDGET_EXCEEDED = sc.EVENT_BUDGET_EXCEEDED
EVENT_BUDGET_REFUSED = sc.EVENT_BUDGET_REFUSED
_BUDGET_EVENTS = "kaizen.budget."


#: A kept span: ``(span_id, parent_id, name, kind, start_ns, end_ns, failed, description,
#: attributes, events)``, with ``kind`` the ``SpanKind`` value and ``events`` as ``((name,
#: timestamp_ns, attributes), ...)``. Plain tuples and dicts of atomic values, which the garbage
#: collector stops tracking, instead of the SDK's objects: kept spans then cost collections next
#: to nothing. Read from the span's private fields (its ``Status``'s too), so that building one
#: costs one property call (the parent's span id) rather than six.
SpanRecord = tuple[Any, ...]


class Run:
    """One agent run (or a lone GenAI call): its spans, log records and its own roll-ups.

    Roll-ups count the run's own spans; a parent run's totals add its child runs' at read time.
    """

    __slots__ = (
        "agent",
        "agent_id",
        "budget",
        "bytes",
        "children",
        "cost",
        "dropped_events",
        "dropped_spans",
        "end_ns",
        "error",
        "events",
        "evicted",
        "input_tokens",
        "llm_calls",
        "llm_errors",
        "name",
        "operation",
        "output_tokens",
        "parent",
        "refused",
        "root",
        "span_count",
        "span_id",
        "spans",
        "start_ns",
        "status",
        "tool_calls",
        "tool_errors",
        "trace_id",
    )

    def __init__(self, span: Span, operation: str, attrs: Any, parent: Run | None) -> None:
        context = span._context
        self.span_id: int = context.span_id  # type: ignore[union-attr]
        self.trace_id: int = context.trace_id  # type: ignore[union-attr]
        self.name = name = span._name
        self.operation = operation
        agent = attrs.get(_AGENT_NAME)
        if agent is None:
            agent = cv.attribute(attrs, _AGENT_NAME)
        if not agent:
            prefix = operation + " "
            agent = name[len(prefix) :] if name.startswith(prefix) else name
        self.agent = agent if agent.__class__ is str else str(agent)
        agent_id = attrs.get(sc.GEN_AI_AGENT_ID)
        self.agent_id = str(agent_id) if agent_id is not None else None
        self.start_ns: int = span._start_time or time.time_ns()
        self.end_ns: int | None = None
        self.status = "running"
        self.error: str | None = None
        self.parent = parent
        self.children: list[Run] | tuple[()] = ()  # a list once a child run starts
        #: Set when the run's own span ended (then its status and end time are known).
        self.root: SpanRecord | None = None
        self.spans: list[SpanRecord] = []
        self.events: list[tuple[Any, ...]] = []
        self.budget: list[dict[str, Any]] | tuple[()] = ()  # a list at the first crossing
        self.bytes = RUN_BYTES
        self.evicted = False
        self.span_count = self.llm_calls = self.tool_calls = self.tool_errors = self.llm_errors = 0
        self.input_tokens = self.output_tokens = 0
        self.cost = 0.0
        self.refused = 0
        self.dropped_spans = self.dropped_events = 0

    @property
    def live(self) -> Run:
        """The run itself: the store's own tracking maps span ids to runs, the enrichment
        processor's to nodes whose ``live`` is the run."""
        return self

    @property
    def id(self) -> str:
        """The run's span id in hex (the page's key for it)."""
        return format(self.span_id, "016x")

    def subtree(self) -> Iterable[Run]:
        """This run and every run under it (depth first)."""
        stack = [self]
        while stack:
            run = stack.pop()
            yield run
            stack.extend(reversed(run.children))


class Totals:
    """Counters summed over runs: those still kept are added on read, dropped ones when dropped."""

    __slots__ = (
        "agent_runs",
        "budget_crossings",
        "cost",
        "input_tokens",
        "llm_calls",
        "llm_errors",
        "output_tokens",
        "refused",
        "spans",
        "tool_calls",
        "tool_errors",
    )

    def __init__(self) -> None:
        self.agent_runs = self.llm_calls = self.llm_errors = self.tool_calls = self.tool_errors = 0
        self.input_tokens = self.output_tokens = self.spans = self.budget_crossings = self.refused = 0
        self.cost = 0.0

    def add(self, run: Run) -> None:
        """Count one run's own spans (its child runs are runs of their own)."""
        if run.operation == _AGENT_OP and run.root is not None:
            self.agent_runs += 1
        self.llm_calls += run.llm_calls
        self.llm_errors += run.llm_errors
        self.tool_calls += run.tool_calls
        self.tool_errors += run.tool_errors
        self.spans += run.llm_calls + run.tool_calls + (1 if run.operation == _AGENT_OP and run.root else 0)
        self.input_tokens += run.input_tokens
        self.output_tokens += run.output_tokens
        self.cost += run.cost
        self.budget_crossings += len(run.budget)
        self.refused += run.refused

    def merge(self, other: Totals) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class LiveStore:
    """The last ``max_runs`` runs within about ``max_bytes``; thread-safe."""

    def __init__(
        self,
        *,
        max_runs: int = 200,
        max_bytes: int = 32 * 1024 * 1024,
        capture_content: bool = False,
        budgets: dict[str, Any] | None = None,
    ) -> None:
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self.run_bytes_cap = max(max_bytes // 4, SPAN_BYTES * 16)
        self.capture_content = capture_content
        self.budgets = dict(budgets or {})
        self.started_ns = time.time_ns()
        self._lock = threading.Lock()
        self._runs: OrderedDict[int, Run] = OrderedDict()
        self._open: dict[int, Run] = {}
        #: Span id -> an object whose ``live`` is the span's run (the store's own runs, or the
        #: enrichment processor's nodes, see ``follow``).
        self._nodes: Mapping[int, Any] = self._open
        #: Open model-call spans inside runs, and the ones that are a second record of one.
        self._model_calls: set[int] = set()
        self._duplicates: set[int] = set()
        self._bytes = 0
        self._retired = Totals()
        self._evicted_open: set[Run] = set()
        self._spent = 0.0
        self.evicted_runs = 0
        self.untracked_spans = 0
        #: Bumped on every change the page shows: the page's poll returns early while it is unchanged.
        self.version = 0
        self._spend: deque[tuple[float, float]] = deque(maxlen=SPEND_POINTS)
        self.audit_path: str | None = None
        self.audit_enabled = False
        self._verifier: Callable[[], Any] | None = None
        self._verify_lock = threading.Lock()
        self.last_verify: dict[str, Any] | None = None
        self.span_processor = LiveSpanProcessor(self)
        self.log_processor = LiveLogProcessor(self)

    # ------------------------------------------------------------------------------ feeding
    # The hot path: these run inside every span start/end and log emit of the host. They read the
    # SDK's span fields directly (``_parent``, ``_attributes``, ...; the public properties build a
    # mapping proxy per call) and keep per-run counters only: process totals are summed on read.
    #
    # Two feeders share ``open_run`` / ``span_ended``: under ``configure()`` the GenAI enrichment
    # processor, which already follows every span inside a run and tells model calls from their
    # second records, calls them from its own span tracking (see ``follow``); on its own (a
    # tracer provider of the user's, the tests) ``span_processor`` tracks spans itself with
    # ``start`` / ``end``.
    def follow(self, nodes: Mapping[int, Any]) -> None:
        """Let another tracker feed the store: ``nodes`` maps the span ids it follows to objects
        whose ``live`` is the span's run (or None), which log records are looked up in; it calls
        ``open_run`` and ``span_ended`` itself, and ``span_processor`` is not used."""
        self._nodes = nodes

    def start(self, span: Span) -> None:
        parent = span._parent
        run = self._open.get(parent.span_id) if parent is not None else None
        attrs = span._attributes
        attrs = getattr(attrs, "_dict", attrs) if attrs else _EMPTY
        op = attrs.get(_OP) if attrs else None
        if op is None and attrs:
            op = _operation(attrs)
        if len(self._open) >= MAX_OPEN_SPANS:
            if op == _AGENT_OP or run is not None or op in GENAI_OPS:
                self.untracked_spans += 1
            return
        if op == _AGENT_OP or (run is None and op in GENAI_OPS):
            new = self.open_run(span, str(op), attrs, run)
            self._open[new.span_id] = new
            if op in LLM_OPS:
                self._model_calls.add(new.span_id)
        elif run is not None:
            span_id = span._context.span_id  # type: ignore[union-attr]
            self._open[span_id] = run
            if op in LLM_OPS:
                self._model_call(span_id, parent)

    def _model_call(self, span_id: int, parent: Any) -> None:
        """A model call inside another one is a second record of the same call (our ``llm_call``
        around an instrumented client): kept in the tree, not counted again."""
        if parent.span_id in self._model_calls:
            self._duplicates.add(span_id)
        else:
            self._model_calls.add(span_id)

    def end(self, span: ReadableSpan) -> None:
        span_id = span._context.span_id  # type: ignore[union-attr]
        run = self._open.pop(span_id, None)
        if run is None:
            return
        attrs = span._attributes
        attrs = getattr(attrs, "_dict", attrs) if attrs else _EMPTY
        op = attrs.get(_OP)
        if op is None and attrs:
            op = _operation(attrs)
        self.span_ended(run, span_id, span, attrs, op, op in LLM_OPS and self._counted(span_id))

    def open_run(self, span: Span, op: str, attrs: Any, parent: Run | None) -> Run:
        """A run starts: an ``invoke_agent`` span, or a GenAI span outside any run."""
        new = Run(span, op, attrs, parent)
        runs = self._runs
        with self._lock:
            if parent is not None and not parent.evicted:
                if parent.children:
                    parent.children.append(new)  # type: ignore[union-attr]
                else:
                    parent.children = [new]
            runs[new.span_id] = new
            self._bytes += RUN_BYTES
            if len(runs) > self.max_runs or self._bytes > self.max_bytes:
                self._evict()
            self.version += 1
        return new

    def span_ended(
        self, run: Run, span_id: int, span: ReadableSpan, attrs: Any, op: Any, model_call: bool
    ) -> None:
        """A span of ``run`` ended (``attrs``: the plain dict of its final attributes): kept as a
        compact record while the run has room, and counted; ``model_call``: a model call to count
        (not a second record of one)."""
        status = span._status
        failed = status._status_code is _ERROR
        parent = span._parent
        events = span._events
        record = (
            span_id,
            parent.span_id if parent is not None else 0,
            span._name,
            span._kind._value_,
            span._start_time,
            span._end_time,
            failed,
            status._description,
            attrs,
            tuple((event.name, event.timestamp, _plain(event.attributes)) for event in events)
            if getattr(events, "_dq", events)
            else (),
        )
        size = SPAN_BYTES
        for value in attrs.values():
            if value.__class__ is str:
                size += len(value)
        with self._lock:
            if run.bytes < self.run_bytes_cap and not run.evicted:
                run.spans.append(record)
                run.bytes += size
                self._bytes += size
            else:
                run.dropped_spans += 1
            run.span_count += 1
            if model_call:
                self._count_llm(run, attrs, failed)
            elif op == _TOOL_OP:
                run.tool_calls += 1
                if failed:
                    run.tool_errors += 1
            if span_id == run.span_id:
                self._finish(run, record, failed)
                if run.evicted:
                    self._evicted_open.discard(run)
                    self._retired.add(run)
            elif self._bytes > self.max_bytes:
                self._evict()
            self.version += 1

    def _counted(self, span_id: int) -> bool:
        """False for the second record of a model call; forgets the ended span either way."""
        self._model_calls.discard(span_id)
        if span_id in self._duplicates:
            self._duplicates.discard(span_id)
            return False
        return True

    def _count_llm(self, run: Run, attrs: Any, failed: bool) -> None:
        run.llm_calls += 1
        if failed:
            run.llm_errors += 1
        tokens_in = cv.tokens(attrs, _IN)
        if tokens_in is not None:
            run.input_tokens += tokens_in
        tokens_out = cv.tokens(attrs, _OUT)
        if tokens_out is not None:
            run.output_tokens += tokens_out
        cost = attrs.get(_COST)
        if cost.__class__ in (float, int) and 0 < cost < _INF:
            run.cost += cost
            self._spent += cost
            now = time.time()
            spend = self._spend
            if spend and int(spend[-1][0]) == int(now):
                spend[-1] = (spend[-1][0], self._spent)
            else:
                spend.append((now, self._spent))

    def _finish(self, run: Run, record: SpanRecord, failed: bool) -> None:
        run.root = record
        run.end_ns = record[5]
        attrs = record[8]  # scrubbed by redaction when the span ended, unlike what start saw
        agent = attrs.get(_AGENT_NAME)
        if agent is None:
            agent = cv.attribute(attrs, _AGENT_NAME)
        if agent is not None:
            run.agent = agent if agent.__class__ is str else str(agent)
        agent_id = attrs.get(sc.GEN_AI_AGENT_ID)
        run.agent_id = str(agent_id) if agent_id is not None else None
        if failed:
            run.status = "error"
            run.error = str(attrs.get(sc.ERROR_TYPE) or record[7] or "error")
        else:
            run.status = "ok"
        if len(self._runs) > self.max_runs or self._bytes > self.max_bytes:
            self._evict()

    def _evict(self) -> None:
        """Drop the oldest runs while over a cap (called with the lock held); totals keep them."""
        runs = self._runs
        while runs and (len(runs) > self.max_runs or self._bytes > self.max_bytes):
            _, old = runs.popitem(last=False)
            old.evicted = True
            self._bytes -= old.bytes
            old.spans = []
            old.events = []
            if old.root is None:  # still running: counted when it ends
                self._evicted_open.add(old)
            else:
                self._retired.add(old)
            self.evicted_runs += 1

    def log(self, record: Any) -> None:
        """A log record correlated with a span of a tracked run joins that run (kept as it came)."""
        span_id = record.span_id
        node = self._nodes.get(span_id)
        if node is None:
            return
        run = node.live
        if run is None:
            return
        name = record.event_name
        attributes = getattr(record.attributes, "_dict", record.attributes)
        if name is not None and name.startswith(_BUDGET_EVENTS):
            self._budget_event(run, name, attributes)
        body = record.body
        event = (
            record.timestamp or record.observed_timestamp,
            record.severity_text or record.severity_number,
            name,
            body,
            attributes,
            span_id,
        )
        size = EVENT_BYTES + len(body) if body.__class__ is str else EVENT_BYTES * 2
        with self._lock:
            if run.evicted or len(run.events) >= EVENTS_PER_RUN or run.bytes >= self.run_bytes_cap:
                run.dropped_events += 1
                return
            run.events.append(event)
            run.bytes += size
            self._bytes += size
            self.version += 1

    def _budget_event(self, run: Run, name: str, attrs: Any) -> None:
        with self._lock:
            if name == EVENT_BUDGET_EXCEEDED:
                if not run.budget:
                    run.budget = []
                run.budget.append({key.rsplit(".", 1)[-1]: value for key, value in (attrs or {}).items()})  # type: ignore[union-attr]
            elif name == EVENT_BUDGET_REFUSED:
                run.refused += 1

    def totals(self) -> dict[str, Any]:
        """Process totals since the store started: the dropped runs' and the kept runs' counters."""
        total = Totals()
        total.merge(self._retired)
        with self._lock:
            runs = [*self._runs.values(), *self._evicted_open]
        for run in runs:
            total.add(run)
        return total.as_dict()

    # ------------------------------------------------------------------------------ audit verify
    def set_audit(self, path: str | None, verify: Callable[[], Any] | None) -> None:
        """The audit trail the page shows the tail of, read from its file on request, and its
        ``verify`` (the page runs it when asked). None: no trail in this process."""
        self.audit_path = path
        self._verifier = verify
        self.audit_enabled = path is not None

    def audit_tail(self, count: int = AUDIT_TAIL) -> list[dict[str, Any]]:
        """The last ``count`` audit records, newest first, with long details cut."""
        if self.audit_path is None:
            return []
        from kaizen_otel.audit.query import tail_entries

        entries = tail_entries(self.audit_path, count)
        return [
            _bounded(
                {
                    "time": entry.timestamp_ns / 1e9,
                    "seq": entry.seq,
                    "agent_id": entry.agent_id,
                    "action": entry.action,
                    "result": entry.result,
                    "user_id": entry.user_id,
                    "details": entry.details,
                }
            )
            for entry in reversed(entries)
        ]

    def verify_audit(self) -> dict[str, Any] | None:
        """Verify the audit trail now (one verification at a time) and remember the result."""
        verify = self._verifier
        if verify is None:
            return None
        with self._verify_lock:
            try:
                report = verify()
                result = {
                    "ok": bool(report.ok),
                    "records": report.records,
                    "seals": report.seals,
                    "key_checked": bool(report.key_checked),
                    "problems": [str(problem) for problem in list(report.problems)[:3]],
                }
            except Exception as exc:  # a broken trail is a result to show, not a crash of the page
                result = {"ok": False, "records": 0, "seals": 0, "key_checked": False, "problems": [str(exc)]}
            result["time"] = time.time()
            self.last_verify = result
            self.version += 1
            return result

    # ------------------------------------------------------------------------------ reading
    def snapshot(self) -> tuple[list[Run], list[tuple[float, float]]]:
        """Runs (oldest first) and the spend series, copied under the lock."""
        with self._lock:
            return list(self._runs.values()), list(self._spend)

    def get(self, run_id: str) -> Run | None:
        try:
            key = int(run_id, 16)
        except ValueError:
            return None
        with self._lock:
            return self._runs.get(key)

    def spans_of(self, run: Run) -> tuple[list[SpanRecord], list[tuple[Any, ...]], list[Run]]:
        """Spans and log records of ``run`` and its child runs, and the runs still open there."""
        spans: list[SpanRecord] = []
        events: list[tuple[Any, ...]] = []
        open_runs: list[Run] = []
        with self._lock:
            for member in run.subtree():
                spans.extend(member.spans)
                events.extend(member.events)
                if member.root is None:
                    open_runs.append(member)
        return spans, events, open_runs

    @property
    def bytes(self) -> int:
        """The estimated size of what is kept."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._runs)


_EMPTY: dict[str, Any] = {}


_operation = cv.operation


def _plain(attrs: Any) -> Any:
    """The plain dict under the SDK's ``BoundedAttributes``, whose ``get`` of a missing key raises
    and catches a ``KeyError`` inside (a microsecond each)."""
    if attrs is None:
        return _EMPTY
    return getattr(attrs, "_dict", attrs)


def _bounded(entry: dict[str, Any]) -> dict[str, Any]:
    """An audit entry with long text cut, so the tail stays small whatever the details hold."""
    details = entry.get("details")
    if isinstance(details, dict):
        text = repr(details)
        if len(text) > 1000:
            entry["details"] = {"(cut)": text[:1000]}
    return entry


class LiveSpanProcessor(SpanProcessor):
    """Feeds the store with spans; it runs after redaction, so it keeps redacted values."""

    def __init__(self, store: LiveStore) -> None:
        self._start = store.start
        self._end = store.end

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._start(span)
        except Exception:  # the live view must never break the host's tracing
            pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._end(span)
        except Exception:
            pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _MemoryLogProcessor(LogRecordProcessor):
    """A log processor that only keeps records in memory: nothing to flush or close."""

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class LiveLogProcessor(_MemoryLogProcessor):
    """Adds log records correlated with a tracked run to that run (budget crossings among them)."""

    def __init__(self, store: LiveStore) -> None:
        self._log = store.log

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        try:
            self._log(log_record.log_record)
        except Exception:
            pass
