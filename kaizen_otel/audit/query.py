"""Streaming queries over a trail and its rotated files.

Lines are read one at a time, oldest file first, so a query over a trail of any size uses bounded
memory; results come out in chain order. Time bounds: ``start`` is inclusive, ``end`` exclusive
(``start <= timestamp < end``), so consecutive windows never count a record twice. Bounds are
aware datetimes, naive datetimes (taken as UTC, as the source documents' ``datetime.utcnow()``
gives), or integers in nanoseconds since the epoch.

A query does not verify hashes (use ``verify``); it skips a torn last line, lines that are not
JSON, and lines it cannot read as an entry (a timestamp that is not an integer, say), telling
``on_skip`` about each so that a damaged trail is reported, never a crash.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kaizen_otel.audit.entry import RESULTS, AuditEntry
from kaizen_otel.audit.files import TrailLayout, iter_lines, iter_lines_reversed, read_first_line

__all__ = ["AuditQuery", "iter_entries", "tail_entries", "to_ns"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def to_ns(value: _dt.datetime | int | None, name: str) -> int | None:
    """A time bound in nanoseconds since the epoch; ``name`` is used in the error message."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)
        delta = aware - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be a datetime or an int of nanoseconds since the epoch; got {value!r}")


@dataclass(frozen=True)
class AuditQuery:
    """Filters of a query; ``None`` matches everything."""

    agent_id: str | None = None
    action: str | None = None
    user_id: str | None = None
    result: str | None = None
    start_ns: int | None = None
    end_ns: int | None = None

    def __post_init__(self) -> None:
        if self.result is not None and self.result not in RESULTS:
            raise ValueError(f"result must be one of {', '.join(RESULTS)}; got {self.result!r}")

    def matches(self, record: dict[str, object]) -> bool:
        if record.get("kind") != "record":
            return False
        if self.agent_id is not None and record.get("agent_id") != self.agent_id:
            return False
        if self.action is not None and record.get("action") != self.action:
            return False
        if self.user_id is not None and record.get("user_id") != self.user_id:
            return False
        if self.result is not None and record.get("result") != self.result:
            return False
        if self.start_ns is not None or self.end_ns is not None:
            stamp = record.get("timestamp")
            if not isinstance(stamp, int):
                return False
            if self.start_ns is not None and stamp < self.start_ns:
                return False
            if self.end_ns is not None and stamp >= self.end_ns:
                return False
        return True


def _file_index(path: str) -> int | None:
    try:
        first = read_first_line(path)
        value = json.loads(first).get("file_index") if first else None
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _files_in_order(layout: TrailLayout) -> Iterator[str]:
    """Rotated files oldest first, then the active file; a rotation during the walk is followed."""
    done = -1
    while True:
        fresh = [(index, path) for index, path in layout.rotated() if index > done]
        for index, path in fresh:
            done = index
            yield path
        if not os.path.exists(layout.path):
            return
        active_index = _file_index(layout.path)
        # When the active file is further on than the last rotated file read, it rotated while we
        # read: list again and read the newly rotated files first (unless nothing new appeared).
        if active_index is None or active_index <= done + 1 or not fresh:
            yield layout.path
            return


def _records(path: str) -> Iterator[dict[str, object]]:
    try:
        for _, raw in iter_lines(path):
            if not raw.endswith(b"\n"):
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record
    except FileNotFoundError:
        return


#: Told ``(file, reason)`` for each line a query skipped because it could not be read as an entry.
OnSkip = Callable[[str, str], None]


def entry_of(record: Mapping[str, Any], file: str, on_skip: OnSkip | None) -> AuditEntry | None:
    """The entry of a matching line, or None (and ``on_skip`` told) when a field is unreadable."""
    try:
        return AuditEntry.from_record(record)
    except (TypeError, ValueError, OverflowError) as exc:
        if on_skip is not None:
            on_skip(file, f"seq {record.get('seq')!r}: {exc}")
        return None


def iter_entries(
    path: str, query: AuditQuery | None = None, *, on_skip: OnSkip | None = None
) -> Iterator[AuditEntry]:
    """Entries of the trail at ``path`` that match ``query``, oldest first, streamed."""
    wanted = query or AuditQuery()
    for file in _files_in_order(TrailLayout(os.path.abspath(path))):
        for record in _records(file):
            if wanted.matches(record):
                entry = entry_of(record, file, on_skip)
                if entry is not None:
                    yield entry


def tail_entries(
    path: str, count: int, query: AuditQuery | None = None, *, on_skip: OnSkip | None = None
) -> list[AuditEntry]:
    """The last ``count`` matching entries, oldest first, reading files backwards from the end."""
    if count <= 0:
        return []
    wanted = query or AuditQuery()
    layout = TrailLayout(os.path.abspath(path))
    files = [p for _, p in layout.rotated()]
    if os.path.exists(layout.path):
        files.append(layout.path)
    found: list[AuditEntry] = []
    for file in reversed(files):
        try:
            for raw in iter_lines_reversed(file):
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict) and wanted.matches(record):
                    entry = entry_of(record, file, on_skip)
                    if entry is None:
                        continue
                    found.append(entry)
                    if len(found) == count:
                        return found[::-1]
        except FileNotFoundError:
            continue
    return found[::-1]
