"""The functions behind ``kaizen_otel.configure()`` and friends."""

from __future__ import annotations

from typing import Any

from kaizen_otel._internal.setup import Observability, active, configure_once


def configure(**overrides: Any) -> Observability:
    """Install OpenTelemetry tracing, metrics and logging for this process, once.

    Keyword arguments are settings by name (see ``docs/configuration.md`` or ``kaizen-otel
    config``); they win over ``KAIZEN_OTEL_*`` and ``OTEL_*`` variables, which win over the
    defaults. With nothing configured, nothing leaves the machine: metrics on
    ``http://localhost:9464/metrics``, logs as JSON lines on stderr, spans nowhere.

    A second call returns the same handle (and logs that it did). Raises
    :class:`~kaizen_otel.KaizenConfigError` for a bad argument or ``KAIZEN_OTEL_*`` value, naming
    the setting, the value and what is allowed.
    """
    return configure_once(overrides, strict=True, origin="configure()")


def get_observability() -> Observability | None:
    """The handle installed in this process by ``configure()`` or auto-instrumentation."""
    return active()


def shutdown() -> None:
    """Flush and stop what ``configure()`` installed; does nothing when not configured."""
    handle = active()
    if handle is not None:
        handle.shutdown()
