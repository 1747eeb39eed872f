"""``AuditTrail``: record, query and verify the durable audit trail of agent actions.

:meth:`AuditTrail.record` hands its fields straight to the durable storage (canonical JSON, hash
chain, flock, write, group commit) and returns only once the record is on disk. It does not build
an OpenTelemetry log record on the way: that path (the SDK's ``Logger.emit``, the processor, the
exporter turning the record back into fields) cost about as much CPU as the storage itself, and
CPU per record decides how many writers one ``fdatasync`` can serve. The OTel side stays whole for
whoever wants it: :attr:`AuditTrail.logger_provider` is the trail's own LoggerProvider with the
durable processor and :class:`JsonlAuditExporter` (the ``LogRecordExporter``) writing into the same
chain. Nothing here uses the global providers, and ``OTEL_SDK_DISABLED`` does not stop a record:
audit is not telemetry.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opentelemetry._logs import LoggerProvider as APILoggerProvider
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import get_current_span

from kaizen_otel._internal.settings import Settings
from kaizen_otel.audit.anchors import ANCHOR_EVENT, AnchorFile, anchor_attributes, anchor_of
from kaizen_otel.audit.entry import RESULTS, AuditEntry
from kaizen_otel.audit.exporter import JsonlAuditExporter, audit_fields
from kaizen_otel.audit.files import resolve_trail_path
from kaizen_otel.audit.metrics import AuditMetrics
from kaizen_otel.audit.processor import AuditLoggerProvider, DurableAuditProcessor
from kaizen_otel.audit.query import AuditQuery, iter_entries, to_ns
from kaizen_otel.audit.storage import Appended, DurableLog, StorageOptions, SysCalls
from kaizen_otel.audit.verify import VerifyReport, verify_trail
from kaizen_otel.exceptions import AuditError, KaizenConfigError

__all__ = ["AuditTrail", "Redactor", "load_key"]

_log = logging.getLogger("kaizen_otel.audit")

#: A callable that returns a scrubbed copy of a mapping (``details`` and ``metadata``).
Redactor = Callable[[Mapping[str, Any]], dict[str, Any]]

_EVENT_NAME = "kaizen.audit"


def load_key(key: str | bytes | None, key_file: str | None) -> bytes | None:
    """The HMAC key from a value or a file (never both); ``None`` when neither is given."""
    if key is not None and key_file is not None:
        raise KaizenConfigError("audit_key_file", key_file, "unset when audit_key is set (give only one)")
    if key is not None:
        raw = key.encode() if isinstance(key, str) else key
        if not raw:
            raise KaizenConfigError("audit_key", "***", "a non-empty key")
        return raw
    if key_file is None:
        return None
    try:
        with open(key_file, "rb") as handle:
            raw = handle.read().strip()
    except OSError as exc:
        raise KaizenConfigError("audit_key_file", key_file, f"a readable file ({exc.strerror})") from exc
    if not raw:
        raise KaizenConfigError("audit_key_file", key_file, "a file holding a non-empty key")
    return raw


def _check_number(name: str, value: Any, *, integer: bool) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        allowed = "an integer >= 0" if integer else "a number >= 0"
        raise KaizenConfigError(name, value, allowed)


class AuditTrail:
    """The audit trail at ``path``: durable, hash-chained, sealed, rotated, queryable.

    Safe to share between threads; several processes may open the same path. Use
    :meth:`from_settings` with the ``audit_*`` settings, or the constructor / :meth:`open`.
    """

    def __init__(
        self,
        path: str,
        *,
        key: str | bytes | None = None,
        key_file: str | None = None,
        rotate_bytes: int = 64 * 1024 * 1024,
        rotate_seconds: float = 86400.0,
        retention_files: int = 0,
        retention_days: float = 0.0,
        seal_records: int = 1000,
        seal_seconds: float = 60.0,
        redact: Redactor | bool = True,
        anchor_path: str | None = None,
        meter_provider: MeterProvider | None = None,
        forward_logger_provider: APILoggerProvider | None = None,
        syscalls: SysCalls | None = None,
    ) -> None:
        import os

        if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
            raise KaizenConfigError("audit_path", path, "a file system path")
        for name, value, integer in (
            ("rotate_bytes", rotate_bytes, True),
            ("rotate_seconds", rotate_seconds, False),
            ("retention_files", retention_files, True),
            ("retention_days", retention_days, False),
            ("seal_records", seal_records, True),
            ("seal_seconds", seal_seconds, False),
        ):
            _check_number(f"audit_{name}", value, integer=integer)
        if not isinstance(redact, bool) and not callable(redact):
            raise KaizenConfigError(
                "redact", redact, "True (the default rules), False, or a callable taking a mapping"
            )
        self._key = load_key(key, key_file)
        self._metrics = AuditMetrics(meter_provider)
        self._redact: Redactor | None = (
            _default_redactor(meter_provider) if redact is True else redact or None
        )
        self._anchor_file = AnchorFile(anchor_path) if anchor_path else None
        self._forward = (
            forward_logger_provider.get_logger("kaizen_otel.audit") if forward_logger_provider else None
        )
        self._forward_failed = False
        self._anchor_failed = False
        self._seal_seconds = float(seal_seconds)
        self._path = resolve_trail_path(path)
        self._storage = DurableLog(
            self._path,
            StorageOptions(
                rotate_bytes=rotate_bytes,
                rotate_seconds=float(rotate_seconds),
                retention_files=retention_files,
                retention_days=float(retention_days),
                seal_records=seal_records,
                key=self._key,
            ),
            syscalls=syscalls,
            on_recovery=lambda _details: self._metrics.recovered(),
            on_seal=self._publish_anchor,
        )
        self._exporter = JsonlAuditExporter(self._storage)
        self._processor = DurableAuditProcessor(self._exporter)
        self._provider = AuditLoggerProvider(self._processor)
        self._closed = False
        self._close_lock = threading.Lock()
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        ref = weakref.ref(self)
        self._atexit = lambda: _close_at_exit(ref)
        atexit.register(self._atexit)

    @classmethod
    def open(cls, path: str, **options: Any) -> AuditTrail:
        """Open (or create) the trail at ``path``; ``options`` are the constructor's keywords.

        Redaction is on by default (``redact=True``: the default rules of
        :class:`kaizen_otel.redaction.Redactor`): an immutable file cannot be cleaned afterwards.
        Pass ``redact=False`` to store details verbatim, or your own callable.
        """
        return cls(path, **options)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        redact: Redactor | bool = True,
        meter_provider: MeterProvider | None = None,
        forward_logger_provider: APILoggerProvider | None = None,
    ) -> AuditTrail:
        """The trail the ``audit_*`` settings describe (path, key or key file, rotation, seals)."""
        return cls(
            settings.audit_path,
            key=settings.audit_key,
            key_file=settings.audit_key_file,
            rotate_bytes=settings.audit_rotate_bytes,
            rotate_seconds=settings.audit_rotate_seconds,
            retention_files=settings.audit_retention_files,
            retention_days=settings.audit_retention_days,
            seal_records=settings.audit_seal_records,
            seal_seconds=settings.audit_seal_seconds,
            anchor_path=settings.audit_anchor_path,
            redact=redact,
            meter_provider=meter_provider,
            forward_logger_provider=forward_logger_provider,
        )

    # ------------------------------------------------------------------------------- properties

    @property
    def path(self) -> str:
        return self._storage.path

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def logger_provider(self) -> AuditLoggerProvider:
        """The trail's own (non-global) LoggerProvider."""
        return self._provider

    @property
    def exporter(self) -> JsonlAuditExporter:
        return self._exporter

    # ------------------------------------------------------------------------------- recording

    def record(
        self,
        agent_id: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        result: str = "success",
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Record that ``agent_id`` did ``action``; returns once the record is on disk.

        Raises ``AuditError`` when it could not be made durable (nothing was acknowledged), and
        ``ValueError``/``TypeError`` for arguments that are not allowed.
        """
        if agent_id.__class__ is not str or not agent_id:
            _check_text("agent_id", agent_id)
        if action.__class__ is not str or not action:
            _check_text("action", action)
        if result not in RESULTS:
            raise ValueError(f"result must be one of {', '.join(RESULTS)}; got {result!r}")
        if user_id is not None and not isinstance(user_id, str):
            raise TypeError(f"user_id must be a string or None; got {user_id!r}")
        try:
            details_map = _mapping("details", details)
            metadata_map = _mapping("metadata", metadata)
        except AuditError:
            self._metrics.failed("invalid_record")
            raise
        redact = self._redact
        if redact is not None:  # an empty mapping has nothing to scrub
            if details_map:
                details_map = redact(details_map)
            if metadata_map:
                metadata_map = redact(metadata_map)
        if self._closed:
            self._metrics.failed("closed")
            raise AuditError(f"the audit trail {self.path!r} is closed; the record was not stored")
        started = time.perf_counter()
        span = get_current_span().get_span_context()
        fields = audit_fields(
            time.time_ns(),
            agent_id,
            action,
            result,
            user_id,
            details_map,
            metadata_map,
            span.trace_id,
            span.span_id,
        )
        try:
            (appended,) = self._storage.append((fields,))
        except AuditError as exc:
            self._metrics.failed(_error_type(exc))
            raise
        except Exception as exc:  # an unexpected failure is still a failed record, never a silent one
            self._metrics.failed(type(exc).__name__)
            raise AuditError(f"the audit record was not stored: {exc}") from exc
        self._metrics.recorded(action, result, time.perf_counter() - started)
        entry = AuditEntry._made(
            fields["timestamp"],
            agent_id,
            action,
            result,
            details_map,
            user_id,
            metadata_map,
            fields["trace_id"],
            fields["span_id"],
            appended.seq,
            appended.hash,
        )
        if self._forward is not None:
            self._forward_entry(entry)
        self._ensure_timer()
        return entry

    def _forward_entry(self, entry: AuditEntry) -> None:
        """Emit the durable record as an OTLP log event; a failure here never fails ``record``."""
        assert self._forward is not None
        try:
            self._forward.emit(
                timestamp=entry.timestamp_ns,
                observed_timestamp=entry.timestamp_ns,
                severity_number=SeverityNumber.INFO,
                body=entry.to_dict(),
                event_name=_EVENT_NAME,
                attributes={
                    "kaizen.audit.agent_id": entry.agent_id,
                    "kaizen.audit.action": entry.action,
                    "kaizen.audit.result": entry.result,
                    "kaizen.audit.seq": entry.seq,
                    "kaizen.audit.hash": entry.hash,
                },
            )
        except Exception:
            if not self._forward_failed:
                self._forward_failed = True
                _log.exception("forwarding audit records as log events failed; the local trail is unaffected")

    def _publish_anchor(self, seal: Appended) -> None:
        """Send a durable seal's head off the host: the anchor file and/or an OTLP log event."""
        if self._anchor_file is None and self._forward is None:
            return
        anchor = anchor_of(self._path, seal)
        if self._anchor_file is not None:
            try:
                self._anchor_file.append(anchor)
            except OSError as exc:
                self._metrics.failed("anchor")
                if not self._anchor_failed:
                    self._anchor_failed = True
                    _log.error("writing audit anchors to %s failed: %s", self._anchor_file.path, exc)
        if self._forward is not None:
            try:
                self._forward.emit(
                    timestamp=int(anchor["timestamp"] or time.time_ns()),
                    observed_timestamp=time.time_ns(),
                    severity_number=SeverityNumber.INFO,
                    body=dict(anchor),
                    event_name=ANCHOR_EVENT,
                    attributes=anchor_attributes(anchor),
                )
            except Exception:
                if not self._forward_failed:
                    self._forward_failed = True
                    _log.exception("forwarding audit anchors as log events failed")

    # ------------------------------------------------------------------------------- seals

    def seal(self) -> Appended | None:
        """Write a seal now (durable on return). Returns it, or None if the trail ends with one.

        Keep its ``seq`` and ``hash`` somewhere else to verify later with ``expect=``.
        """
        return self._storage.seal("explicit")

    def _ensure_timer(self) -> None:
        if self._timer is None and self._seal_seconds > 0 and not self._closed:
            with self._close_lock:
                if self._timer is None and not self._closed:
                    self._timer = threading.Thread(
                        target=_seal_loop,
                        args=(weakref.ref(self), self._stop, self._seal_seconds),
                        name="kaizen-audit-seal",
                        daemon=True,
                    )
                    self._timer.start()

    def _seal_if_due(self) -> None:
        if self._storage.unsealed and not self._storage.closed:
            try:
                self._storage.seal("periodic")
            except AuditError as exc:
                _log.error("timed audit seal failed: %s", exc)

    # ------------------------------------------------------------------------------- queries

    def query(
        self,
        agent_id: str | None = None,
        action: str | None = None,
        user_id: str | None = None,
        result: str | None = None,
        start: Any = None,
        end: Any = None,
    ) -> Iterator[AuditEntry]:
        """Matching entries oldest first, streamed across rotated files; ``start <= t < end``."""
        query = AuditQuery(
            agent_id=agent_id,
            action=action,
            user_id=user_id,
            result=result,
            start_ns=to_ns(start, "start"),
            end_ns=to_ns(end, "end"),
        )
        return iter_entries(self.path, query)

    def query_by_agent(self, agent_id: str) -> list[AuditEntry]:
        """Every entry of ``agent_id`` (the source documents' API; returns a list)."""
        return list(self.query(agent_id=agent_id))

    def query_by_action(self, action: str) -> list[AuditEntry]:
        return list(self.query(action=action))

    def query_by_time_range(self, start: Any, end: Any) -> list[AuditEntry]:
        """Entries with ``start <= timestamp < end``."""
        return list(self.query(start=start, end=end))

    # ------------------------------------------------------------------------------- verify, close

    def verify(self) -> VerifyReport:
        """Verify the whole trail, including that this process's last line is still there."""
        seq, digest = self._storage.head
        report = verify_trail(self.path, self._key, live=not self._closed, expect=[(seq, digest)])
        if report.ok:
            self._metrics.verified()
        return report

    def close(self) -> None:
        """Seal (reason ``close``) and release the trail; later ``record`` calls raise. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
        atexit.unregister(self._atexit)
        self._provider.shutdown()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string; got {value!r}")


#: How deep ``details`` and ``metadata`` may nest; deeper is refused, never a RecursionError.
MAX_DEPTH = 64

_SCALARS = (str, int, float, bool, type(None))


def _mapping(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if value.__class__ is not dict and not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping or None; got {type(value).__name__}")
    for item in value.values():
        if not isinstance(item, _SCALARS):
            _check_nesting(name, item, 2, set())
    return dict(value)


def _check_nesting(name: str, value: Any, depth: int, path: set[int]) -> None:
    """Refuse a value that contains itself or nests deeper than :data:`MAX_DEPTH` (AuditError).

    Checked before redaction and serialisation, so hostile input fails the one record with a clear
    error instead of reaching the recursion limit somewhere inside.
    """
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, Mapping):
        items: Any = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        return
    if depth > MAX_DEPTH:
        raise AuditError(f"{name} nests deeper than {MAX_DEPTH} levels; the record was not stored")
    if id(value) in path:
        raise AuditError(f"{name} contains itself; the record was not stored")
    path.add(id(value))
    for item in items:
        _check_nesting(name, item, depth + 1, path)
    path.discard(id(value))


def _default_redactor(meter_provider: MeterProvider | None) -> Redactor:
    from kaizen_otel.redaction import Redactor as Rules

    return Rules(meter_provider=meter_provider).redact_mapping


def _error_type(exc: AuditError) -> str:
    text = str(exc)
    for marker, kind in (
        ("fdatasync", "fsync"),
        ("short write", "short_write"),
        ("write to", "write"),
        ("changed under the writer", "tampered"),
        ("refusing", "refused"),
        ("closed", "closed"),
        ("shut down", "closed"),
        ("JSON", "invalid_record"),
    ):
        if marker in text:
            return kind
    return "other"


def _seal_loop(ref: weakref.ref[AuditTrail], stop: threading.Event, interval: float) -> None:
    """Seal unsealed lines every ``interval`` seconds, so none waits longer than that for a seal."""
    while not stop.wait(interval):
        trail = ref()
        if trail is None:
            return
        trail._seal_if_due()
        del trail


def _close_at_exit(ref: weakref.ref[AuditTrail]) -> None:
    trail = ref()
    if trail is None:
        return
    try:
        trail.close()
    except Exception:
        _log.exception("closing the audit trail at exit failed")
