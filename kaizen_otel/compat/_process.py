"""The process-wide pipeline under the compat API: ``configure()`` once, then reuse its handle.

OpenTelemetry lets each global provider be set once per process. The first manager (or
TracingManager, or audit storage) that needs the pipeline calls ``configure()`` with its own
choices; every later one reuses the installed handle, whatever it asks for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kaizen_otel._internal.setup import Observability, active, configure_once
from kaizen_otel.exceptions import KaizenConfigError, KaizenError

__all__ = ["DEFAULT_SERVICE_NAME", "check_flag", "check_text", "flush_within", "process_handle"]

_log = logging.getLogger("kaizen_otel.compat")

#: The documents' default service name.
DEFAULT_SERVICE_NAME = "kaizen-agent"


def check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise KaizenConfigError(name, value, "True or False")
    return value


def check_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KaizenConfigError(name, value, "a non-empty string")
    return value


def _environment_names_service() -> bool:
    """True when ``KAIZEN_OTEL_SERVICE_NAME`` or ``OTEL_SERVICE_NAME`` sets the service name."""
    from kaizen_otel._internal.settings import resolve

    try:
        return resolve({}).sources["service_name"] != "default"
    except KaizenConfigError:
        return False  # configure() raises the same error with the full message


def process_handle(service_name: str, origin: str, **switches: bool) -> Observability | None:
    """The installed handle, or a new one configured with ``service_name`` and ``switches``.

    The documents' default name (``kaizen-agent``) does not override a service name the
    environment sets. None when the process was configured and then shut down (OpenTelemetry
    allows no second installation): the caller then works with the OTel API's no-ops.
    """
    handle = active()
    if handle is not None:
        return handle
    overrides: dict[str, Any] = dict(switches)
    if service_name != DEFAULT_SERVICE_NAME or not _environment_names_service():
        overrides["service_name"] = service_name
    try:
        return configure_once(overrides, strict=True, origin=origin)
    except KaizenConfigError:
        raise
    except KaizenError as exc:
        _log.warning("kaizen_otel: %s; %s records nothing", exc, origin)
        return None


def flush_within(flush: Callable[[], Any], timeout: float) -> bool:
    """Run ``flush`` for at most ``timeout`` seconds; True when it finished and succeeded.

    The SDK's ``force_flush`` exports in the calling thread and waits out the exporter's own
    timeout and retries (10 s and more against a receiver that hangs), whatever limit it is given.
    Here it runs in a daemon thread that is left to finish on its own once the limit has passed.
    """
    done: list[bool] = []

    def run() -> None:
        try:
            done.append(bool(flush()))
        except Exception:
            _log.exception("kaizen_otel: flushing failed")
            done.append(False)

    worker = threading.Thread(target=run, name="kaizen-otel-flush", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    return bool(done) and done[0]
