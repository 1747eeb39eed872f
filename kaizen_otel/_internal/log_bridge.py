"""The stdlib logging bridge: ``logging.getLogger(...)`` records into the OTel LoggerProvider.

Exactly one handler, on the root logger. The rules it keeps:

* **No duplicates.** ``opentelemetry-instrumentation-logging`` (and the SDK's deprecated
  ``LoggingHandler``) put their own handler on the root logger, often *after* we installed ours
  (``opentelemetry-instrument`` runs the configurator first, instrumentors later). Two handlers
  feeding one provider send every record twice. The bridge therefore mutes any such handler that
  feeds the same pipeline (a filter that rejects everything, removed again on uninstall), both at
  install time and whenever the root logger's handler list changes, which it notices with a
  length-and-last-handler check per record.
* **No recursion.** A record logged while the bridge is already emitting (an exporter or processor
  that logs in the same thread), or while instrumentation is suppressed (the SDK sets that flag
  around every export, in any thread), is not fed back into the pipeline; a WARNING or worse goes
  to ``logging.lastResort`` instead when the application has no handler of its own to show it.
* **Hands off the application's setup.** No logger level is changed and no handler is removed; a
  record reaches the bridge only if the application's own levels let it through to the root
  logger, and the bridge then applies its own level on top. ``logging.basicConfig()`` called after
  the bridge is installed does what it does without kaizen_otel: the standard library skips it
  when the root logger has any handler, so while the bridge is installed ``basicConfig`` runs with
  the bridge (and the OTel handlers it mutes) set aside, and puts them back afterwards.
* **Trace fields on every record.** ``otelTraceID``, ``otelSpanID``, ``otelServiceName`` and
  ``otelTraceSampled`` (the names opentelemetry-instrumentation-logging uses) are set by a record
  factory, so a format string using them works in any handler.
* **structlog's fields stay fields.** A record whose message is structlog's event dict (its
  ``ProcessorFormatter.wrap_for_formatter`` setup) becomes the event as body and the other keys as
  attributes, not one string.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from time import time_ns
from typing import Any

from opentelemetry._logs import Logger as OTelLogger
from opentelemetry._logs import LoggerProvider, SeverityNumber
from opentelemetry._logs import _internal as _logs_internal
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value

from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.logging import safe_attributes

__all__ = [
    "KaizenLoggingHandler",
    "install_logging_bridge",
    "install_record_fields",
    "uninstall_logging_bridge",
]

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}

#: Attributes every ``logging.LogRecord`` has, plus what formatters and the logging
#: instrumentation add; anything else on a record came from ``extra=`` and becomes an attribute.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "otelSpanID",
    "otelTraceID",
    "otelTraceSampled",
    "otelServiceName",
}
_STANDARD_COUNT = len(vars(logging.LogRecord("", 0, "", 0, "", None, None)))

_SEVERITY_TEXT = {"WARNING": "WARN", "CRITICAL": "FATAL"}

_emitting: ContextVar[bool] = ContextVar("kaizen_otel.log_bridge.emitting", default=False)


def _severity(levelno: int) -> SeverityNumber:
    """Python level number -> OTel severity (10 DEBUG -> 5, 20 INFO -> 9, 30 -> 13, ...)."""
    if levelno < logging.DEBUG:
        return SeverityNumber.TRACE
    if levelno >= logging.CRITICAL:
        return SeverityNumber(min(21 + (levelno - logging.CRITICAL) // 10, 24))
    band, step = divmod(levelno, 10)  # 10..49 -> DEBUG..ERROR, 4 steps per band
    return SeverityNumber(1 + 4 * band + min(step // 3, 3))


_OTEL_HANDLER_MODULES = ("opentelemetry.instrumentation.logging", "opentelemetry.sdk._logs")


def _is_otel_handler(handler: logging.Handler) -> bool:
    """True for the OTel handler classes that would duplicate our records.

    Recognised by name and module rather than imported: importing
    opentelemetry-instrumentation-logging just to compare classes costs ~20 ms at configure time,
    and a handler of that class can only exist if its module is already loaded.
    """
    return any(
        cls.__name__ == "LoggingHandler" and cls.__module__.startswith(_OTEL_HANDLER_MODULES)
        for cls in type(handler).__mro__
    )


class _Reject(logging.Filter):
    """Put on a duplicate OTel handler: it keeps its place on the root logger but emits nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


class KaizenLoggingHandler(logging.Handler):
    """Feeds stdlib records to one LoggerProvider, with the active span's trace and span ids."""

    def __init__(self, logger_provider: LoggerProvider, level: int = logging.INFO) -> None:
        super().__init__(logging.NOTSET)  # the level is checked in handle(), after the duplicate scan
        self._provider = logger_provider
        self._threshold = level
        self._loggers: dict[str, OTelLogger] = {}
        self._root = logging.getLogger()
        self._seen_count = -1
        self._seen_last: logging.Handler | None = None
        self._reject = _Reject()
        self._muted: list[logging.Handler] = []

    # duplicates ---------------------------------------------------------------------------------

    def _feeds_our_pipeline(self, handler: logging.Handler) -> bool:
        provider = getattr(handler, "_logger_provider", None)
        if isinstance(provider, _logs_internal.ProxyLoggerProvider):
            provider = _logs_internal._LOGGER_PROVIDER  # what the proxy resolves to, if set yet
            return provider is None or provider is self._provider
        return provider is self._provider

    def rescan(self) -> None:
        """Mute every other OTel handler on the root logger that feeds our pipeline."""
        handlers = self._root.handlers
        for handler in list(handlers):
            if (
                handler is not self
                and _is_otel_handler(handler)
                and handler not in self._muted
                and self._feeds_our_pipeline(handler)
            ):
                handler.addFilter(self._reject)
                self._muted.append(handler)
        self._seen_count = len(handlers)
        self._seen_last = handlers[-1] if handlers else None

    def unmute(self) -> None:
        """Give the handlers we muted their records back."""
        for handler in self._muted:
            handler.removeFilter(self._reject)
        self._muted.clear()

    # the hot path -------------------------------------------------------------------------------

    def handle(self, record: logging.LogRecord) -> Any:
        """Like ``Handler.handle`` without the handler-wide lock: the OTel SDK is thread-safe, and
        serialising every thread's logging on one lock would be the bridge's largest cost."""
        handlers = self._root.handlers
        if len(handlers) != self._seen_count or (handlers and handlers[-1] is not self._seen_last):
            self.rescan()
        if record.levelno < self._threshold:
            return False
        if self.filters:
            result = self.filter(record)
            if not result:
                return False
            if isinstance(result, logging.LogRecord):
                record = result
        self.emit(record)
        return record

    def emit(self, record: logging.LogRecord) -> None:
        if _emitting.get() or get_value(_SUPPRESS_INSTRUMENTATION_KEY):
            self._fallback(record)
            return
        token = _emitting.set(True)
        try:
            logger = self._loggers.get(record.name)
            if logger is None:
                logger = self._loggers[record.name] = self._provider.get_logger(record.name)
            exc_info = record.exc_info
            if record.msg.__class__ is dict:
                body, attributes = _structlog_event(record)
            else:
                body, attributes = _message(record), _extra_attributes(record)
            logger.emit(
                timestamp=int(record.created * 1e9),
                observed_timestamp=time_ns(),
                severity_number=_severity(record.levelno),
                severity_text=_SEVERITY_TEXT.get(record.levelname, record.levelname),
                body=body,
                attributes=attributes,
                exception=exc_info[1] if exc_info else None,
            )
        except Exception:
            self.handleError(record)
        finally:
            _emitting.reset(token)

    def _fallback(self, record: logging.LogRecord) -> None:
        """A record that must not re-enter the pipeline, shown on stderr if nobody else shows it."""
        last_resort = logging.lastResort
        if (
            last_resort is not None
            and record.levelno >= last_resort.level
            and all(h is self or h in self._muted for h in self._root.handlers)
        ):
            last_resort.handle(record)

    def flush(self) -> None:
        # Flushing the provider here could block the application's logging.shutdown(); the
        # providers are flushed by kaizen_otel's own shutdown and atexit hook.
        return None


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad %-arguments must not lose the record
        return f"{record.msg!s} {record.args!r}"


#: Keys of a structlog event dict that are not fields: the body, the level (the severity carries
#: it) and structlog's own bookkeeping (``_record``, ``_from_structlog``).
_STRUCTLOG_SKIP = frozenset({"event", "level"})


def _structlog_event(record: logging.LogRecord) -> tuple[Any, dict[str, Any] | None]:
    """structlog's event dict on a record (``wrap_for_formatter``): the event, and its fields."""
    event: dict[str, Any] = record.msg  # type: ignore[assignment]
    if "event" not in event:
        return _message(record), _extra_attributes(record)
    fields = {k: v for k, v in event.items() if k not in _STRUCTLOG_SKIP and not k.startswith("_")}
    extra = _extra_attributes(record)
    if extra:
        fields.update((k, v) for k, v in extra.items() if not k.startswith("_"))
    body = event["event"]
    return (body if body.__class__ is str else str(body)), (safe_attributes(fields) if fields else None)


def _extra_attributes(record: logging.LogRecord) -> dict[str, Any] | None:
    values = vars(record)
    if len(values) <= _STANDARD_COUNT:
        return None
    extra = {key: value for key, value in values.items() if key not in _STANDARD_ATTRS}
    return safe_attributes(extra) if extra else None


# --- installation ---------------------------------------------------------------------------------

_lock = threading.Lock()
_installed: KaizenLoggingHandler | None = None


def _parse_level(level: str) -> int:
    name = level.upper().strip() if isinstance(level, str) else level
    if name == "WARN":
        name = "WARNING"
    if name not in _LEVELS:
        raise KaizenConfigError("log_level", level, "one of " + ", ".join(_LEVELS))
    return _LEVELS[name]


def install_logging_bridge(logger_provider: LoggerProvider, level: str = "INFO") -> Callable[[], None]:
    """Put the one bridge handler on the root logger; returns a function that takes it off again.

    Installing again replaces the earlier bridge (there is never more than one). Levels and the
    application's own handlers are left as they are.
    """
    level_no = _parse_level(level)
    global _installed
    with _lock:
        _uninstall_locked()
        handler = KaizenLoggingHandler(logger_provider, level_no)
        logging.getLogger().addHandler(handler)
        handler.rescan()
        _installed = handler
        _wrap_basic_config()

    def uninstall() -> None:
        with _lock:
            if _installed is handler:
                _uninstall_locked()

    return uninstall


def uninstall_logging_bridge() -> None:
    """Take the bridge off the root logger, if it is installed."""
    with _lock:
        _uninstall_locked()


def _uninstall_locked() -> None:
    global _installed
    handler = _installed
    if handler is None:
        return
    _installed = None
    logging.getLogger().removeHandler(handler)
    handler.unmute()
    handler.close()


# --- logging.basicConfig() after the bridge ------------------------------------------------------

_original_basic_config: Callable[..., None] | None = None


def _wrap_basic_config() -> None:
    """Make ``logging.basicConfig`` see the root logger as the application left it (once)."""
    global _original_basic_config
    if _original_basic_config is not None or getattr(logging.basicConfig, "_kaizen_otel", False):
        return
    original = logging.basicConfig

    def basicConfig(**kwargs: Any) -> None:
        handler = _installed
        if handler is None:
            original(**kwargs)
            return
        root = logging.getLogger()
        ours = [h for h in root.handlers if h is handler or h in handler._muted]
        for h in ours:
            root.removeHandler(h)
        try:
            original(**kwargs)
        finally:
            for h in ours:
                if h not in root.handlers:
                    root.addHandler(h)
            handler.rescan()

    basicConfig.__doc__ = original.__doc__
    basicConfig._kaizen_otel = True  # type: ignore[attr-defined]
    _original_basic_config = original
    logging.basicConfig = basicConfig


# --- otelTraceID / otelSpanID / otelServiceName / otelTraceSampled -------------------------------

_fields_lock = threading.Lock()
_fields_service = [""]  # the service name on records; "" once the configuration is shut down
_factory_installed = False


def install_record_fields(service_name: str) -> Callable[[], None]:
    """Put the trace fields on every stdlib record from now on; returns a function for shutdown.

    The factory wraps whatever record factory is current, once per process, and stays: a format
    string using the fields must not start raising after shutdown (records logged at exit). After
    shutdown the service name is empty; the trace fields still follow the current span.
    """
    global _factory_installed
    with _fields_lock:
        _fields_service[0] = service_name
        if not _factory_installed:
            previous = logging.getLogRecordFactory()
            from opentelemetry.trace import get_current_span

            def record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                context = get_current_span().get_span_context()
                if context.is_valid:
                    record.otelTraceID = format(context.trace_id, "032x")
                    record.otelSpanID = format(context.span_id, "016x")
                    record.otelTraceSampled = context.trace_flags.sampled
                else:
                    record.otelTraceID = record.otelSpanID = "0"
                    record.otelTraceSampled = False
                record.otelServiceName = _fields_service[0]
                return record

            logging.setLogRecordFactory(record_factory)
            _factory_installed = True

    def stop() -> None:
        with _fields_lock:
            if _fields_service[0] == service_name:
                _fields_service[0] = ""

    return stop
