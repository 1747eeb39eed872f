"""Tamper evidence: every kind of damage is found, named, and placed on the right line."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from kaizen_otel.audit import AuditTrail, chain, verify_trail
from kaizen_otel.audit.files import TrailLayout
from tests.audit.conftest import KEY

RECORDS = 12


@pytest.fixture
def closed_trail(trail_path: str) -> str:
    """A closed, keyed trail: genesis, 12 records, seals every 5 lines, a close seal."""
    with AuditTrail(trail_path, key=KEY, seal_records=5, seal_seconds=0) as trail:
        for i in range(RECORDS):
            trail.record(f"agent-{i % 3}", "tool_execute", {"i": i}, user_id="u")
    return trail_path


def read(path: str) -> list[bytes]:
    with open(path, "rb") as handle:
        return handle.readlines()


def write(path: str, lines: list[bytes]) -> None:
    with open(path, "wb") as handle:
        handle.writelines(lines)


def first_problem(path: str, key: bytes | None = KEY) -> tuple[str, int, str]:
    report = verify_trail(path, key)
    assert not report.ok
    problem = report.problems[0]
    return problem.kind, problem.line, problem.file


def edit(line: bytes, change: Callable[[dict[str, object]], None], *, rehash: bool) -> bytes:
    record = json.loads(line)
    change(record)
    if rehash:
        record.pop("hash")
        return chain.encode_line(record)[0]
    return chain.canonical(record) + b"\n"


def bump_timestamp(record: dict[str, object]) -> None:
    record["timestamp"] = int(record["timestamp"]) + 1  # type: ignore[call-overload]


def test_an_intact_trail_verifies(closed_trail: str) -> None:
    report = verify_trail(closed_trail, KEY)
    assert report.ok, report.problems
    assert (report.records, report.key_checked) == (RECORDS, True)
    assert report.sealed_through == report.head_seq  # the close seal covers everything


def test_every_single_line_edit_is_found_on_its_line(closed_trail: str) -> None:
    original = read(closed_trail)
    for index in range(len(original)):
        lines = list(original)
        lines[index] = edit(lines[index], bump_timestamp, rehash=False)
        write(closed_trail, lines)
        assert first_problem(closed_trail) == ("edited", index + 1, "audit_trail.jsonl"), index
    write(closed_trail, original)
    assert verify_trail(closed_trail, KEY).ok


def test_a_deleted_line_is_found_where_the_gap_is(closed_trail: str) -> None:
    original = read(closed_trail)
    for index in range(len(original) - 1):
        write(closed_trail, original[:index] + original[index + 1 :])
        assert first_problem(closed_trail)[:2] == ("deleted", index + 1), index


def test_swapped_lines_are_reported_as_reordered(closed_trail: str) -> None:
    original = read(closed_trail)
    for index in range(1, len(original) - 1):
        lines = list(original)
        lines[index], lines[index + 1] = lines[index + 1], lines[index]
        write(closed_trail, lines)
        report = verify_trail(closed_trail, KEY)
        assert [(p.kind, p.line) for p in report.problems] == [("reordered", index + 1)], index


def test_a_forged_line_with_a_recomputed_hash_is_found(closed_trail: str) -> None:
    original = read(closed_trail)
    for index in range(1, len(original) - 1):
        lines = list(original)
        lines[index] = edit(lines[index], bump_timestamp, rehash=True)
        write(closed_trail, lines)
        expected = "bad_seal" if json.loads(original[index])["kind"] == "seal" else "edited"
        assert first_problem(closed_trail)[:2] == (expected, index + 1), index


def test_an_inserted_line_is_found(closed_trail: str) -> None:
    lines = read(closed_trail)
    genuine = json.loads(lines[4])
    forged = {k: v for k, v in genuine.items() if k != "hash"}
    forged["details"] = {"i": 999}
    lines.insert(4, chain.encode_line(forged)[0])
    write(closed_trail, lines)
    assert first_problem(closed_trail)[:2] == ("inserted", 5)


def test_a_cut_tail_is_reported_as_truncated(closed_trail: str) -> None:
    lines = read(closed_trail)
    write(closed_trail, lines[:-3])
    kind, line, _ = first_problem(closed_trail)
    assert (kind, line) == ("truncated", len(lines) - 2)


def test_a_torn_tail_is_reported_as_torn_and_not_as_tampering(closed_trail: str) -> None:
    with open(closed_trail, "ab") as handle:
        handle.write(b'{"agent_id":"a","act')
    report = verify_trail(closed_trail, KEY)
    assert [(p.kind, p.line) for p in report.problems] == [("torn", len(read(closed_trail)))]


def rewrite_without_key(path: str) -> None:
    """What an attacker without the key can do: rebuild every line with valid hashes."""
    prev = chain.GENESIS_PREV
    out = []
    for raw in read(path):
        record = json.loads(raw)
        record.pop("hash")
        record["prev"] = prev
        if record["kind"] == "record":
            record["result"] = "success"
            record["details"] = {"i": "rewritten"}
        if record["kind"] == "seal":
            record["mac"] = chain.seal_mac(b"a guessed key", record)
        line, prev = chain.encode_line(record)
        out.append(line)
    write(path, out)


def test_a_trail_rewritten_without_the_key_fails_the_keyed_check(closed_trail: str) -> None:
    rewrite_without_key(closed_trail)
    assert first_problem(closed_trail) == ("bad_seal", 2, "audit_trail.jsonl")
    keyless = verify_trail(closed_trail)
    assert keyless.ok and not keyless.key_checked  # the documented limit of a check without the key
    assert any("rewritten trail would pass" in note for note in keyless.notes)


def test_a_seal_made_with_another_key_is_named_as_such(trail_path: str) -> None:
    with AuditTrail(trail_path, key=b"other key", seal_seconds=0) as trail:
        trail.record("a", "x")
    report = verify_trail(trail_path, KEY)
    assert report.problems[0].kind == "bad_seal" and "another key" in report.problems[0].message


def test_an_anchor_kept_elsewhere_catches_a_cut_and_resumed_trail(trail_path: str) -> None:
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        for i in range(5):
            trail.record("a", "x", {"i": i})
        anchor = trail.seal()
        assert anchor is not None
        trail.record("a", "x", {"i": 5})
    write(trail_path, read(trail_path)[:3])  # cut back to before the anchor, then a writer resumes
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        trail.record("a", "x", {"i": "after"})
    assert verify_trail(trail_path, KEY).ok  # without the anchor the cut cannot be seen
    report = verify_trail(trail_path, KEY, expect=[(anchor.seq, anchor.hash)])
    assert [p.kind for p in report.problems] == ["truncated"]
    assert "anchor seq" in report.problems[0].message


# ---------------------------------------------------------------------------------- rotated files


@pytest.fixture
def rotated_trail(trail_path: str) -> str:
    """A trail of several files: rotation every ~1.5 KB."""
    with AuditTrail(trail_path, key=KEY, rotate_bytes=1500, seal_seconds=0) as trail:
        for i in range(30):
            trail.record("agent", "tool_execute", {"i": i})
    assert len(TrailLayout(trail_path).rotated()) >= 4
    assert verify_trail(trail_path, KEY).ok
    return trail_path


def test_a_deleted_middle_file_is_missing(rotated_trail: str) -> None:
    _, path = TrailLayout(rotated_trail).rotated()[2]
    os.unlink(path)
    report = verify_trail(rotated_trail, KEY)
    assert [(p.kind, p.file) for p in report.problems] == [("missing_file", os.path.basename(path))]


def test_deleting_the_oldest_file_without_retention_is_detected(rotated_trail: str) -> None:
    _, path = TrailLayout(rotated_trail).rotated()[0]
    os.unlink(path)
    kinds = [p.kind for p in verify_trail(rotated_trail, KEY).problems]
    assert kinds == ["missing_file"]


def test_swapped_rotated_files_are_reported_as_reordered(rotated_trail: str) -> None:
    rotated = TrailLayout(rotated_trail).rotated()
    (_, first), (_, second) = rotated[1], rotated[2]
    os.rename(first, first + ".tmp")
    os.rename(second, first)
    os.rename(first + ".tmp", second)
    problem = verify_trail(rotated_trail, KEY).problems[0]
    assert (problem.kind, problem.file, problem.line) == ("reordered", os.path.basename(first), 1)


def test_a_cut_rotated_file_is_truncated(rotated_trail: str) -> None:
    _, path = TrailLayout(rotated_trail).rotated()[1]
    lines = read(path)
    write(path, lines[:-1])
    problem = verify_trail(rotated_trail, KEY).problems[0]
    assert (problem.kind, problem.file, problem.line) == ("truncated", os.path.basename(path), len(lines) - 1)


def test_an_anchor_in_a_file_expired_by_retention_is_not_damage(trail_path: str) -> None:
    with AuditTrail(trail_path, key=KEY, rotate_bytes=800, retention_files=1, seal_seconds=0) as trail:
        early = trail.record("a", "x", {"i": 0})
        for i in range(1, 20):
            trail.record("a", "x", {"i": i})
    report = verify_trail(trail_path, KEY, expect=[(early.seq, early.hash)])
    assert report.ok, report.problems
    assert f"anchor seq {early.seq} is in a file removed by retention" in report.notes
