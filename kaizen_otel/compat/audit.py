"""``AuditTrailManager`` and ``FileAuditStorage``: the documents' audit API over :class:`AuditTrail`.

``FileAuditStorage(path)`` is an :class:`~kaizen_otel.audit.AuditTrail` at ``path``: the same
file format, hash chain, seals and fsync-before-return, so ``kaizen-otel audit verify`` checks
what it wrote. When ``configure(enable_audit=True)`` already opened a trail at that path, the
storage uses that trail rather than opening a second writer. The default path is the
``audit_path`` setting (``~/.kaizen/audit/audit_trail.jsonl`` unless ``KAIZEN_OTEL_AUDIT_PATH``
says otherwise); the documents' ``~/.kaizen/audit_trail.jsonl`` works when passed explicitly.

The methods are coroutines, as in the documents; the fsync and file reads run in a worker thread
(``asyncio.to_thread``, which carries the active span along) so the event loop is not blocked.
The trail stamps each record with its own clock when it is written: an entry's ``timestamp`` is
not taken from the caller, because the chain must be in write order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from kaizen_otel._internal.resets import on_reset
from kaizen_otel.audit import RESULTS, AuditEntry, AuditTrail

__all__ = ["AuditStorage", "AuditTrailManager", "FileAuditStorage"]


class AuditStorage(Protocol):
    """What :class:`AuditTrailManager` needs of a storage backend (the documents' protocol)."""

    async def append(self, entry: AuditEntry) -> Any: ...

    async def query(
        self,
        agent_id: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]: ...


def _settings() -> Any:
    """The settings of the configured process, or those the environment gives."""
    from kaizen_otel._internal.settings import resolve
    from kaizen_otel._internal.setup import active

    handle = active()
    return handle.settings if handle is not None else resolve({}).settings


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def _open_trail(path: str) -> tuple[AuditTrail, bool]:
    """(trail, owned): the configured process's trail when it is at ``path``, else a new one."""
    from kaizen_otel._internal.setup import active

    handle = active()
    if handle is not None and handle.audit is not None and _same_file(handle.audit.path, path):
        return handle.audit, False
    settings = dataclasses.replace(_settings(), audit_path=path)
    redactor = handle.redactor if handle is not None else None
    if redactor is None and handle is None and settings.redaction_enabled:
        from kaizen_otel.redaction import Redactor

        redactor = Redactor.from_settings(settings)
    redact = redactor.redact_mapping if redactor is not None else False
    return AuditTrail.from_settings(settings, redact=redact), True


class FileAuditStorage:
    """The audit trail file at ``file_path`` (default: the ``audit_path`` setting)."""

    def __init__(self, file_path: str | os.PathLike[str] | None = None) -> None:
        path = os.fspath(file_path) if file_path is not None else _settings().audit_path
        self.trail, self._owned = _open_trail(path)
        self.file_path = self.trail.path

    async def append(self, entry: AuditEntry) -> AuditEntry:
        """Append ``entry`` (its agent, action, details, result, user and metadata); durable on return."""
        return await asyncio.to_thread(
            self.trail.record,
            entry.agent_id,
            entry.action,
            entry.details,
            entry.result,
            entry.user_id,
            entry.metadata,
        )

    async def query(
        self,
        agent_id: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, oldest first; ``start_time <= t < end_time``."""
        entries = self.trail.query(agent_id=agent_id, action=action, start=start_time, end=end_time)
        return await asyncio.to_thread(list, entries)

    def close(self) -> None:
        """Seal and close the trail if this storage opened it (the process's own trail stays open)."""
        if self._owned:
            self.trail.close()

    def __repr__(self) -> str:
        return f"FileAuditStorage({self.file_path!r})"


class AuditTrailManager:
    """Record and query audit entries; ``storage`` defaults to a :class:`FileAuditStorage`."""

    def __init__(self, storage: AuditStorage | None = None) -> None:
        self.storage: AuditStorage = storage if storage is not None else FileAuditStorage()

    async def record(
        self,
        agent_id: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        result: str = "success",
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Record that ``agent_id`` did ``action`` with ``result`` (success, failure or denied).

        Returns the stored entry once it is durable; raises ``AuditError`` when it could not be.
        """
        if result not in RESULTS:
            raise ValueError(f"result must be one of {', '.join(RESULTS)}; got {result!r}")
        entry = AuditEntry(
            timestamp_ns=time.time_ns(),
            agent_id=agent_id,
            action=action,
            result=result,
            details=dict(details or {}),
            user_id=user_id,
            metadata=dict(metadata or {}),
        )
        stored = await self.storage.append(entry)
        return stored if isinstance(stored, AuditEntry) else entry

    async def query_by_agent(self, agent_id: str) -> list[AuditEntry]:
        return await self.storage.query(agent_id=agent_id)

    async def query_by_action(self, action: str) -> list[AuditEntry]:
        return await self.storage.query(action=action)

    async def query_by_time_range(self, start_time: datetime, end_time: datetime) -> list[AuditEntry]:
        """Entries with ``start_time <= timestamp < end_time`` (naive datetimes are UTC)."""
        return await self.storage.query(start_time=start_time, end_time=end_time)

    def record_sync(
        self,
        agent_id: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        result: str = "success",
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AuditEntry | None:
        """:meth:`record` for synchronous callers (the agent hooks).

        A file storage records directly; another storage's coroutine runs to completion, or is
        scheduled on the running event loop of this thread.
        """
        trail = getattr(self.storage, "trail", None)
        if isinstance(trail, AuditTrail):
            return trail.record(agent_id, action, details, result, user_id, metadata)
        coroutine = self.record(agent_id, action, details, result, user_id, metadata)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        _pending.add(task := loop.create_task(coroutine))
        task.add_done_callback(_pending.discard)
        return None

    def close(self) -> None:
        closer = getattr(self.storage, "close", None)
        if callable(closer):
            closer()


#: Tasks scheduled by ``record_sync`` on a running loop (kept so they are not collected early).
_pending: set[asyncio.Task[Any]] = set()
on_reset("compat.audit", _pending.clear)
