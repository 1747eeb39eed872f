"""Verification of a trail: every line, every link, every seal, every file.

:func:`verify_trail` streams the rotated files and the active file in chain order, one line at a
time (bounded memory for a trail of any size), and reports each damage with the file, the line
(1-based) and its kind:

``edited``        a line's content does not match its hash, or it was rewritten with a recomputed
                  hash (the next line's link no longer matches it), or it is not JSON
``deleted``       lines are missing (a gap in ``seq`` where the link breaks)
``inserted``      a line that was never written by a writer (two lines claim the same predecessor)
``reordered``     lines or rotated files are out of order
``truncated``     a file ends without the seal that closes it: lines were cut from its end (or, for
                  the active file, the writer was killed or is still running: see ``live``). A
                  closed trail ends with a ``close`` seal; a trail cut back to any other seal
                  (periodic, rotation, open, explicit) is truncated too. An empty active file, or
                  an anchor kept elsewhere that the trail no longer reaches, is truncated as well
``torn``          the last line has no newline: a writer died mid-write (not tampering)
``broken_link``   a file's first line does not link to the end of the file before it
``bad_seal``      a seal's HMAC does not match under the given key (forged or rewritten trail)
``missing_file``  a rotated file is missing and no retention line accounts for it, or the active
                  file is missing while rotated files exist

Without a key, seals cannot be checked: a trail rewritten from scratch with recomputed hashes
verifies. With the key, it does not. Anchors (seal heads kept off the host, see
:mod:`kaizen_otel.audit.anchors`) catch what a key holder on the host could still do: cut the trail
back to an older seal, roll the directory back to an older copy, or rewrite it and seal again.

``live=True`` (a writer may be running): a trail that does not end with a close seal is ``open``
rather than truncated, and the report says how much of its tail is not yet sealed (lines and
seconds: what an attacker with file access could still cut undetected). With a key it must carry
at least one valid seal.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kaizen_otel.audit import chain
from kaizen_otel.audit.files import TrailLayout, iter_lines

__all__ = ["KINDS", "Problem", "VerifyReport", "verify_trail"]

KINDS = (
    "edited",
    "deleted",
    "inserted",
    "reordered",
    "truncated",
    "torn",
    "broken_link",
    "bad_seal",
    "missing_file",
)

_MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Problem:
    """One damage found: where (file, 1-based line; 0 = the file as a whole) and what."""

    file: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_trail`. ``ok`` is True only when no problem was found."""

    path: str
    ok: bool = True
    files: list[str] = field(default_factory=list)
    lines: int = 0
    records: int = 0
    seals: int = 0
    sealed_through: int = -1
    key_checked: bool = False
    head_seq: int = -1
    head_hash: str = ""
    #: ``closed`` (ends with a close seal), ``open`` (``live`` and no close seal yet) or ``""``.
    state: str = ""
    #: Lines after the last seal that could be checked, and seconds since that seal was written.
    unsealed_lines: int = 0
    unsealed_seconds: float = 0.0
    anchors_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    more_problems: int = 0

    def add(self, file: str, line: int, kind: str, message: str) -> None:
        self.ok = False
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(Problem(os.path.basename(file), line, kind, message))
        else:
            self.more_problems += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "files": self.files,
            "lines": self.lines,
            "records": self.records,
            "seals": self.seals,
            "sealed_through": self.sealed_through,
            "key_checked": self.key_checked,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "state": self.state,
            "unsealed": {"lines": self.unsealed_lines, "seconds": round(self.unsealed_seconds, 3)},
            "anchors_checked": self.anchors_checked,
            "problems": [vars(p) for p in self.problems],
            "more_problems": self.more_problems,
            "notes": self.notes,
        }


@dataclass
class _Line:
    file: str
    lineno: int
    record: dict[str, Any] | None
    hash_ok: bool
    torn: bool
    first: bool
    last_in_file: bool

    @property
    def seq(self) -> int:
        value = self.record.get("seq") if self.record else None
        return value if isinstance(value, int) else -1

    @property
    def hash(self) -> str:
        return str(self.record.get("hash", "")) if self.record else ""

    @property
    def prev(self) -> str:
        return str(self.record.get("prev", "")) if self.record else ""

    @property
    def kind(self) -> str:
        return str(self.record.get("kind", "")) if self.record else ""


def _read_file(path: str) -> Iterator[_Line]:
    previous: _Line | None = None
    for number, (_, raw) in enumerate(iter_lines(path), start=1):
        torn = not raw.endswith(b"\n")
        try:
            record, ok = chain.decode_line(raw)
        except ValueError:
            record, ok = None, False
        line = _Line(path, number, record, ok, torn, number == 1, False)
        if previous is not None:
            yield previous
        previous = line
    if previous is not None:
        previous.last_in_file = True
        yield previous


class _Peekable:
    def __init__(self, lines: Iterable[_Line]) -> None:
        self._it = iter(lines)
        self._next: _Line | None = None

    def __iter__(self) -> _Peekable:
        return self

    def __next__(self) -> _Line:
        if self._next is not None:
            line, self._next = self._next, None
            return line
        return next(self._it)

    def peek(self) -> _Line | None:
        if self._next is None:
            self._next = next(self._it, None)
        return self._next


def verify_trail(
    path: str,
    key: bytes | str | None = None,
    *,
    live: bool = False,
    expect: Sequence[tuple[int, str]] = (),
) -> VerifyReport:
    """Check the trail whose active file is ``path``; return a report (``ok`` and problems).

    ``key``: the HMAC key; without it seals are counted but not checked. ``live``: a writer may
    be running, so a trail without its close seal is ``open``, not truncated. ``expect``: anchors
    ``(seq, hash)`` kept elsewhere (for example the output of ``seal()``, or
    :func:`~kaizen_otel.audit.anchors.read_anchors`); each must be found with that hash, which
    catches a cut tail, a rollback or a rewrite that a key-less or on-host check cannot.
    """
    key_bytes = key.encode() if isinstance(key, str) else key
    verifier = _Verifier(os.path.abspath(path), key_bytes, live, dict(expect))
    verifier.report.anchors_checked = len(verifier.expect)
    return verifier.run()


class _Verifier:
    def __init__(self, path: str, key: bytes | None, live: bool, expect: dict[int, str]) -> None:
        self.layout = TrailLayout(path)
        self.key = key
        self.key_id = chain.key_id(key) if key else None
        self.live = live
        self.expect = expect
        self.report = VerifyReport(path=path, key_checked=key is not None)
        self.flagged: set[tuple[str, int]] = set()
        self.pending_anchor: tuple[str, int, str] | None = None
        self.retention: list[tuple[int, str]] = []
        self.first_seq: int | None = None
        self.last_seal_reason = ""
        self.last_seal_ns = 0
        self.lines_in: dict[str, int] = {}

    def problem(
        self, line: _Line | None, kind: str, message: str, *, file: str = "", lineno: int = 0
    ) -> None:
        where = (line.file, line.lineno) if line is not None else (file, lineno)
        if where in self.flagged:
            return
        self.flagged.add(where)
        self.report.add(where[0], where[1], kind, message)

    def run(self) -> VerifyReport:
        files = self._plan()
        if not files:
            self.report.add(self.layout.path, 0, "missing_file", "no audit trail here")
            return self.report
        last: _Line | None = None
        lines = _Peekable(line for _, path in files for line in _read_file(path))
        expected_index = {path: index for index, path in files}
        for line in lines:
            self.report.lines += 1
            self.lines_in[line.file] = self.lines_in.get(line.file, 0) + 1
            if line.torn:
                if line.last_in_file and line.file == files[-1][1]:
                    self.problem(line, "torn", "the last line has no newline: a writer stopped mid-write")
                else:
                    self.problem(line, "truncated", "a line without a newline inside the trail")
                continue
            if line.record is None:
                self.problem(line, "edited", "not a JSON object")
                last = None
                continue
            if not line.hash_ok:
                self.problem(line, "edited", "the content does not match the line's hash")
            if line.first:
                self._check_file_start(line, expected_index.get(line.file, -1), last)
            last = self._check_link(last, line, lines) if last is not None else line
            self._check_line(line)
            if line.last_in_file and line.file != files[-1][1] and line.kind != "seal":
                self.problem(line, "truncated", "a rotated file must end with its seal; lines were cut")
        self._finish(files, last)
        return self.report

    # -------------------------------------------------------------------------------- files

    def _plan(self) -> list[tuple[int, str]]:
        rotated = self.layout.rotated()
        files = list(rotated)
        if os.path.exists(self.layout.path):
            files.append(((rotated[-1][0] + 1) if rotated else 0, self.layout.path))
        elif rotated and self.live:
            self.report.notes.append(
                "the active file is missing: a writer is between rotating and starting it, or died "
                "there (the next writer starts it); without --live this is reported as missing_file"
            )
        elif rotated:
            self.problem(
                None,
                "missing_file",
                "the active file is missing while rotated files exist: it was deleted (or a writer "
                "died between rotating and starting it)",
                file=self.layout.name,
            )
        previous = None
        for index, path in rotated:
            if previous is not None and index != previous + 1:
                for gap in range(previous + 1, index):
                    name = os.path.basename(self.layout.rotated_path(gap))
                    self.problem(None, "missing_file", f"rotated file {name} is missing", file=name)
                self.flagged.add((path, 1))  # the broken link at its start is explained
            previous = index
        self.report.files = [os.path.basename(p) for _, p in files]
        return files

    def _check_file_start(self, line: _Line, expected: int, last: _Line | None) -> None:
        record = line.record or {}
        index = record.get("file_index")
        if line.kind not in ("genesis", "link"):
            if last is None:
                self.problem(line, "deleted", "the trail's first line (genesis or link) is missing")
            return  # otherwise the chain check reports what happened to the first line
        if index != expected:
            self.problem(
                line, "reordered", f"this file holds chain file {index}, expected {expected} from its name"
            )
        if last is None:
            if line.kind == "genesis":
                if line.prev != chain.GENESIS_PREV or line.seq != 0:
                    self.problem(line, "edited", "the genesis line does not start a chain")
            else:
                self.pending_anchor = (line.file, int(index) if isinstance(index, int) else -1, line.prev)
        elif line.kind == "link" and record.get("prev_file") != os.path.basename(last.file):
            self.problem(
                line, "broken_link", f"links to {record.get('prev_file')!r}, not to the file before it"
            )

    # -------------------------------------------------------------------------------- chain

    def _check_link(self, last: _Line, line: _Line, lines: _Peekable) -> _Line:
        """Check that ``line`` follows ``last``; classify a break. Returns the new last line."""
        if line.prev == last.hash:
            if line.seq != last.seq + 1:
                self.problem(line, "edited", f"seq {line.seq} follows seq {last.seq}")
            return line
        if line.first and line.seq == last.seq + 1:
            self.problem(line, "broken_link", "does not link to the last line of the file before it")
        elif line.prev == last.prev:
            self.problem(last, "inserted", "this line and the next both claim the same predecessor")
        elif line.seq == last.seq + 1:
            self.problem(
                last, "edited", "rewritten with a recomputed hash (the next line's link does not match)"
            )
        elif line.seq > last.seq + 1:
            after = lines.peek()
            if after is not None and after.seq == last.seq + 1 and after.prev == last.hash:
                next(lines)
                self.report.lines += 1
                self._check_line(after)
                self.problem(line, "reordered", f"seq {line.seq} comes before seq {after.seq}")
                return line if line.prev == after.hash else after
            missing = line.seq - last.seq - 1
            self.problem(
                line,
                "deleted",
                f"{missing} line(s) missing before this one (seq {last.seq + 1}..{line.seq - 1})",
            )
        else:
            self.problem(line, "reordered", f"seq {line.seq} appears after seq {last.seq}")
        return line

    def _check_line(self, line: _Line) -> None:
        record = line.record or {}
        kind = line.kind
        if self.first_seq is None:
            self.first_seq = line.seq
        self.report.head_seq, self.report.head_hash = line.seq, line.hash
        wanted = self.expect.pop(line.seq, None)
        if wanted is not None and not hmac.compare_digest(wanted, line.hash):
            self.problem(
                line, "edited", f"seq {line.seq} has hash {line.hash[:16]}…, the anchor says {wanted[:16]}…"
            )
        if kind == "record":
            self.report.records += 1
        elif kind == "seal":
            self._check_seal(line, record)
        elif kind == "retention":
            anchor = record.get("anchor_file_index")
            if isinstance(anchor, int):
                self.retention.append((anchor, str(record.get("anchor_prev", ""))))

    def _check_seal(self, line: _Line, record: dict[str, Any]) -> None:
        self.report.seals += 1
        if record.get("count") != line.seq:
            self.problem(
                line, "bad_seal", f"the seal counts {record.get('count')} lines before it, not {line.seq}"
            )
            return
        if self.key is None:
            self._sealed(line, record)
            return
        mac = record.get("mac")
        if not isinstance(mac, str):
            self.problem(line, "bad_seal", "the seal carries no HMAC although a key was given")
        elif record.get("key_id") != self.key_id:
            self.problem(line, "bad_seal", f"sealed with another key (key id {record.get('key_id')})")
        elif not hmac.compare_digest(chain.seal_mac(self.key, record), mac):
            self.problem(line, "bad_seal", "the HMAC does not match: the seal or the chain head was forged")
        else:
            self._sealed(line, record)

    def _sealed(self, line: _Line, record: dict[str, Any]) -> None:
        self.report.sealed_through = line.seq
        self.last_seal_reason = chain.seal_reason(record)
        timestamp = record.get("timestamp")
        self.last_seal_ns = timestamp if isinstance(timestamp, int) else 0

    # -------------------------------------------------------------------------------- end

    def _finish(self, files: list[tuple[int, str]], last: _Line | None) -> None:
        report = self.report
        self.retained_from_seq: int | None = None
        if self.pending_anchor is not None:
            file, index, prev = self.pending_anchor
            if (index, prev) in self.retention:
                self.retained_from_seq = self.first_seq
                report.notes.append(
                    f"{os.path.basename(file)} is the first kept file; older files were removed by retention "
                    "and the chain is verified from its anchor"
                )
            else:
                self.problem(
                    None,
                    "missing_file",
                    f"files before chain file {index} are missing and no retention line removed them",
                    file=os.path.basename(self.layout.rotated_path(max(index - 1, 0))),
                )
        active = files[-1][1]
        torn_tail = any(p.kind == "torn" for p in report.problems)
        if os.path.exists(self.layout.path) and not self.lines_in.get(self.layout.path):
            self.problem(
                None,
                "truncated",
                "the active file is empty: "
                + (
                    "it must start with a link to the rotated file before it"
                    if len(files) > 1
                    else "a trail starts with its genesis line"
                ),
                file=self.layout.name,
                lineno=1,
            )
        elif last is not None and not torn_tail:
            self._check_end(last, os.path.basename(active))
        first_kept = self.retained_from_seq
        for seq in sorted(self.expect):
            if first_kept is not None and seq < first_kept:
                report.notes.append(f"anchor seq {seq} is in a file removed by retention")
                continue
            self.problem(
                None,
                "truncated",
                f"anchor seq {seq} is not in the trail (it ends at seq {report.head_seq}): the trail "
                "was cut back or rolled back to an older copy",
                file=os.path.basename(active),
                lineno=0,
            )
        if self.key is None:
            report.notes.append("no key given: seals were not checked, so a rewritten trail would pass")

    def _check_end(self, last: _Line, active: str) -> None:
        """A closed trail ends with a valid close seal; a live one reports its unsealed tail."""
        report = self.report
        if last.kind == "seal" and report.sealed_through == last.seq and self.last_seal_reason == "close":
            report.state = "closed"
            return
        report.unsealed_lines = (
            last.seq - max(report.sealed_through, -1) if report.sealed_through >= 0 else (last.seq + 1)
        )
        if self.last_seal_ns:
            report.unsealed_seconds = max(0.0, (time.time_ns() - self.last_seal_ns) / 1e9)
        if self.live:
            report.state = "open"
            if self.key is not None and report.sealed_through < 0:
                self.problem(
                    None,
                    "bad_seal",
                    "no valid seal although a key was given: a trail written without the key looks like this",
                    file=active,
                )
            report.notes.append(
                f"open: {report.unsealed_lines} line(s) after the last seal, written "
                f"{report.unsealed_seconds:.0f} s ago (a writer is running; this tail is not sealed yet)"
            )
            return
        ending = (
            f"a {self.last_seal_reason or 'unnamed'} seal"
            if last.kind == "seal"
            else f"seq {last.seq}, {report.unsealed_lines} line(s) after the last seal"
        )
        self.problem(
            None,
            "truncated",
            f"the trail ends with {ending}, not with a close seal: lines may have been cut from its "
            "end, or the writer was killed or is still running (verify with live=True / --live)",
            file=active,
            lineno=last.lineno + 1,
        )
