"""Structured logging with bound context, emitted straight into the OpenTelemetry logs pipeline.

``get_logger(name)`` returns a :class:`StructuredLogger`. Each call
(``logger.info("Processing question", question=q, estimated_tokens=100)``) becomes one OTel log
record with a severity, the message as body, the logger's context plus the call's fields as
attributes, and the trace and span ids of the active span. With console output on, the record
prints as one JSON line in the shape the source documents show (see
``kaizen_otel._internal.log_console``).

Why not a stdlib ``logging.Handler``: going through ``logging`` costs a ``LogRecord``, the handler
lock and a translation step, about twice the cost of calling the OTel logs API directly. Stdlib
records still arrive through the bridge in ``kaizen_otel._internal.log_bridge``.

Context (``add_context``) lives in a ``contextvars.ContextVar`` and is copied on write, so two
asyncio tasks or two threads never see each other's context. A logger created at import time,
before ``configure()``, resolves the global LoggerProvider on its first call after it changes:
one identity check per call, no lock.
"""

from __future__ import annotations

import datetime
import enum
import logging as _stdlib_logging
import sys
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from time import time_ns
from typing import Any

from opentelemetry._logs import Logger as OTelLogger
from opentelemetry._logs import (
    LoggerProvider,
    NoOpLogger,
    NoOpLoggerProvider,
    SeverityNumber,
    get_logger_provider,
)
from opentelemetry._logs import _internal as _logs_api
from opentelemetry._logs._internal import ProxyLoggerProvider

from kaizen_otel.exceptions import KaizenConfigError

__all__ = [
    "StructlogProcessor",
    "StructuredLogger",
    "configure_logging",
    "get_logger",
    "reset_logging",
    "reset_state",
    "safe_attributes",
    "set_level",
]

_internal_log = _stdlib_logging.getLogger("kaizen_otel.logging")

_LEVELS: dict[str, tuple[SeverityNumber, str]] = {
    "DEBUG": (SeverityNumber.DEBUG, "DEBUG"),
    "INFO": (SeverityNumber.INFO, "INFO"),
    "WARNING": (SeverityNumber.WARN, "WARN"),
    "ERROR": (SeverityNumber.ERROR, "ERROR"),
    "CRITICAL": (SeverityNumber.FATAL, "FATAL"),
}
_DEBUG, _INFO, _WARNING, _ERROR, _CRITICAL = (_LEVELS[name][0] for name in _LEVELS)
_DEFAULT_LEVEL = "INFO"
_OFF = 1_000  # above every severity: every call returns at the first comparison

#: The lowest severity number emitted. A plain module global: reading it is the whole cost of a
#: filtered-out call.
_threshold: int = _INFO.value

_EMPTY: Mapping[str, Any] = {}
_MAX_DEPTH = 4
_MAX_ITEMS = 128
_MAX_TEXT = 8192
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


# --- level ----------------------------------------------------------------------------------------


def _parse_level(level: str, setting: str = "log_level") -> str:
    name = level.upper().strip() if isinstance(level, str) else level
    if name == "WARN":
        name = "WARNING"
    if name not in _LEVELS:
        raise KaizenConfigError(setting, level, "one of " + ", ".join(_LEVELS))
    return str(name)


def set_level(level: str) -> None:
    """Set the lowest level every StructuredLogger emits (``DEBUG`` ... ``CRITICAL``)."""
    global _threshold
    _threshold = _LEVELS[_parse_level(level)][0].value


def configure_logging(settings: Any) -> None:
    """Apply the logging settings: ``log_level``; everything off when logging or the SDK is off."""
    global _threshold
    if not settings.enable_logging or settings.sdk_disabled:
        _threshold = _OFF
        return
    _threshold = _LEVELS[_parse_level(settings.log_level)][0].value


def reset_logging() -> None:
    """Back to the state of a process that never configured: default level, no stdlib bridge."""
    global _threshold
    _threshold = _LEVELS[_DEFAULT_LEVEL][0].value
    from kaizen_otel._internal import log_bridge

    log_bridge.uninstall_logging_bridge()


# --- attribute values -----------------------------------------------------------------------------


def _safe_str(value: Any) -> str:
    try:
        text = str(value)
    except Exception:
        try:
            text = repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _scalar(value: Any) -> Any:
    """A value OTel can carry as is, or its text."""
    kind = value.__class__
    if kind is str or kind is bool or kind is float or value is None or kind is bytes:
        return value
    if kind is int:
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if isinstance(value, enum.Enum):
        return _scalar(value.value)
    if isinstance(value, bool):  # subclasses of the plain types become the plain type
        return bool(value)
    if isinstance(value, int):
        return _scalar(int(value))
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {_safe_str(value)}"
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return _safe_str(value)


def _put(out: dict[str, Any], key: str, value: Any, depth: int) -> None:
    kind = value.__class__
    if kind is str or kind is bool or kind is float or value is None:
        out[key] = value
    elif isinstance(value, Mapping):
        if depth >= _MAX_DEPTH or not value:
            out[key] = _safe_str(dict(value)) if value else "{}"
            return
        for sub_key, sub_value in value.items():
            _put(
                out,
                f"{key}.{sub_key}" if sub_key.__class__ is str else f"{key}.{_safe_str(sub_key)}",
                sub_value,
                depth + 1,
            )
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)[:_MAX_ITEMS] if len(value) > _MAX_ITEMS else value
        out[key] = tuple(_scalar(item) for item in items)
    else:
        out[key] = _scalar(value)


def safe_attributes(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Merge mappings (later wins) into OTel log attributes that never make the SDK warn or raise.

    Strings, booleans, floats, ``None``, bytes and 64-bit integers are kept; nested mappings are
    flattened to dotted keys (``user.id``), up to four levels; sequences become tuples of such
    values; anything else becomes its text (``datetime`` as ISO-8601), which never raises.
    """
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key.__class__ is not str:
                key = _safe_str(key)
            kind = value.__class__
            if (
                kind is str
                or kind is bool
                or kind is float
                or value is None
                or (kind is int and _INT_MIN <= value <= _INT_MAX)
            ):
                out[key] = value
            else:
                _put(out, key, value, 0)
    return out


# --- the logger -----------------------------------------------------------------------------------

_failure_reported = False


def _report_failure() -> None:
    """Say once that emitting failed; the application carries on either way."""
    global _failure_reported
    if not _failure_reported:
        _failure_reported = True
        _internal_log.warning("kaizen_otel: a StructuredLogger call failed and was dropped", exc_info=True)


class StructuredLogger:
    """A logger whose records carry context set once (agent, session, user) plus per-call fields.

    Use :func:`get_logger` rather than the constructor, so every part of a program that asks for
    the same name shares one context.
    """

    __slots__ = ("_bound", "_context", "_otel", "_provider", "name")

    def __init__(
        self,
        name: str,
        *,
        _context: ContextVar[Mapping[str, Any]] | None = None,
        _bound: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise KaizenConfigError("name", name, "a non-empty logger name")
        self.name = name
        if _context is None:
            _context = ContextVar(f"kaizen_otel.log_context.{name}", default=_EMPTY)
        self._context: ContextVar[Mapping[str, Any]] = _context
        self._bound: Mapping[str, Any] = dict(_bound) if _bound else _EMPTY
        self._provider: LoggerProvider | None = None
        self._otel: OTelLogger | None = None

    def __repr__(self) -> str:
        return f"StructuredLogger({self.name!r})"

    # context ------------------------------------------------------------------------------------

    def add_context(self, **context: Any) -> None:
        """Add fields to every later record of this logger, in the current task or thread only."""
        self._context.set({**self._context.get(), **context})

    def get_context(self) -> dict[str, Any]:
        """The fields every record gets now: the context plus this logger's bound fields."""
        return {**self._context.get(), **self._bound}

    def clear_context(self) -> None:
        """Forget the context added in the current task or thread (bound fields stay)."""
        self._context.set(_EMPTY)

    def bind(self, **fields: Any) -> StructuredLogger:
        """A child logger that adds ``fields`` to each of its records; this logger is unchanged.

        The child shares this logger's name and context: ``add_context`` on either is seen by both.
        """
        return StructuredLogger(self.name, _context=self._context, _bound={**self._bound, **fields})

    # levels -------------------------------------------------------------------------------------

    @staticmethod
    def is_enabled_for(level: str) -> bool:
        """Whether a call at ``level`` would be emitted (to skip computing costly fields)."""
        return _LEVELS[_parse_level(level, "level")][0].value >= _threshold

    def debug(self, message: str, /, **fields: Any) -> None:
        if _threshold <= 5:
            self._emit(_DEBUG, "DEBUG", message, fields, None)

    def info(self, message: str, /, **fields: Any) -> None:
        if _threshold <= 9:
            self._emit(_INFO, "INFO", message, fields, None)

    def warning(self, message: str, /, **fields: Any) -> None:
        if _threshold <= 13:
            self._emit(_WARNING, "WARN", message, fields, None)

    warn = warning

    def error(self, message: str, /, **fields: Any) -> None:
        if _threshold <= 17:
            self._emit(_ERROR, "ERROR", message, fields, None)

    def exception(self, message: str, /, **fields: Any) -> None:
        """``error`` plus the exception being handled (type, message and stack trace attributes)."""
        if _threshold <= 17:
            self._emit(_ERROR, "ERROR", message, fields, sys.exc_info()[1])

    def critical(self, message: str, /, **fields: Any) -> None:
        if _threshold <= 21:
            self._emit(_CRITICAL, "FATAL", message, fields, None)

    def log(self, level: str, message: str, /, **fields: Any) -> None:
        """Log at a level given by name (``"INFO"``)."""
        severity, text = _LEVELS[_parse_level(level, "level")]
        if severity.value >= _threshold:
            self._emit(severity, text, message, fields, None)

    # emission -----------------------------------------------------------------------------------

    def _resolve(self, provider: LoggerProvider) -> None:
        otel: OTelLogger | None = None
        if not isinstance(provider, ProxyLoggerProvider | NoOpLoggerProvider):
            otel = provider.get_logger(self.name)
            if isinstance(otel, NoOpLogger):
                otel = None
        self._otel = otel
        self._provider = provider

    def _emit(
        self,
        severity: SeverityNumber,
        text: str,
        message: Any,
        fields: dict[str, Any],
        exception: BaseException | None,
    ) -> None:
        try:
            provider = _logs_api._LOGGER_PROVIDER
            if provider is None:  # nothing set yet: ask the API once, then it costs two attribute reads
                if _environment_checked:
                    return
                provider = _provider_from_environment()
                if provider is None:
                    return
            if provider is not self._provider:
                self._resolve(provider)
            otel = self._otel
            if otel is None:
                return
            context = self._context.get()
            bound = self._bound
            attributes = safe_attributes(context, bound, fields) if (context or bound or fields) else None
            otel.emit(
                timestamp=time_ns(),
                severity_number=severity,
                severity_text=text,
                body=message if message.__class__ is str else _safe_str(message),
                attributes=attributes,
                exception=exception,
            )
        except Exception:
            _report_failure()


_registry: dict[str, StructuredLogger] = {}
_registry_lock = threading.Lock()


_environment_checked = False


def _provider_from_environment() -> LoggerProvider | None:
    """The provider ``OTEL_PYTHON_LOGGER_PROVIDER`` names, asked of the API on the first call only.

    Until a provider is set, the API's ``get_logger_provider()`` reads the environment on every
    call (~1 µs): a log call before ``configure()`` would pay that each time for nothing.
    """
    global _environment_checked
    if _environment_checked:
        return None
    _environment_checked = True
    provider = get_logger_provider()
    return None if isinstance(provider, ProxyLoggerProvider) else provider


def get_logger(name: str) -> StructuredLogger:
    """The StructuredLogger for ``name`` (one instance, and one context, per name)."""
    logger = _registry.get(name)
    if logger is not None:
        return logger
    with _registry_lock:
        logger = _registry.get(name)
        if logger is None:
            logger = _registry[name] = StructuredLogger(name)
        return logger


def reset_state() -> None:
    """Forget what loggers carry between tests: the context added in this thread, the failure report.

    Used by ``kaizen_otel.testing.reset_globals()``; loggers themselves stay (a module-level
    logger keeps working), their context in the calling thread is emptied.
    """
    global _failure_reported, _environment_checked
    _failure_reported = False
    _environment_checked = False
    with _registry_lock:
        loggers = list(_registry.values())
    for logger in loggers:
        logger.clear_context()


# --- structlog ------------------------------------------------------------------------------------

_STRUCTLOG_LEVELS = {
    "debug": "DEBUG",
    "info": "INFO",
    "msg": "INFO",
    "warning": "WARNING",
    "warn": "WARNING",
    "error": "ERROR",
    "exception": "ERROR",
    "critical": "CRITICAL",
    "fatal": "CRITICAL",
}
_STRUCTLOG_SKIP = frozenset({"event", "level", "logger", "exc_info", "stack_info"})


class StructlogProcessor:
    """A structlog processor that sends each event to the OTel logs pipeline, fields as attributes.

    Put it in structlog's chain before the renderer; it passes the event dict on unchanged, so the
    console output stays as it was. Works without importing structlog (a processor is a plain
    callable), so structlog stays an optional dependency::

        structlog.configure(processors=[..., StructlogProcessor(), structlog.dev.ConsoleRenderer()])

    For structlog set up on top of the stdlib (``structlog.stdlib.LoggerFactory`` with
    ``ProcessorFormatter.wrap_for_formatter``), nothing is needed: the stdlib bridge already turns
    the event dict into body and attributes. Use one path or the other, not both.
    """

    __slots__ = ("_default_name",)

    def __init__(self, logger_name: str = "structlog") -> None:
        self._default_name = logger_name

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        level = _STRUCTLOG_LEVELS.get(method_name) or str(event_dict.get("level", "INFO")).upper()
        severity, text = _LEVELS.get(level, _LEVELS["INFO"])
        if severity.value < _threshold:
            return event_dict
        name = event_dict.get("logger") or getattr(logger, "name", None) or self._default_name
        fields = {k: v for k, v in event_dict.items() if k not in _STRUCTLOG_SKIP and not k.startswith("_")}
        exc_info = event_dict.get("exc_info")
        exception = None
        if method_name == "exception" or exc_info is True:
            exception = sys.exc_info()[1]
        elif isinstance(exc_info, BaseException):
            exception = exc_info
        get_logger(str(name))._emit(severity, text, event_dict.get("event", ""), fields, exception)
        return event_dict
