"""Names of the files that make up one trail, and reading lines from them.

A trail named ``audit_trail.jsonl`` is the active file plus rotated files beside it named
``audit_trail.000001.jsonl``, ``audit_trail.000002.jsonl`` … The number is the file's index in
the chain (the active file has the next one). ``audit_trail.jsonl.lock`` serialises writers
across processes; ``audit_trail.jsonl.started`` marks that a trail was started here (its files
vanishing is then a loss, not a fresh start); ``audit_trail.jsonl.new`` is where a new active file
gets its first lines; ``audit_trail.jsonl.torn-<ns>`` holds bytes of a torn last line moved aside
by crash recovery.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "TrailLayout",
    "complete_length",
    "iter_lines",
    "iter_lines_reversed",
    "read_first_line",
    "resolve_trail_path",
]

_CHUNK = 64 * 1024


def resolve_trail_path(path: str | os.PathLike[str]) -> str:
    """The absolute path of a trail's active file, ``~`` expanded: how every writer and reader
    (``configure()``, ``AuditTrail``, the CLI) turns a setting or argument into a file."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


@dataclass(frozen=True)
class TrailLayout:
    """Where the files of the trail whose active file is ``path`` live."""

    path: str

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path) or "."

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def stem_suffix(self) -> tuple[str, str]:
        stem, suffix = os.path.splitext(self.name)
        return (stem, suffix) if stem else (self.name, "")

    @property
    def lock_path(self) -> str:
        return self.path + ".lock"

    @property
    def staging_path(self) -> str:
        """Where a new active file gets its first lines before it appears under the trail's name."""
        return self.path + ".new"

    @property
    def started_path(self) -> str:
        """Marker left once a trail has started here: its files vanishing is then not a fresh start."""
        return self.path + ".started"

    def rotated_path(self, index: int) -> str:
        stem, suffix = self.stem_suffix
        return os.path.join(self.directory, f"{stem}.{index:06d}{suffix}")

    def torn_path(self, stamp_ns: int) -> str:
        return f"{self.path}.torn-{stamp_ns}"

    def rotated(self) -> list[tuple[int, str]]:
        """Rotated files as ``(index, path)``, oldest first."""
        stem, suffix = self.stem_suffix
        pattern = re.compile(re.escape(stem) + r"\.(\d{6,})" + re.escape(suffix) + r"\Z")
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = pattern.match(name)
            if match:
                found.append((int(match.group(1)), os.path.join(self.directory, name)))
        found.sort()
        return found


def iter_lines(path: str, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` for each line from byte ``start``; the last may lack its newline.

    Streams in chunks, so a trail of any size is read in bounded memory (one line at a time).
    """
    with open(path, "rb", buffering=_CHUNK) as handle:
        handle.seek(start)
        offset = start
        for line in handle:
            yield offset, line
            offset += len(line)


def read_first_line(path: str) -> bytes | None:
    """The first line of ``path`` (with its newline), or None when the file is empty."""
    with open(path, "rb") as handle:
        line = handle.readline()
    return line or None


def complete_length(handle: BinaryIO, size: int) -> int:
    """Length of the file's prefix that ends with a newline (everything but a torn last line)."""
    position = size
    while position > 0:
        step = min(_CHUNK, position)
        handle.seek(position - step)
        chunk = handle.read(step)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return position - step + cut + 1
        position -= step
    return 0


def iter_lines_reversed(path: str) -> Iterator[bytes]:
    """Yield the complete lines of ``path`` from the last to the first, reading backwards.

    A torn last line (no newline) is skipped: it is not a record.
    """
    with open(path, "rb") as handle:
        position = complete_length(handle, os.fstat(handle.fileno()).st_size)
        tail = b""
        first = True
        while position > 0:
            size = min(_CHUNK, position)
            position -= size
            handle.seek(position)
            parts = (handle.read(size) + tail).split(b"\n")
            tail = parts[0]
            rest = parts[1:]
            if first:
                rest = rest[:-1]  # the empty text after the final newline
                first = False
            for part in reversed(rest):
                yield part + b"\n"
        if tail:
            yield tail + b"\n"
