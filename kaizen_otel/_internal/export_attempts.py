"""See each failed send attempt of an OTLP exporter, before the exporter retries it.

The OTLP exporters retry a failed send with backoff for up to their timeout (10 s by default) and
return a result only then, so a counter fed by ``export()`` results sees an outage ~10 s late.
The first failed attempt is what ``/readyz`` and an alert need. The SDK offers no hook for it, so
this wraps the one object each exporter sends through: the gRPC stub's ``Export`` call, or the
HTTP transport's ``request``. An exporter of another shape is left alone (its failures are still
counted when ``export()`` returns).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("kaizen_otel.selfmon")

OnFailure = Callable[[], None]


def observe_attempts(exporter: Any, on_failure: OnFailure) -> None:
    """Call ``on_failure`` after every failed send attempt of an OTLP exporter."""
    try:
        if hasattr(exporter, "_stub") and hasattr(exporter, "_channel"):
            _observe_grpc(exporter, on_failure)
        elif hasattr(getattr(getattr(exporter, "_client", None), "_transport", None), "request"):
            _observe_http(exporter._client._transport, on_failure)
    except Exception:  # an SDK of another shape: count results only
        _log.debug("cannot observe export attempts of %s", type(exporter).__name__, exc_info=True)


def _observe_grpc(exporter: Any, on_failure: OnFailure) -> None:
    """Wrap the stub class, so the stub the exporter rebuilds on reconnection is observed too."""
    stub_class = exporter._stub

    def observed_stub(channel: Any) -> Any:
        return _ObservedStub(stub_class(channel), on_failure)

    exporter._stub = observed_stub
    if exporter._client is not None:
        exporter._client = _ObservedStub(exporter._client, on_failure)


class _ObservedStub:
    __slots__ = ("_on_failure", "_stub")

    def __init__(self, stub: Any, on_failure: OnFailure) -> None:
        self._stub = stub
        self._on_failure = on_failure

    def Export(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._stub.Export(*args, **kwargs)
        except Exception:
            self._on_failure()
            raise


def _observe_http(transport: Any, on_failure: OnFailure) -> None:
    request = transport.request

    def observed_request(*args: Any, **kwargs: Any) -> Any:
        try:
            result = request(*args, **kwargs)
        except Exception:
            on_failure()
            raise
        status = getattr(result, "status_code", None)
        if status is None or not 200 <= status < 400:
            on_failure()
        return result

    transport.request = observed_request
