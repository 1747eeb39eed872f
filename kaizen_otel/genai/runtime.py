"""The agent helpers' one piece of state: tracer, instruments, pricing, budgets, hooks, audit.

``configure_genai()`` builds a :class:`Runtime` once from the settings and the installed providers;
the helpers read it with one module-attribute lookup. Before anything is configured the helpers see
``None`` and return shared no-op objects, which is why they cost next to nothing then (the OTel
no-op API alone costs ~4 µs per span). When no ``configure()`` ran but the application installed
SDK providers itself, the first helper call builds a runtime from the settings' defaults and the
environment, so the helpers work with any OTel setup.

Each signal is used only when its provider is real: with tracing switched off no span is even
started, with metrics off no instrument is called.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import Logger, LoggerProvider, SeverityNumber
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.metrics import Meter, MeterProvider, Observation
from opentelemetry.trace import Tracer, TracerProvider

from kaizen_otel._internal.settings import Settings, resolve
from kaizen_otel.exceptions import BudgetExceededError
from kaizen_otel.genai import semconv as sc
from kaizen_otel.genai.budgets import BudgetCrossing, BudgetLimits, BudgetTracker
from kaizen_otel.genai.instruments import SPANS_MEASURED, Instruments, register_state_gauges
from kaizen_otel.genai.shapes import SHAPE_LIMIT, AgentShape, LLMShape, ToolShape

if TYPE_CHECKING:
    from kaizen_otel.genai.enrichment import GenAIEnrichmentProcessor
    from kaizen_otel.genai.hooks import HookContext, HookManager
    from kaizen_otel.genai.pricing import Pricing

__all__ = ["Runtime", "configure_genai", "current", "reset_genai", "usage_summary"]

_log = logging.getLogger("kaizen_otel.genai")
_SCOPE = "kaizen_otel.genai"
_ATTR_CACHE_LIMIT = SHAPE_LIMIT
#: Agents with a heartbeat series (the gauge is per agent, so it keeps more than the caches).
HEARTBEAT_LIMIT = 4096
_VERSION = "0.1.0"
_SEVERITY_TEXT = {level: level.name for level in SeverityNumber}


def _real_tracer_provider(provider: TracerProvider | None) -> TracerProvider | None:
    if provider is None or isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    return provider


def _real_meter_provider(provider: MeterProvider | None) -> MeterProvider | None:
    if provider is None or isinstance(provider, metrics.NoOpMeterProvider):
        return None
    if type(provider).__name__ == "_ProxyMeterProvider":
        return None
    return provider


def _real_logger_provider(provider: LoggerProvider | None) -> LoggerProvider | None:
    if provider is None or isinstance(provider, (ProxyLoggerProvider, _logs.NoOpLoggerProvider)):
        return None
    return provider


def _private_tracer_provider() -> TracerProvider:
    from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider

    return SDKTracerProvider(shutdown_on_exit=False)


#: The enrichment processor added to each tracer provider, rebound when a new runtime takes over.
_enrichers: weakref.WeakKeyDictionary[Any, GenAIEnrichmentProcessor] = weakref.WeakKeyDictionary()


def enricher_of(provider: Any) -> GenAIEnrichmentProcessor | None:
    """The enrichment processor attached to ``provider``, if any."""
    return _enrichers.get(provider)


def _attach_enricher(provider: Any, runtime: Runtime) -> GenAIEnrichmentProcessor | None:
    """Add the enrichment processor to ``provider`` once; a later runtime rebinds the same one."""
    from kaizen_otel.genai.enrichment import GenAIEnrichmentProcessor

    try:
        found = _enrichers.get(provider)
        if found is None:
            found = GenAIEnrichmentProcessor(runtime)
            provider.add_span_processor(found)
            _enrichers[provider] = found
        else:
            found.bind(runtime)
        return found
    except Exception as exc:  # a provider that takes no processor: the helpers' spans stay plain
        _log.warning("kaizen_otel: GenAI enrichment not attached to %r: %r", provider, exc)
        return None


def _shipped_pricing() -> Pricing:
    """The table shipped in the package; a broken install prices every call at 0, never raises."""
    from kaizen_otel.genai.pricing import Pricing, load_pricing

    try:
        return load_pricing(None)
    except Exception as exc:
        _log.error("kaizen_otel: the shipped pricing table could not be read (%r); costs count as 0", exc)
        return Pricing({})


class Usage:
    """Totals since configure, for summaries (the demo's, ``kaizen-otel`` tooling, tests)."""

    __slots__ = ("agent_runs", "budget_crossings", "llm_calls", "llm_errors", "tool_calls", "tool_errors")

    def __init__(self) -> None:
        self.agent_runs = 0
        self.llm_calls = 0
        self.llm_errors = 0
        self.tool_calls = 0
        self.tool_errors = 0
        self.budget_crossings = 0


class Runtime:
    """Everything the helpers need, built once. Read-mostly; mutable parts are lock-protected."""

    def __init__(
        self,
        settings: Settings,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger_provider: LoggerProvider | None = None,
        audit: Any = None,
        pricing: Pricing | None = None,
        hooks: HookManager | None = None,
    ) -> None:
        self.settings = settings
        tp = _real_tracer_provider(tracer_provider)
        mp = _real_meter_provider(meter_provider)
        lp = _real_logger_provider(logger_provider)
        if tp is None or not hasattr(tp, "add_span_processor"):
            # Tracing off (or not an SDK provider): the helpers' spans still go through the
            # enrichment processor, on a private provider that exports nothing.
            tp = _private_tracer_provider()
        self.tracer: Tracer | None = tp.get_tracer(_SCOPE, _VERSION)
        #: The helpers' instrumentation scope (the SDK's tracer keeps one object for all its spans).
        self.scope: Any = getattr(self.tracer, "_instrumentation_scope", None)
        self.meter: Meter | None = mp.get_meter(_SCOPE, _VERSION) if mp is not None else None
        self.instruments: Instruments | None = (
            Instruments(self.meter, renamed=getattr(mp, SPANS_MEASURED, False))
            if self.meter is not None
            else None
        )
        self.logger: Logger | None = lp.get_logger(_SCOPE, _VERSION) if lp is not None else None
        self.meter_provider = mp
        self.capture_content = settings.capture_message_content
        self.metric_attributes: dict[str, str] = dict(settings.metric_attributes)
        if pricing is None and settings.pricing_file is not None:
            from kaizen_otel.genai.pricing import load_pricing

            pricing = load_pricing(settings.pricing_file)  # a bad file fails here, at configure
        #: None until the first priced call when no file is named: ``configure()`` then neither
        #: reads nor parses the shipped table (~1 ms of startup).
        self._pricing: Pricing | None = pricing
        self.budgets = BudgetTracker(
            run=BudgetLimits(settings.budget_run_usd, settings.budget_run_tokens),
            process=BudgetLimits(settings.budget_process_usd, settings.budget_process_tokens),
            enforce=settings.budget_enforce,
            on_exceeded=self._report_crossing,
        )
        self.hooks: HookManager | _NoHooks = hooks if hooks is not None else _hook_manager
        self.audit = audit
        self.heartbeats: dict[str, float] = {}
        self.usage = Usage()
        self.input_tokens = 0
        self.output_tokens = 0
        self._lock = threading.Lock()
        #: Shared metric attribute dicts by key; read directly by the helpers (`get(key) or attrs(...)`).
        self._attrs: dict[tuple[Any, ...], dict[str, Any]] = {}
        #: Per agent / tool / model: span names and attribute dicts built once (see ``shapes``).
        self.agent_shapes: dict[str, AgentShape] = {}
        self.tool_shapes: dict[tuple[str, str | None], ToolShape] = {}
        self.llm_shapes: dict[tuple[str, str, str, str | None], LLMShape] = {}
        self._closed = False
        if self.meter is not None:
            register_state_gauges(self.meter, self._observe_heartbeats, self._observe_budgets)
        #: Cost, roll-ups, budgets, heartbeats and agent metrics, from the spans of every producer.
        self.enricher = _attach_enricher(tp, self)

    # --- attribute dicts, built once per distinct key ----------------------------------------
    def attrs(
        self, key: tuple[Any, ...], pairs: Iterable[tuple[str, Any]], extra: bool = True
    ) -> dict[str, Any]:
        """A shared, never-mutated attribute dict for ``key``; ``extra`` adds ``metric_attributes``."""
        found = self._attrs.get(key)
        if found is not None:
            return found
        built = {k: v for k, v in pairs if v is not None}
        if extra and self.metric_attributes:
            built = {**self.metric_attributes, **built}
        if len(self._attrs) < _ATTR_CACHE_LIMIT:
            self._attrs[key] = built
        return built

    @property
    def pricing(self) -> Pricing:
        pricing = self._pricing
        if pricing is None:
            pricing = self._pricing = _shipped_pricing()
        return pricing

    def op_attrs(
        self, op: str, provider: str, model: str, response_model: str | None, error_type: str | None
    ) -> dict[str, Any]:
        """``gen_ai.client.operation.duration`` attributes (the spec's set: no extra attributes)."""
        key = ("op", op, provider, model, response_model, error_type)
        return self._attrs.get(key) or self.attrs(
            key,
            (
                (sc.GEN_AI_OPERATION_NAME, op),
                (sc.GEN_AI_PROVIDER_NAME, provider),
                (sc.GEN_AI_REQUEST_MODEL, model),
                (sc.GEN_AI_RESPONSE_MODEL, response_model),
                (sc.ERROR_TYPE, error_type),
            ),
            extra=False,
        )

    def token_attrs(
        self, op: str, provider: str, model: str, response_model: str | None, token_type: str
    ) -> dict[str, Any]:
        """``gen_ai.client.token.usage`` attributes of one token type."""
        key = ("tok", op, provider, model, response_model, token_type)
        return self._attrs.get(key) or self.attrs(
            key,
            (
                (sc.GEN_AI_OPERATION_NAME, op),
                (sc.GEN_AI_PROVIDER_NAME, provider),
                (sc.GEN_AI_REQUEST_MODEL, model),
                (sc.GEN_AI_RESPONSE_MODEL, response_model),
                (sc.GEN_AI_TOKEN_TYPE, token_type),
            ),
            extra=False,
        )

    def cost_attrs(self, provider: str, model: str, agent: str | None) -> dict[str, Any]:
        key = ("cost", provider, model, agent)
        return self._attrs.get(key) or self.attrs(
            key,
            (
                (sc.GEN_AI_PROVIDER_NAME, provider),
                (sc.GEN_AI_REQUEST_MODEL, model),
                (sc.GEN_AI_AGENT_NAME, agent),
            ),
        )

    def error_attrs(self, provider: str, model: str, error_type: str) -> dict[str, Any]:
        key = ("err", provider, model, error_type)
        return self._attrs.get(key) or self.attrs(
            key,
            (
                (sc.GEN_AI_PROVIDER_NAME, provider),
                (sc.GEN_AI_REQUEST_MODEL, model),
                (sc.ERROR_TYPE, error_type),
            ),
        )

    # --- observable state ---------------------------------------------------------------------
    def _observe_heartbeats(self) -> list[Observation]:
        if self._closed:
            return []
        return [
            Observation(stamp, self.attrs(("hb", name), ((sc.GEN_AI_AGENT_NAME, name),)))
            for name, stamp in list(self.heartbeats.items())
        ]

    def _observe_budgets(self, kind: str) -> list[Observation]:
        if self._closed:
            return []
        return [Observation(v, {**self.metric_attributes, **a}) for v, a in self.budgets.remaining(kind)]

    # --- reports ------------------------------------------------------------------------------
    def _report_crossing(self, crossing: BudgetCrossing) -> None:
        message = crossing.message()
        with self._lock:
            self.usage.budget_crossings += 1
        _log.warning(
            "%s%s", message, " (enforced: the next LLM call is refused)" if self.budgets.enforce else ""
        )
        if self.instruments is not None:
            self.instruments.budget_exceeded.add(
                1,
                self.attrs(
                    ("bx", crossing.scope, crossing.kind, crossing.agent_name),
                    (
                        (sc.KAIZEN_BUDGET_SCOPE, crossing.scope),
                        (sc.KAIZEN_BUDGET_KIND, crossing.kind),
                        (sc.GEN_AI_AGENT_NAME, crossing.agent_name),
                    ),
                ),
            )
        self.emit_log(
            message,
            SeverityNumber.WARN,
            {
                sc.KAIZEN_BUDGET_SCOPE: crossing.scope,
                sc.KAIZEN_BUDGET_KIND: crossing.kind,
                "kaizen.budget.limit": crossing.limit,
                "kaizen.budget.used": crossing.used,
            },
            event_name=sc.EVENT_BUDGET_EXCEEDED,
        )
        self.audit_record(
            crossing.agent_id or crossing.agent_name or "process",
            "budget_exceeded",
            {
                "scope": crossing.scope,
                "kind": crossing.kind,
                "limit": crossing.limit,
                "used": crossing.used,
                "enforce": self.budgets.enforce,
            },
            result="failure",
        )

    def audit_record(self, agent_id: str, action: str, details: Mapping[str, Any], result: str) -> None:
        """Write an audit record when the trail is on; a failing trail is logged, not raised."""
        if self.audit is None:
            return
        try:
            self.audit.record(agent_id, action, details=dict(details), result=result)
        except Exception as exc:
            _log.error("audit record %r for %r could not be written: %r", action, agent_id, exc)

    def emit_log(
        self,
        body: Any,
        severity: SeverityNumber = SeverityNumber.INFO,
        attributes: Mapping[str, Any] | None = None,
        *,
        event_name: str | None = None,
        context: Any = None,
    ) -> None:
        """One OTel log record, correlated with the current span, timestamped now."""
        logger = self.logger
        if logger is None:
            return
        logger.emit(
            timestamp=time.time_ns(),
            context=context,
            severity_number=severity,
            severity_text=_SEVERITY_TEXT.get(severity),
            body=body,
            attributes=attributes,
            event_name=event_name,
        )

    def record_hook_pair(self, pair: str, context: HookContext, seconds: float, error: str | None) -> None:
        """Metrics for a PRE/POST pair fired by user code (used by ``MetricsHook``)."""
        ins = self.instruments
        if ins is None:
            return
        data = context.data
        outcome = sc.OUTCOME_ERROR if error else sc.OUTCOME_SUCCESS
        if pair == "tool_use":
            tool = str(data.get("tool_name", "tool"))
            attrs = self.attrs(
                ("tool", tool, None, outcome), ((sc.GEN_AI_TOOL_NAME, tool), (sc.KAIZEN_OUTCOME, outcome))
            )
            ins.tool_calls.add(1, attrs)
            ins.tool_duration.record(seconds, attrs)
        elif pair == "llm_call":
            op = str(data.get("operation", sc.OP_CHAT))
            provider = data.get("provider")
            model = data.get("model")
            base = (
                (sc.GEN_AI_OPERATION_NAME, op),
                (sc.GEN_AI_PROVIDER_NAME, provider),
                (sc.GEN_AI_REQUEST_MODEL, model),
            )
            ins.operation_duration.record(
                seconds,
                self.attrs(
                    ("op", op, provider, model, None, error), (*base, (sc.ERROR_TYPE, error)), extra=False
                ),
            )
            for kind, key in ((sc.TOKEN_TYPE_INPUT, "input_tokens"), (sc.TOKEN_TYPE_OUTPUT, "output_tokens")):
                if isinstance(data.get(key), int):
                    ins.token_usage.record(
                        data[key],
                        self.attrs(
                            ("tok", op, provider, model, None, kind),
                            (*base, (sc.GEN_AI_TOKEN_TYPE, kind)),
                            extra=False,
                        ),
                    )
            if error:
                ins.llm_errors.add(
                    1, self.attrs(("err", provider, model, error), (*base[1:], (sc.ERROR_TYPE, error)))
                )
        elif pair == "agent_loop":
            name = str(data.get("agent_name") or context.agent_id)
            attrs = self.attrs(
                ("run", name, outcome), ((sc.GEN_AI_AGENT_NAME, name), (sc.KAIZEN_OUTCOME, outcome))
            )
            ins.agent_runs.add(1, attrs)
            ins.run_duration.record(seconds, attrs)
        self.beat(str(data.get("agent_name") or context.agent_id))

    # --- what the enrichment processor counts ------------------------------------------------
    def beat(self, agent: str) -> None:
        """The agent made progress now (heartbeat gauge); at most ``HEARTBEAT_LIMIT`` agents."""
        beats = self.heartbeats
        if agent in beats or len(beats) < HEARTBEAT_LIMIT:
            beats[agent] = time.time()

    def count_model_call(self, input_tokens: int, output_tokens: int, failed: bool) -> None:
        usage = self.usage
        usage.llm_calls += 1
        if failed:
            usage.llm_errors += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def count_tool_call(self, failed: bool) -> None:
        usage = self.usage
        usage.tool_calls += 1
        if failed:
            usage.tool_errors += 1

    def count_agent_run(self) -> None:
        self.usage.agent_runs += 1

    def refuse(self, exc: BudgetExceededError, provider: str, model: str, agent: str | None) -> None:
        """Report a model call refused by an enforced budget (metric, log, audit), before raising."""
        error_type = "BudgetExceededError"
        if self.instruments is not None:
            self.instruments.llm_errors.add(1, self.error_attrs(provider, model, error_type))
        self.usage.llm_errors += 1
        self.emit_log(
            str(exc),
            SeverityNumber.WARN,
            {
                sc.GEN_AI_PROVIDER_NAME: provider,
                sc.GEN_AI_REQUEST_MODEL: model,
                sc.KAIZEN_BUDGET_SCOPE: exc.scope,
            },
            event_name=sc.EVENT_BUDGET_REFUSED,
        )
        self.audit_record(
            agent or "process",
            "llm_call_refused",
            {"provider": provider, "model": model, "scope": exc.scope, "limit": exc.limit, "used": exc.used},
            result="denied",
        )

    def close(self) -> None:
        self._closed = True
        if self.enricher is not None:
            self.enricher.bind(None)


# --- the module state the helpers read ---------------------------------------------------------
_runtime: Runtime | None = None
_lock = threading.RLock()
_blocked: tuple[Any, Any] | None = None  # providers a reset/disable turned the helpers off for


_trace_module = trace
_metrics_internal = metrics._internal
_logs_internal = _logs._internal


class _NoHooks:
    """The hook manager's stand-in until ``hooks`` is imported: no hook can be registered before.

    ``configure()`` does not import the hook machinery (its dataclasses and built-in hooks cost
    ~2 ms at import); ``hooks`` hands its manager over through :func:`use_hook_manager`.
    """

    active = False

    def trigger_sync(self, event: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    async def trigger(self, event: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def shutdown(self) -> None:
        return None


_hook_manager: HookManager | _NoHooks = _NoHooks()


def use_hook_manager(manager: HookManager) -> None:
    """Fire hook events on ``manager`` from now on (called once, when ``hooks`` is imported)."""
    global _hook_manager
    with _lock:
        _hook_manager = manager
        runtime = _runtime
        if runtime is not None and isinstance(runtime.hooks, _NoHooks):
            runtime.hooks = manager


def _global_providers() -> tuple[Any, Any, Any]:
    tp = getattr(_trace_module, "_TRACER_PROVIDER", None)
    mp = getattr(_metrics_internal, "_METER_PROVIDER", None)
    lp = getattr(_logs_internal, "_LOGGER_PROVIDER", None)
    return tp, mp, lp


def current() -> Runtime | None:
    """The runtime, or None when nothing is configured (the helpers' no-op path).

    The no-op answer costs four attribute reads: no provider installed by anyone, no hook registered.
    """
    runtime = _runtime
    if runtime is not None:
        return runtime
    if (
        _trace_module._TRACER_PROVIDER is None
        and _metrics_internal._METER_PROVIDER is None
        and _logs_internal._LOGGER_PROVIDER is None
        and not _hook_manager.active
    ):
        return None
    return _autodetect()


def _autodetect() -> Runtime | None:
    tp, mp, lp = _global_providers()
    if _blocked is not None and _blocked == (tp, mp):
        return None
    with _lock:
        if _runtime is not None:
            return _runtime
        try:
            settings = resolve(strict=False).settings
            return _install(Runtime(settings, tracer_provider=tp, meter_provider=mp, logger_provider=lp))
        except Exception as exc:  # never crash the host application from an implicit setup
            _log.warning("agent instrumentation stays off: %r", exc)
            _block()
            return None


def _install(runtime: Runtime) -> Runtime:
    global _runtime, _blocked
    _runtime = runtime
    _blocked = None
    return runtime


def _block() -> None:
    global _blocked
    tp, mp, _lp = _global_providers()
    _blocked = (tp, mp)


def configure_genai(
    settings: Settings,
    *,
    audit: Any = None,
    meter_provider: MeterProvider | None = None,
    tracer_provider: TracerProvider | None = None,
    logger_provider: LoggerProvider | None = None,
    pricing: Pricing | None = None,
) -> None:
    """Switch the agent helpers on with ``settings`` and the installed (or given) providers.

    ``pricing`` is the table already loaded from ``settings.pricing_file`` (``configure()`` loads
    it before installing anything, so a bad file fails early); without it the file is read here.

    Called once by ``configure()`` after the global providers are installed. Applies
    ``capture_message_content``, ``pricing_file``, the ``budget_*`` settings and
    ``metric_attributes``, and starts process metrics when ``process_metrics`` is true. With
    ``sdk_disabled`` the helpers stay no-ops. A bad pricing file raises ``KaizenConfigError``.
    """
    from kaizen_otel.genai import process_metrics

    with _lock:
        reset_genai()
        if settings.sdk_disabled:
            _block()
            return
        tp = tracer_provider if tracer_provider is not None else getattr(trace, "_TRACER_PROVIDER", None)
        mp = (
            meter_provider
            if meter_provider is not None
            else getattr(metrics._internal, "_METER_PROVIDER", None)
        )
        lp = (
            logger_provider
            if logger_provider is not None
            else getattr(_logs._internal, "_LOGGER_PROVIDER", None)
        )
        runtime = Runtime(
            settings,
            tracer_provider=tp if settings.enable_tracing else None,
            meter_provider=mp if settings.enable_metrics else None,
            logger_provider=lp if settings.enable_logging else None,
            audit=audit,
            pricing=pricing,
        )
        _install(runtime)
        if settings.process_metrics and runtime.meter_provider is not None:
            process_metrics.start(runtime.meter_provider, runtime.metric_attributes)


def _clear_open_spans() -> None:
    from kaizen_otel.genai.enrichment import clear_open_spans

    clear_open_spans()


def reset_genai() -> None:
    """Undo ``configure_genai()``: the helpers become no-ops again and hooks are shut down.

    Providers that are still installed are not picked up again implicitly (they are usually being
    shut down); a later ``configure_genai()`` switches the helpers back on.
    """
    global _runtime
    from kaizen_otel.genai import process_metrics

    with _lock:
        runtime = _runtime
        _runtime = None
        process_metrics.stop()
        _clear_open_spans()
        if runtime is not None:
            runtime.close()
            runtime.hooks.shutdown()
        _block()


def usage_summary() -> dict[str, Any]:
    """Totals since configure: runs, LLM calls, tokens, cost, tool calls and failures, crossings."""
    runtime = _runtime
    if runtime is None:
        return {}
    u = runtime.usage
    return {
        "agent_runs": u.agent_runs,
        "llm_calls": u.llm_calls,
        "llm_errors": u.llm_errors,
        "input_tokens": runtime.input_tokens,
        "output_tokens": runtime.output_tokens,
        "cost_usd": runtime.budgets.usd,
        "tool_calls": u.tool_calls,
        "tool_errors": u.tool_errors,
        "budget_crossings": u.budget_crossings,
        "pricing_taken": runtime.pricing.taken,
    }
