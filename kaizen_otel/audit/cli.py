"""``kaizen-otel audit verify | query | tail``: check and read a trail from the shell.

``verify`` exits 0 when the trail is intact, 1 when it found damage (each problem printed as
``file:line: kind: message``), 2 on a usage error or a path that holds no trail. ``query`` and
``tail`` print one JSON object per line (``AuditEntry.to_dict()``), ready for ``jq``; a line they
cannot read is skipped and reported on stderr (exit 0, with a count). The trail path, the key and
the anchor file default to the ``audit_*`` settings (``KAIZEN_OTEL_AUDIT_PATH``,
``KAIZEN_OTEL_AUDIT_KEY``/``_KEY_FILE``, ``KAIZEN_OTEL_AUDIT_ANCHOR_PATH``), resolved exactly as
``configure()`` resolves them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, TextIO

from kaizen_otel.audit.anchors import read_anchors
from kaizen_otel.audit.entry import RESULTS, AuditEntry
from kaizen_otel.audit.files import TrailLayout, resolve_trail_path
from kaizen_otel.audit.query import AuditQuery, entry_of, iter_entries, tail_entries, to_ns
from kaizen_otel.audit.verify import verify_trail
from kaizen_otel.exceptions import KaizenConfigError

__all__ = ["build_parser", "main", "register"]

_OK, _DAMAGED, _USAGE = 0, 1, 2


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``audit verify|query|tail`` to the ``kaizen-otel`` parser's subcommands."""
    audit = subparsers.add_parser("audit", help="verify, query and tail the audit trail")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser("verify", help="check every line, link, seal and file of a trail")
    _add_path(verify)
    verify.add_argument("--key-file", help="file holding the HMAC key (default: the audit_key settings)")
    verify.add_argument(
        "--no-key", action="store_true", help="do not check seals even if a key is configured"
    )
    verify.add_argument("--live", action="store_true", help="a writer is running: an unsealed tail is normal")
    verify.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="an anchor kept elsewhere (from a seal) that must be in the trail; repeatable",
    )
    verify.add_argument(
        "--anchors",
        metavar="PATH",
        help="a file or directory of anchors (audit_anchor_path, or a collector's file export of "
        "kaizen.audit.anchor events): every one must be in the trail (default: the "
        "audit_anchor_path setting when it exists)",
    )
    verify.add_argument("--no-anchors", action="store_true", help="do not check the configured anchors")
    verify.add_argument("--json", action="store_true", help="print the report as one JSON object")
    verify.set_defaults(func=_verify)

    query = commands.add_parser("query", help="print matching records as JSON lines, oldest first")
    _add_path(query)
    _add_filters(query)
    query.add_argument("--limit", type=int, default=0, help="stop after this many records (0 = all)")
    query.set_defaults(func=_query)

    tail = commands.add_parser("tail", help="print the last records as JSON lines; -f to follow")
    _add_path(tail)
    _add_filters(tail)
    tail.add_argument("-n", "--lines", type=int, default=10, help="how many records (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    tail.add_argument("--interval", type=float, default=0.5, help="seconds between checks with --follow")
    tail.add_argument("--duration", type=float, default=0.0, help="stop following after this many seconds")
    tail.set_defaults(func=_tail)
    return audit


def _add_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="the active trail file (default: the audit_path setting)")


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", help="only this agent_id")
    parser.add_argument("--action", help="only this action")
    parser.add_argument("--user", help="only this user_id")
    parser.add_argument("--result", choices=RESULTS, help="only this result")
    parser.add_argument("--start", help="from this time, inclusive (ISO 8601, UTC if no offset; or ns)")
    parser.add_argument("--end", help="up to this time, exclusive (ISO 8601, UTC if no offset; or ns)")


def _settings() -> Any:
    from kaizen_otel._internal.settings import resolve

    return resolve().settings


def _path(args: argparse.Namespace) -> str:
    return resolve_trail_path(args.path if args.path else _settings().audit_path)


class _NoTrail(Exception):
    """The path holds no trail: a clear message and exit code 2, never an empty success."""


def _existing_trail(args: argparse.Namespace) -> str:
    path = _path(args)
    if os.path.isdir(path):
        raise _NoTrail(f"{path} is a directory; give the trail's active file (e.g. {path}/audit_trail.jsonl)")
    if not os.path.exists(path) and not TrailLayout(path).rotated():
        raise _NoTrail(f"no audit trail at {path}")
    return path


class _Skips:
    """Counts the lines a query skipped, reporting each on stderr."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, file: str, reason: str) -> None:
        self.count += 1
        print(f"kaizen-otel audit: skipped a line of {os.path.basename(file)}: {reason}", file=sys.stderr)

    def summary(self) -> None:
        if self.count:
            print(f"kaizen-otel audit: warning: {self.count} unreadable line(s) skipped", file=sys.stderr)


# Fractional seconds of any length: a record's own timestamp has nine digits, which
# datetime.fromisoformat refuses before Python 3.11 and truncates to microseconds after.
_FRACTION = re.compile(r"(?<=\d\d:\d\d:\d\d)[.,](\d+)")


def _parse_time(text: str | None, name: str) -> int | None:
    """``--start``/``--end``: nanoseconds since the epoch, or an ISO 8601 time kept to the nanosecond."""
    if text is None:
        return None
    whole = text.strip()
    if whole.lstrip("-").isdigit():
        return int(whole)
    fraction_ns = 0
    fraction = _FRACTION.search(whole)
    if fraction:
        fraction_ns = int(fraction.group(1)[:9].ljust(9, "0"))
        whole = whole[: fraction.start()] + whole[fraction.end() :]
    try:
        moment = _dt.datetime.fromisoformat(whole.replace("Z", "+00:00"))
    except ValueError as exc:
        raise KaizenConfigError(f"--{name}", text, "an ISO 8601 time or nanoseconds since the epoch") from exc
    return (to_ns(moment, name) or 0) + fraction_ns


def _query_of(args: argparse.Namespace) -> AuditQuery:
    return AuditQuery(
        agent_id=args.agent,
        action=args.action,
        user_id=args.user,
        result=args.result,
        start_ns=_parse_time(args.start, "start"),
        end_ns=_parse_time(args.end, "end"),
    )


def _print(entry: AuditEntry, out: TextIO) -> None:
    out.write(json.dumps(entry.to_dict(), separators=(",", ":"), default=str) + "\n")


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report a bad argument or setting as one line on stderr and exit code 2, not a traceback."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (KaizenConfigError, ValueError, TypeError, _NoTrail) as exc:
            print(f"kaizen-otel audit: error: {exc}", file=sys.stderr)
            return _USAGE
        except OSError as exc:
            print(f"kaizen-otel audit: error: {exc}", file=sys.stderr)
            return _USAGE

    return run


@_guarded
def _verify(args: argparse.Namespace) -> int:
    from kaizen_otel.audit.trail import load_key

    path = _path(args)
    if os.path.isdir(path):
        raise _NoTrail(f"{path} is a directory; give the trail's active file (e.g. {path}/audit_trail.jsonl)")
    key: bytes | None = None
    if args.key_file:
        key = load_key(None, args.key_file)
    elif not args.no_key:
        settings = _settings()
        key = load_key(settings.audit_key, settings.audit_key_file)
    anchors = _anchors(args, path)
    for text in args.expect:
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise KaizenConfigError("--expect", text, "SEQ:HASH with a 64-digit hex hash")
        anchors.append((int(seq), digest))
    report = verify_trail(path, key, live=args.live, expect=anchors)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for problem in report.problems:
            print(problem)
        if report.more_problems:
            print(f"... and {report.more_problems} more problem(s)")
        for note in report.notes:
            print(f"note: {note}")
        state = "OK" if report.ok else f"DAMAGED ({len(report.problems) + report.more_problems} problem(s))"
        checked = "seals checked with the key" if report.key_checked else "seals NOT checked (no key)"
        if report.anchors_checked:
            checked += f"; {report.anchors_checked} anchor(s) checked"
        if report.ok and report.state:
            state += f" ({report.state})"
        print(
            f"{state}: {path}: {len(report.files)} file(s), {report.lines} lines, "
            f"{report.records} records, {report.seals} seals; {checked}"
        )
    return _OK if report.ok else _DAMAGED


def _anchors(args: argparse.Namespace, path: str) -> list[tuple[int, str]]:
    """Anchors from ``--anchors``, else from the configured anchor file when it exists."""
    source = args.anchors
    if source is None and not args.no_anchors:
        configured = _settings().audit_anchor_path
        if configured and os.path.exists(resolve_trail_path(configured)):
            source = configured
    if source is None:
        return []
    return read_anchors(resolve_trail_path(source), trail=path)


@_guarded
def _query(args: argparse.Namespace) -> int:
    limit = max(0, args.limit)
    skips = _Skips()
    for count, entry in enumerate(iter_entries(_existing_trail(args), _query_of(args), on_skip=skips), 1):
        _print(entry, sys.stdout)
        if limit and count >= limit:
            break
    skips.summary()
    return _OK


@_guarded
def _tail(args: argparse.Namespace) -> int:
    path = _existing_trail(args)
    query = _query_of(args)
    skips = _Skips()
    last_seq = -1
    for entry in tail_entries(path, args.lines, query, on_skip=skips):
        _print(entry, sys.stdout)
        last_seq = entry.seq
    sys.stdout.flush()
    if args.follow:
        deadline = time.monotonic() + args.duration if args.duration > 0 else None
        try:
            _follow(path, query, last_seq, max(0.05, args.interval), deadline, skips)
        except KeyboardInterrupt:
            pass
    skips.summary()
    return _OK


def _follow(
    path: str, query: AuditQuery, last_seq: int, interval: float, deadline: float | None, skips: _Skips
) -> None:
    """Print records appended after ``last_seq``, following any number of rotations, until ``deadline``."""
    handle = _open_active(path, interval, deadline)
    if handle is None:
        return
    try:
        while deadline is None or time.monotonic() < deadline:
            line = handle.readline()
            if line.endswith(b"\n"):
                last_seq = _emit_line(line, query, last_seq, handle.name, skips)
                continue
            handle.seek(handle.tell() - len(line))  # a torn or growing line: read it again later
            if _rotated(path, handle):
                for raw in handle.read().splitlines(keepends=True):
                    if raw.endswith(b"\n"):
                        last_seq = _emit_line(raw, query, last_seq, handle.name, skips)
                handle.close()
                opened = _reopen_after_rotations(path, query, last_seq, interval, deadline, skips)
                if opened is None:
                    return
                handle, last_seq = opened
                continue
            sys.stdout.flush()
            time.sleep(interval)
    finally:
        handle.close()


def _reopen_after_rotations(
    path: str, query: AuditQuery, last_seq: int, interval: float, deadline: float | None, skips: _Skips
) -> tuple[BinaryIO, int] | None:
    """Print what every file rotated since ``last_seq`` holds, then open the active file.

    However many rotations happened between two polls, each rotated file is read in chain order;
    if the trail rotated again while they were read, the newly rotated files are read too.
    """
    while True:
        for file in _files_after(path, last_seq):
            with open(file, "rb") as rotated:
                for raw in rotated:
                    if raw.endswith(b"\n"):
                        last_seq = _emit_line(raw, query, last_seq, file, skips)
        handle = _open_active(path, interval, deadline)
        if handle is None:
            return None
        first = _seq_of(handle.readline())
        handle.seek(0)
        if first is None or first <= last_seq + 1:
            return handle, last_seq
        handle.close()  # the active file starts past what was read: more rotations meanwhile


def _files_after(path: str, last_seq: int) -> list[str]:
    """Rotated files that may hold lines after ``last_seq``, oldest first."""
    rotated = [file for _, file in TrailLayout(path).rotated()]
    for position in range(len(rotated) - 1, -1, -1):
        first = _seq_of(_first_line(rotated[position]))
        if first is not None and first <= last_seq + 1:
            return rotated[position:]
    return rotated


def _first_line(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.readline()
    except OSError:
        return b""


def _seq_of(raw: bytes) -> int | None:
    try:
        value = json.loads(raw).get("seq")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _open_active(path: str, interval: float, deadline: float | None) -> BinaryIO | None:
    """Open the active file, waiting while it is missing (a writer is between a rotation's rename and
    the new file's creation); None when ``deadline`` passes first."""
    while True:
        try:
            return open(path, "rb")
        except FileNotFoundError:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(interval)


def _rotated(path: str, handle: Any) -> bool:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(handle.fileno())
    return (info.st_dev, info.st_ino) != (own.st_dev, own.st_ino)


def _emit_line(raw: bytes, query: AuditQuery, last_seq: int, file: str, skips: _Skips) -> int:
    try:
        record = json.loads(raw)
    except ValueError:
        return last_seq
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int) or record["seq"] <= last_seq:
        return last_seq
    if query.matches(record):
        entry = entry_of(record, file, skips)
        if entry is not None:
            _print(entry, sys.stdout)
    return int(record["seq"])


def build_parser() -> argparse.ArgumentParser:
    """A parser with only the ``audit`` command (``python -m kaizen_otel.audit.cli``)."""
    parser = argparse.ArgumentParser(prog="kaizen-otel", description="Verify, query and tail an audit trail.")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``audit ...``; the leading ``audit`` word may be left out."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] != "audit":
        args_list.insert(0, "audit")
    args = build_parser().parse_args(args_list)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
