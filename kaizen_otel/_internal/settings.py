"""Every setting of kaizen_otel, in one table, and the one resolver that reads them.

Each field of :class:`Settings` carries its own spec (environment variables in order of
precedence, kind, default, one-line doc). The resolver applies one rule to all of them::

    explicit argument  >  KAIZEN_OTEL_*  >  standard OTEL_*  >  default

An empty environment value counts as unset. This is the only module that reads ``os.environ``;
the configuration reference in ``docs/configuration.md`` and ``kaizen-otel config`` are both
generated from this table, so they cannot drift from the code.

Error policy: a bad explicit argument or a bad ``KAIZEN_OTEL_*`` value raises
:class:`~kaizen_otel.exceptions.KaizenConfigError`; a bad standard ``OTEL_*`` value is logged and
the default used (the OpenTelemetry specification's rule). In lenient mode (auto-instrumentation,
where we must never crash the host application) every error is logged once and the default used.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kaizen_otel.exceptions import KaizenConfigError

_log = logging.getLogger("kaizen_otel.settings")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class _Frozen:
    """A small immutable record whose fields are its ``__slots__``, set once in ``__init__``.

    Written by hand instead of ``@dataclass(frozen=True)``: a dataclass compiles its generated
    methods when the module is imported (~0.4 ms a class), and every process that configures
    imports this module. Equality, hashing and the repr follow the dataclass rules.
    """

    __slots__: tuple[str, ...] = ()

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields_ = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({fields_})"


class Kind(_Frozen, abc.ABC):
    """How one setting's text is parsed and its Python value checked."""

    allowed: str = "a value"

    @abc.abstractmethod
    def parse(self, raw: str) -> Any:
        """Parse environment text; raise ValueError when it is not allowed."""

    def coerce(self, value: Any) -> Any:
        """Check an explicit Python argument; strings are parsed like environment text."""
        if isinstance(value, str):
            return self.parse(value)
        return self._check(value)

    def _check(self, value: Any) -> Any:
        raise ValueError

    def render(self, value: Any) -> str:
        """The value as a user would write it in the environment."""
        if value is None:
            return ""
        return str(value)


class Bool(Kind):
    allowed = "one of true, false (also 1/0, yes/no, on/off)"

    def parse(self, raw: str) -> bool:
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError

    def _check(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise ValueError

    def render(self, value: Any) -> str:
        return "true" if value else "false"


class ContentCapture(Bool):
    """A boolean that also reads the GenAI content modes (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).

    Under the latest GenAI conventions the instrumentations take ``NO_CONTENT``, ``SPAN_ONLY``,
    ``EVENT_ONLY`` or ``SPAN_AND_EVENT`` there; a user who set one of them to make an
    instrumentation record content means "capture on" (``NO_CONTENT``: off).
    """

    allowed = (
        "one of true, false (also 1/0, yes/no, on/off, NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT)"
    )

    def parse(self, raw: str) -> bool:
        text = raw.strip().lower()
        if text in _CONTENT_MODES_ON:
            return True
        if text == "no_content":
            return False
        return super().parse(raw)


_CONTENT_MODES_ON = {"span_only", "event_only", "span_and_event"}


class Int(Kind):
    __slots__ = ("maximum", "minimum")
    minimum: int | None
    maximum: int | None

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self._set(minimum=minimum, maximum=maximum)

    @property
    def allowed(self) -> str:  # type: ignore[override]
        if self.minimum is not None and self.maximum is not None:
            return f"an integer from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"an integer >= {self.minimum}"
        return "an integer"

    def parse(self, raw: str) -> int:
        return self._check(int(raw.strip()))

    def _check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        if self.minimum is not None and value < self.minimum:
            raise ValueError
        if self.maximum is not None and value > self.maximum:
            raise ValueError
        return value


class Float(Kind):
    __slots__ = ("maximum", "minimum")
    minimum: float | None
    maximum: float | None

    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self._set(minimum=minimum, maximum=maximum)

    @property
    def allowed(self) -> str:  # type: ignore[override]
        if self.minimum is not None and self.maximum is not None:
            return f"a number from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"a number >= {self.minimum:g}"
        return "a number"

    def parse(self, raw: str) -> float:
        return self._check(float(raw.strip()))

    def _check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError
        number = float(value)
        if number != number:  # NaN
            raise ValueError
        if self.minimum is not None and number < self.minimum:
            raise ValueError
        if self.maximum is not None and number > self.maximum:
            raise ValueError
        return number


class Text(Kind):
    allowed = "a non-empty string"

    def parse(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            raise ValueError
        return text

    def _check(self, value: Any) -> str:
        raise ValueError


class Secret(Text):
    """A string never shown in full (``kaizen-otel config`` prints it masked)."""

    def render(self, value: Any) -> str:
        return "" if value is None else "***"


class Choice(Kind):
    __slots__ = ("case_sensitive", "choices")
    choices: tuple[str, ...]
    case_sensitive: bool

    def __init__(self, choices: tuple[str, ...] = (), case_sensitive: bool = False) -> None:
        self._set(choices=choices, case_sensitive=case_sensitive)

    @property
    def allowed(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def parse(self, raw: str) -> str:
        text = raw.strip() if self.case_sensitive else raw.strip().lower()
        lookup = {c if self.case_sensitive else c.lower(): c for c in self.choices}
        if text not in lookup:
            raise ValueError
        return lookup[text]

    def _check(self, value: Any) -> str:
        raise ValueError


class ChoiceList(Kind):
    """A comma-separated list of names, as the spec's ``OTEL_*_EXPORTER`` variables are."""

    __slots__ = ("choices",)
    choices: tuple[str, ...]

    def __init__(self, choices: tuple[str, ...] = ()) -> None:
        self._set(choices=choices)

    @property
    def allowed(self) -> str:  # type: ignore[override]
        return "a comma-separated list of " + ", ".join(self.choices)

    def parse(self, raw: str) -> tuple[str, ...]:
        items = [part.strip().lower() for part in raw.split(",") if part.strip()]
        return self._check(items)

    def _check(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
            raise ValueError
        items: list[str] = []
        for item in value:
            if not isinstance(item, str) or item.lower() not in self.choices:
                raise ValueError
            if item.lower() not in items:
                items.append(item.lower())
        if "none" in items and len(items) > 1:
            raise ValueError
        return tuple(items)

    def render(self, value: Any) -> str:
        return ",".join(value) if value else ""


class TextList(Kind):
    allowed = "a comma-separated list of names"

    def parse(self, raw: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def _check(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
            raise ValueError
        if not all(isinstance(item, str) and item for item in value):
            raise ValueError
        return tuple(value)

    def render(self, value: Any) -> str:
        return ",".join(value) if value else ""


class PatternList(Kind):
    """Regular expressions: a JSON array of strings, or one expression on its own."""

    allowed = "a regular expression, or a JSON array of regular expressions"

    def parse(self, raw: str) -> tuple[str, ...]:
        text = raw.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError from exc
            return self._check(items)
        return self._check([text])

    def _check(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError
        for item in value:
            if not isinstance(item, str) or not item:
                raise ValueError
            try:
                re.compile(item)
            except re.error as exc:
                raise ValueError from exc
        return tuple(value)

    def render(self, value: Any) -> str:
        return json.dumps(list(value)) if value else ""


class KeyValues(Kind):
    """``key1=value1,key2=value2``, the format of ``OTEL_RESOURCE_ATTRIBUTES``."""

    allowed = "a comma-separated list of key=value pairs"

    def parse(self, raw: str) -> Mapping[str, str]:
        pairs: dict[str, str] = {}
        for part in raw.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ValueError
            pairs[_unquote(key.strip())] = _unquote(value.strip())
        return pairs

    def _check(self, value: Any) -> Mapping[str, str]:
        if not isinstance(value, Mapping):
            raise ValueError
        if not all(isinstance(k, str) and k for k in value):
            raise ValueError
        return {str(k): str(v) for k, v in value.items()}

    def render(self, value: Any) -> str:
        return ",".join(f"{k}={v}" for k, v in value.items()) if value else ""


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


class Path(Kind):
    allowed = "a file system path"

    def parse(self, raw: str) -> str:
        text = raw.strip()
        if not text or "\x00" in text:
            raise ValueError
        return os.path.expanduser(text)

    def _check(self, value: Any) -> str:
        if isinstance(value, os.PathLike):
            return self.parse(os.fspath(value))  # type: ignore[arg-type]
        raise ValueError


class Endpoint(Kind):
    allowed = "a URL such as http://localhost:4317"

    def parse(self, raw: str) -> str:
        text = raw.strip()
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/]+", text):
            raise ValueError
        return text

    def _check(self, value: Any) -> str:
        raise ValueError


#: Sentinel default for the three exporter lists: chosen from the OTLP endpoints after resolving.
AUTO: tuple[str, ...] = ()

_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


class SettingSpec(_Frozen):
    """One row of the settings table."""

    __slots__ = ("default", "doc", "env", "group", "kind", "name")
    name: str
    env: tuple[str, ...]
    kind: Kind
    default: Any
    doc: str
    group: str

    def __init__(
        self, name: str, env: tuple[str, ...], kind: Kind, default: Any, doc: str, group: str
    ) -> None:
        self._set(name=name, env=env, kind=kind, default=default, doc=doc, group=group)


def _setting(*env: str, kind: Kind, default: Any, doc: str, group: str) -> Any:
    spec_parts = {"env": env, "kind": kind, "default": default, "doc": doc, "group": group}
    if isinstance(default, (dict, list)):
        raise TypeError("mutable default")  # pragma: no cover - guards the table itself
    return field(default=default, metadata={"kaizen_setting": spec_parts})


_OTLP_PROTOCOLS = ("grpc", "http/protobuf")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, init=False, repr=False, eq=False)
class Settings(_Frozen):
    """The resolved configuration: every setting's effective value. Immutable.

    A frozen dataclass, so ``dataclasses.fields(Settings)`` is the settings table; ``__init__`` and
    ``__repr__`` are written out below, and equality and hashing come from ``_Frozen``, rather than
    generated, because compiling them for 65 fields cost ~3 ms of every startup. They behave as the
    generated ones (keyword arguments only).
    """

    # --- service and resource -------------------------------------------------------------
    service_name: str = _setting(
        "KAIZEN_OTEL_SERVICE_NAME",
        "OTEL_SERVICE_NAME",
        kind=Text(),
        default="unknown_service",
        doc="`service.name` of every signal.",
        group="service",
    )
    service_version: str | None = _setting(
        "KAIZEN_OTEL_SERVICE_VERSION",
        kind=Text(),
        default=None,
        doc="`service.version` resource attribute.",
        group="service",
    )
    environment: str | None = _setting(
        "KAIZEN_OTEL_ENVIRONMENT",
        kind=Text(),
        default=None,
        doc="`deployment.environment.name` resource attribute (e.g. production).",
        group="service",
    )
    resource_attributes: Mapping[str, str] = _setting(
        "KAIZEN_OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_RESOURCE_ATTRIBUTES",
        kind=KeyValues(),
        default=None,
        doc="Extra resource attributes, `key=value,...`.",
        group="service",
    )
    sdk_disabled: bool = _setting(
        "KAIZEN_OTEL_SDK_DISABLED",
        "OTEL_SDK_DISABLED",
        kind=Bool(),
        default=False,
        doc="Turn traces, metrics and logs into no-ops. Audit records are still written.",
        group="service",
    )

    # --- switches ---------------------------------------------------------------------------
    enable_tracing: bool = _setting(
        "KAIZEN_OTEL_ENABLE_TRACING",
        kind=Bool(),
        default=True,
        doc="Install a TracerProvider.",
        group="switches",
    )
    enable_metrics: bool = _setting(
        "KAIZEN_OTEL_ENABLE_METRICS",
        kind=Bool(),
        default=True,
        doc="Install a MeterProvider.",
        group="switches",
    )
    enable_logging: bool = _setting(
        "KAIZEN_OTEL_ENABLE_LOGGING",
        kind=Bool(),
        default=True,
        doc="Install a LoggerProvider and the stdlib logging bridge.",
        group="switches",
    )
    enable_audit: bool = _setting(
        "KAIZEN_OTEL_ENABLE_AUDIT",
        kind=Bool(),
        default=False,
        doc="Open the durable audit trail at `audit_path`.",
        group="switches",
    )

    # --- exporters --------------------------------------------------------------------------
    traces_exporter: tuple[str, ...] = _setting(
        "KAIZEN_OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_EXPORTER",
        kind=ChoiceList(("otlp", "console", "none")),
        default=AUTO,
        doc="Span exporters. Default: `otlp` when an OTLP endpoint is set, else `none`.",
        group="exporters",
    )
    metrics_exporter: tuple[str, ...] = _setting(
        "KAIZEN_OTEL_METRICS_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        kind=ChoiceList(("prometheus", "otlp", "console", "none")),
        default=AUTO,
        doc="Metric readers. Default: `prometheus`, plus `otlp` when an OTLP endpoint is set.",
        group="exporters",
    )
    logs_exporter: tuple[str, ...] = _setting(
        "KAIZEN_OTEL_LOGS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        kind=ChoiceList(("otlp", "console", "none")),
        default=AUTO,
        doc="Log exporters (`console` = one line per record on stderr). Default: `console`, "
        "plus `otlp` when an OTLP endpoint is set.",
        group="exporters",
    )
    otlp_endpoint: str | None = _setting(
        "KAIZEN_OTEL_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        kind=Endpoint(),
        default=None,
        doc="Base OTLP endpoint for all signals; `/v1/<signal>` is appended for http/protobuf.",
        group="exporters",
    )
    otlp_traces_endpoint: str | None = _setting(
        "KAIZEN_OTEL_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        kind=Endpoint(),
        default=None,
        doc="OTLP endpoint for spans, used as is.",
        group="exporters",
    )
    otlp_metrics_endpoint: str | None = _setting(
        "KAIZEN_OTEL_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        kind=Endpoint(),
        default=None,
        doc="OTLP endpoint for metrics, used as is.",
        group="exporters",
    )
    otlp_logs_endpoint: str | None = _setting(
        "KAIZEN_OTEL_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        kind=Endpoint(),
        default=None,
        doc="OTLP endpoint for logs, used as is.",
        group="exporters",
    )
    otlp_protocol: str = _setting(
        "KAIZEN_OTEL_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        kind=Choice(_OTLP_PROTOCOLS),
        default="grpc",
        doc="OTLP transport for all signals (the Python SDK's default is grpc).",
        group="exporters",
    )
    otlp_traces_protocol: str | None = _setting(
        "KAIZEN_OTEL_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        kind=Choice(_OTLP_PROTOCOLS),
        default=None,
        doc="OTLP transport for spans; defaults to `otlp_protocol`.",
        group="exporters",
    )
    otlp_metrics_protocol: str | None = _setting(
        "KAIZEN_OTEL_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        kind=Choice(_OTLP_PROTOCOLS),
        default=None,
        doc="OTLP transport for metrics; defaults to `otlp_protocol`.",
        group="exporters",
    )
    otlp_logs_protocol: str | None = _setting(
        "KAIZEN_OTEL_OTLP_LOGS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        kind=Choice(_OTLP_PROTOCOLS),
        default=None,
        doc="OTLP transport for logs; defaults to `otlp_protocol`.",
        group="exporters",
    )
    otlp_certificate: str | None = _setting(
        "KAIZEN_OTEL_OTLP_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        kind=Path(),
        default=None,
        doc="CA certificate (PEM) to verify the collector with. When set, OTLP always uses TLS: "
        "`insecure` is off for gRPC and an `http://` endpoint is used as `https://`.",
        group="exporters",
    )
    otlp_client_certificate: str | None = _setting(
        "KAIZEN_OTEL_OTLP_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        kind=Path(),
        default=None,
        doc="Client certificate (PEM) for mutual TLS; needs `otlp_client_key` and `otlp_certificate`.",
        group="exporters",
    )
    otlp_client_key: str | None = _setting(
        "KAIZEN_OTEL_OTLP_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        kind=Path(),
        default=None,
        doc="Private key (PEM) of `otlp_client_certificate`.",
        group="exporters",
    )
    metric_export_interval_ms: int = _setting(
        "KAIZEN_OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_METRIC_EXPORT_INTERVAL",
        kind=Int(minimum=1),
        default=60000,
        doc="Milliseconds between OTLP/console metric exports.",
        group="exporters",
    )
    shutdown_timeout_ms: int = _setting(
        "KAIZEN_OTEL_SHUTDOWN_TIMEOUT_MS",
        kind=Int(minimum=1),
        default=5000,
        doc="Upper bound in milliseconds on `shutdown()` and on the exit hook, whatever the backend "
        "does; telemetry still buffered then is counted, logged in one line and dropped.",
        group="exporters",
    )

    # --- sampling ---------------------------------------------------------------------------
    traces_sampler: str = _setting(
        "KAIZEN_OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER",
        kind=Choice(_SAMPLERS),
        default="parentbased_always_on",
        doc="Head sampler, as in the OTel specification.",
        group="sampling",
    )
    traces_sampler_arg: float = _setting(
        "KAIZEN_OTEL_TRACES_SAMPLER_ARG",
        "OTEL_TRACES_SAMPLER_ARG",
        kind=Float(minimum=0.0, maximum=1.0),
        default=1.0,
        doc="Sampling ratio for the `traceidratio` samplers.",
        group="sampling",
    )

    # --- prometheus and health server ---------------------------------------------------------
    prometheus_enabled: bool = _setting(
        "KAIZEN_OTEL_PROMETHEUS_ENABLED",
        kind=Bool(),
        default=True,
        doc="Serve `/metrics`, `/healthz` and `/readyz` on the Prometheus host and port.",
        group="prometheus",
    )
    prometheus_host: str = _setting(
        "KAIZEN_OTEL_PROMETHEUS_HOST",
        "OTEL_EXPORTER_PROMETHEUS_HOST",
        kind=Text(),
        default="localhost",
        doc="Address the HTTP server binds.",
        group="prometheus",
    )
    prometheus_port: int = _setting(
        "KAIZEN_OTEL_PROMETHEUS_PORT",
        "OTEL_EXPORTER_PROMETHEUS_PORT",
        kind=Int(minimum=0, maximum=65535),
        default=9464,
        doc=(
            "Port the HTTP server binds (0 picks a free port). A port set here that is taken is an error; "
            "the default taken by another process leaves the endpoint off, with an ERROR saying why."
        ),
        group="prometheus",
    )
    metric_cardinality_limit: int = _setting(
        "KAIZEN_OTEL_METRIC_CARDINALITY_LIMIT",
        kind=Int(minimum=1),
        default=2000,
        doc="Series per metric before the rest fold into `otel_metric_overflow` (warned once).",
        group="prometheus",
    )
    metric_label_max_length: int = _setting(
        "KAIZEN_OTEL_METRIC_LABEL_MAX_LENGTH",
        kind=Int(minimum=16),
        default=256,
        doc="Longest metric label value, in characters; a longer one is cut, ends with `…` and is "
        "counted in `kaizen_telemetry_truncated_label_values_total`.",
        group="prometheus",
    )
    prometheus_multiproc_dir: str | None = _setting(
        "KAIZEN_OTEL_PROMETHEUS_MULTIPROC_DIR",
        "PROMETHEUS_MULTIPROC_DIR",
        "prometheus_multiproc_dir",
        kind=Path(),
        default=None,
        doc="Pre-fork servers (gunicorn, uvicorn workers): an existing directory shared by all "
        "workers; each writes its metrics there and `/metrics` on any of them serves the sum "
        "(prometheus-client's multiprocess mode, see docs/operations.md).",
        group="prometheus",
    )

    live_view: bool | None = _setting(
        "KAIZEN_OTEL_LIVE_VIEW",
        kind=Bool(),
        default=None,
        doc="Serve the live page of agent runs at `/ui` and its JSON API at `/api/runs` on the "
        "HTTP server, fed by a bounded in-process store. Unset: on, unless an OTLP endpoint is set.",
        group="live view",
    )
    live_view_runs: int = _setting(
        "KAIZEN_OTEL_LIVE_VIEW_RUNS",
        kind=Int(minimum=1, maximum=100_000),
        default=200,
        doc="Agent runs the live view keeps (the oldest are dropped first).",
        group="live view",
    )
    live_view_max_bytes: int = _setting(
        "KAIZEN_OTEL_LIVE_VIEW_MAX_BYTES",
        kind=Int(minimum=65_536),
        default=32 * 1024 * 1024,
        doc="Memory cap of the live view's store, in bytes (estimated conservatively).",
        group="live view",
    )
    live_view_allow_remote: bool = _setting(
        "KAIZEN_OTEL_LIVE_VIEW_ALLOW_REMOTE",
        kind=Bool(),
        default=False,
        doc="Serve the live view when the HTTP server binds a non-loopback address (it shows "
        "agent activity to anyone who can reach the port; off by default).",
        group="live view",
    )

    # --- console and logging ----------------------------------------------------------------
    console_format: str = _setting(
        "KAIZEN_OTEL_CONSOLE_FORMAT",
        kind=Choice(("json", "text")),
        default="json",
        doc="Format of console lines: JSON objects or human-readable text.",
        group="logging",
    )
    log_level: str = _setting(
        "KAIZEN_OTEL_LOG_LEVEL",
        kind=Choice(_LEVELS),
        default="INFO",
        doc="Lowest level exported by the logging bridge and StructuredLogger.",
        group="logging",
    )
    logging_bridge: bool = _setting(
        "KAIZEN_OTEL_LOGGING_BRIDGE",
        kind=Bool(),
        default=True,
        doc="Forward stdlib `logging` records to the LoggerProvider (one handler, on the root).",
        group="logging",
    )

    # --- redaction --------------------------------------------------------------------------
    redaction_enabled: bool = _setting(
        "KAIZEN_OTEL_REDACTION_ENABLED",
        kind=Bool(),
        default=True,
        doc="Scrub secrets from spans (names, status, attributes, events, links), logs and audit records.",
        group="redaction",
    )
    redaction_extra_keys: tuple[str, ...] = _setting(
        "KAIZEN_OTEL_REDACTION_EXTRA_KEYS",
        kind=TextList(),
        default=(),
        doc="More attribute/field key fragments treated as sensitive, whatever their suffix.",
        group="redaction",
    )
    redaction_extra_patterns: tuple[str, ...] = _setting(
        "KAIZEN_OTEL_REDACTION_EXTRA_PATTERNS",
        kind=PatternList(),
        default=(),
        doc="More value patterns to scrub (a regex or a JSON array of them).",
        group="redaction",
    )
    redaction_allow_keys: tuple[str, ...] = _setting(
        "KAIZEN_OTEL_REDACTION_ALLOW_KEYS",
        kind=TextList(),
        default=(),
        doc="Attribute keys never scrubbed (`vendor.*` allows a prefix).",
        group="redaction",
    )
    redact_emails: bool = _setting(
        "KAIZEN_OTEL_REDACT_EMAILS",
        kind=Bool(),
        default=False,
        doc="Also scrub email addresses.",
        group="redaction",
    )

    # --- audit ------------------------------------------------------------------------------
    audit_path: str = _setting(
        "KAIZEN_OTEL_AUDIT_PATH",
        kind=Path(),
        default="~/.kaizen/audit/audit_trail.jsonl",
        doc="The active audit file; rotated files are kept beside it.",
        group="audit",
    )
    audit_key: str | None = _setting(
        "KAIZEN_OTEL_AUDIT_KEY",
        kind=Secret(),
        default=None,
        doc="HMAC key for seal records (never printed).",
        group="audit",
    )
    audit_key_file: str | None = _setting(
        "KAIZEN_OTEL_AUDIT_KEY_FILE",
        kind=Path(),
        default=None,
        doc="File holding the HMAC key for seal records.",
        group="audit",
    )
    audit_rotate_bytes: int = _setting(
        "KAIZEN_OTEL_AUDIT_ROTATE_BYTES",
        kind=Int(minimum=0),
        default=64 * 1024 * 1024,
        doc="Rotate the audit file past this size (0 = never).",
        group="audit",
    )
    audit_rotate_seconds: float = _setting(
        "KAIZEN_OTEL_AUDIT_ROTATE_SECONDS",
        kind=Float(minimum=0),
        default=86400.0,
        doc="Rotate the audit file after this age (0 = never).",
        group="audit",
    )
    audit_retention_files: int = _setting(
        "KAIZEN_OTEL_AUDIT_RETENTION_FILES",
        kind=Int(minimum=0),
        default=0,
        doc="Rotated audit files to keep (0 = keep all).",
        group="audit",
    )
    audit_retention_days: float = _setting(
        "KAIZEN_OTEL_AUDIT_RETENTION_DAYS",
        kind=Float(minimum=0),
        default=0.0,
        doc="Delete rotated audit files older than this (0 = keep all).",
        group="audit",
    )
    audit_seal_records: int = _setting(
        "KAIZEN_OTEL_AUDIT_SEAL_RECORDS",
        kind=Int(minimum=0),
        default=1000,
        doc="Write a seal record every N records (0 = only on rotation and shutdown).",
        group="audit",
    )
    audit_seal_seconds: float = _setting(
        "KAIZEN_OTEL_AUDIT_SEAL_SECONDS",
        kind=Float(minimum=0),
        default=60.0,
        doc="Write a seal record at most this many seconds after the last (0 = off).",
        group="audit",
    )
    audit_forward_otlp: bool = _setting(
        "KAIZEN_OTEL_AUDIT_FORWARD_OTLP",
        kind=Bool(),
        default=False,
        doc="Also emit each audit record as an OTLP log event `kaizen.audit`, and each seal's head as "
        "an anchor event `kaizen.audit.anchor`.",
        group="audit",
    )
    audit_anchor_path: str | None = _setting(
        "KAIZEN_OTEL_AUDIT_ANCHOR_PATH",
        kind=Path(),
        default=None,
        doc="Also append each seal's head (an anchor) to this file; put it on another mount or host, "
        "and check the trail against it with `kaizen-otel audit verify --anchors`.",
        group="audit",
    )

    # --- agents (GenAI) ---------------------------------------------------------------------
    capture_message_content: bool = _setting(
        "KAIZEN_OTEL_CAPTURE_MESSAGE_CONTENT",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        kind=ContentCapture(),
        default=False,
        doc="Let prompt, completion and tool-payload text reach spans, span events and log records "
        "(ours and instrumentations'); when false it is removed from all of them.",
        group="agents",
    )
    pricing_file: str | None = _setting(
        "KAIZEN_OTEL_PRICING_FILE",
        kind=Path(),
        default=None,
        doc="JSON pricing table that overrides the one shipped in the package.",
        group="agents",
    )
    budget_run_usd: float | None = _setting(
        "KAIZEN_OTEL_BUDGET_RUN_USD",
        kind=Float(minimum=0),
        default=None,
        doc="Spend limit per agent run, in USD.",
        group="agents",
    )
    budget_run_tokens: int | None = _setting(
        "KAIZEN_OTEL_BUDGET_RUN_TOKENS",
        kind=Int(minimum=0),
        default=None,
        doc="Token limit per agent run.",
        group="agents",
    )
    budget_process_usd: float | None = _setting(
        "KAIZEN_OTEL_BUDGET_PROCESS_USD",
        kind=Float(minimum=0),
        default=None,
        doc="Spend limit for the whole process, in USD.",
        group="agents",
    )
    budget_process_tokens: int | None = _setting(
        "KAIZEN_OTEL_BUDGET_PROCESS_TOKENS",
        kind=Int(minimum=0),
        default=None,
        doc="Token limit for the whole process.",
        group="agents",
    )
    budget_enforce: bool = _setting(
        "KAIZEN_OTEL_BUDGET_ENFORCE",
        kind=Bool(),
        default=False,
        doc="Refuse the next LLM call (BudgetExceededError) once a budget is crossed.",
        group="agents",
    )
    process_metrics: bool = _setting(
        "KAIZEN_OTEL_PROCESS_METRICS",
        kind=Bool(),
        default=True,
        doc="Export CPU time, memory RSS, threads and GC counts of this process.",
        group="agents",
    )
    metric_attributes: Mapping[str, str] = _setting(
        "KAIZEN_OTEL_METRIC_ATTRIBUTES",
        kind=KeyValues(),
        default=None,
        doc="Fixed, bounded attributes (team, tenant) added to kaizen.* metrics.",
        group="agents",
    )

    def __init__(self, **values: Any) -> None:
        for name, default in _DEFAULTS:
            object.__setattr__(self, name, values.pop(name, default))
        if values:
            raise TypeError(f"Settings.__init__() got an unexpected keyword argument {next(iter(values))!r}")
        self.__post_init__()

    def __post_init__(self) -> None:
        for name in ("resource_attributes", "metric_attributes"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, {})

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in _DEFAULTS)

    def __repr__(self) -> str:
        """Every value, except secrets (the audit HMAC key), which show as ``'***'`` when set."""
        shown = []
        for name, _ in _DEFAULTS:
            value = getattr(self, name)
            shown.append(f"{name}={'***' if value is not None and name in _SECRETS else value!r}")
        return f"{type(self).__qualname__}({', '.join(shown)})"


#: (name, default) of every setting, in declaration order: what ``Settings.__init__`` fills in.
_DEFAULTS: tuple[tuple[str, Any], ...] = tuple((f.name, f.default) for f in dataclasses.fields(Settings))
#: Settings never shown in a repr (or a log line that prints one).
_SECRETS = frozenset(
    f.name for f in dataclasses.fields(Settings) if isinstance(f.metadata["kaizen_setting"]["kind"], Secret)
)


def setting_specs() -> tuple[SettingSpec, ...]:
    """The settings table, in declaration order."""
    specs = []
    for f in dataclasses.fields(Settings):
        meta = f.metadata["kaizen_setting"]
        specs.append(SettingSpec(name=f.name, **meta))
    return tuple(specs)


_SPECS: dict[str, SettingSpec] = {}


def _specs_by_name() -> dict[str, SettingSpec]:
    if not _SPECS:
        _SPECS.update((spec.name, spec) for spec in setting_specs())
    return _SPECS


class Resolved(_Frozen):
    """Settings together with where each value came from (for ``kaizen-otel config``)."""

    __slots__ = ("problems", "settings", "sources")
    settings: Settings
    sources: Mapping[str, str]
    problems: tuple[str, ...]

    def __init__(
        self, settings: Settings, sources: Mapping[str, str], problems: tuple[str, ...] = ()
    ) -> None:
        self._set(settings=settings, sources=sources, problems=problems)


def instrument_selection(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The variables ``opentelemetry-instrument`` picks its distro and configurator by (doctor).

    Not settings of ours: read here only because this is the one module that reads the environment.
    """
    env = os.environ if environ is None else environ
    return {name: env.get(name) or None for name in ("OTEL_PYTHON_DISTRO", "OTEL_PYTHON_CONFIGURATOR")}


def agents_sdk_tracing(environ: Mapping[str, str] | None = None) -> tuple[bool, str | None]:
    """Whether ``OPENAI_API_KEY`` is set, and ``OPENAI_AGENTS_DISABLE_TRACING`` (doctor).

    The OpenAI Agents SDK's variables, not settings of ours: read here only because this is the one
    module that reads the environment. The key itself never leaves this function.
    """
    env = os.environ if environ is None else environ
    return bool(env.get("OPENAI_API_KEY")), env.get("OPENAI_AGENTS_DISABLE_TRACING") or None


def resolve(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    strict: bool = True,
) -> Resolved:
    """Resolve every setting: argument > ``KAIZEN_OTEL_*`` > ``OTEL_*`` > default.

    ``strict=False`` is the auto-instrumentation mode: instead of raising, each error is logged
    once and the setting falls back to its default, so the host application keeps running.
    """
    env = os.environ if environ is None else environ
    specs = _specs_by_name()
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        error = KaizenConfigError(
            unknown[0], overrides[unknown[0]], "a known setting (see docs/configuration.md)"
        )
        if strict:
            raise error
        _log.warning("%s", error)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    for name, spec in specs.items():
        value, source = _resolve_one(spec, overrides, env, strict, problems)
        values[name] = value
        sources[name] = source
    _derive_exporters(values, sources)
    _derive_live_view(values, sources)
    return Resolved(Settings(**values), sources, tuple(problems))


def _resolve_one(
    spec: SettingSpec,
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
    strict: bool,
    problems: list[str],
) -> tuple[Any, str]:
    if spec.name in overrides and overrides[spec.name] is not None:
        raw = overrides[spec.name]
        try:
            return spec.kind.coerce(raw), "argument"
        except (ValueError, TypeError):
            _fail(KaizenConfigError(spec.name, raw, spec.kind.allowed, "argument"), strict, problems)
    for var in spec.env:
        raw_env = env.get(var)
        if raw_env is None or not raw_env.strip():
            continue
        try:
            return spec.kind.parse(raw_env), var
        except (ValueError, TypeError):
            error = KaizenConfigError(spec.name, raw_env, spec.kind.allowed, var)
            # Standard OTEL_* variables follow the specification: warn and use the default.
            _fail(error, strict and var.startswith("KAIZEN_OTEL_"), problems)
            break
    return spec.default, "default"


def _fail(error: KaizenConfigError, raise_it: bool, problems: list[str]) -> None:
    if raise_it:
        raise error
    message = f"{error}; using the default"
    problems.append(message)
    _log.warning("%s", message)


def _derive_exporters(values: dict[str, Any], sources: dict[str, str]) -> None:
    """Fill the exporter lists left at their default from the OTLP endpoints and switches."""
    base = values["otlp_endpoint"]
    defaults = {
        "traces_exporter": ((), values["otlp_traces_endpoint"]),
        "metrics_exporter": (
            ("prometheus",) if values["prometheus_enabled"] else (),
            values["otlp_metrics_endpoint"],
        ),
        "logs_exporter": (("console",), values["otlp_logs_endpoint"]),
    }
    for name, (local, signal_endpoint) in defaults.items():
        if sources[name] != "default":
            continue
        chosen = local + (("otlp",) if (base or signal_endpoint) else ())
        values[name] = chosen or ("none",)
        reason = "OTLP endpoint set" if (base or signal_endpoint) else "no OTLP endpoint"
        sources[name] = f"default ({reason})"


def _derive_live_view(values: dict[str, Any], sources: dict[str, str]) -> None:
    """Unset ``live_view``: on for a local setup, off once spans go to an OTLP endpoint."""
    if values["live_view"] is not None:
        return
    otlp = bool(values["otlp_endpoint"] or values["otlp_traces_endpoint"])
    values["live_view"] = not otlp
    sources["live_view"] = f"default ({'OTLP endpoint set' if otlp else 'no OTLP endpoint'})"


def render_value(name: str, value: Any) -> str:
    """A setting's value as it would be written in the environment (secrets masked)."""
    return _specs_by_name()[name].kind.render(value)
