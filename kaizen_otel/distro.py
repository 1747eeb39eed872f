"""Entry points for ``opentelemetry-instrument``: the distro and the configurator.

Both are named ``kaizen_otel``. The distro only marks that auto-instrumentation is running (it
writes no environment variables: our settings resolver has its own defaults); the configurator
runs exactly the same setup as :func:`kaizen_otel.configure`, in lenient mode, so a bad value is
logged once and the safe default used instead of crashing the host application.

Where another distro or configurator is installed too, the first entry point found wins; pin ours
with ``OTEL_PYTHON_DISTRO=kaizen_otel`` and ``OTEL_PYTHON_CONFIGURATOR=kaizen_otel``.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.instrumentation.dependencies import DependencyConflictError
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _BaseConfigurator

_log = logging.getLogger("kaizen_otel.distro")


class KaizenDistro(BaseDistro):
    """Selected by ``opentelemetry-instrument``; the configurator does the actual setup."""

    def _configure(self, **kwargs: Any) -> None:
        _log.debug("kaizen_otel distro selected")

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """As the base distro does, except that one broken instrumentation cannot cost the others.

        ``opentelemetry-instrument`` calls this only after checking that the instrumented library
        is installed, so any failure here means that library's calls go untraced: it is logged
        once at WARNING (the loader says DEBUG or nothing). The loader skips an instrumentation
        that fails to import, but any other exception (a bug in its ``instrument()``, an
        incompatible version of the library it patches) aborts auto-instrumentation altogether:
        every instrumentation after it in entry-point order, and the post-instrument hooks, are
        never run. So that one is swallowed here, after the warning, and loading goes on.
        """
        try:
            super().load_instrumentor(entry_point, **kwargs)
        except DependencyConflictError:  # the loader reports it and goes on to the next one
            raise
        except ImportError as exc:  # the loader logs it and goes on to the next one
            _warn_failed(entry_point.name, exc)
            raise
        except Exception as exc:
            _warn_failed(entry_point.name, exc)


def _warn_failed(name: str, exc: BaseException) -> None:
    from kaizen_otel._internal.doctor import warn_failed_instrumentation  # slow to import: on failure only

    warn_failed_instrumentation(name, exc)
    _log.debug("instrumentation %r failed to load", name, exc_info=exc)


class KaizenConfigurator(_BaseConfigurator):
    """Runs ``configure()`` from environment variables alone; never raises into the host."""

    def _configure(self, **kwargs: Any) -> None:
        try:
            from kaizen_otel._internal.setup import configure_once

            configure_once(strict=False, origin="opentelemetry-instrument")
        except Exception:
            _log.exception("kaizen_otel could not be configured; the application continues without telemetry")


__all__ = ["KaizenConfigurator", "KaizenDistro"]
