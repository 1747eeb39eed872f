"""What an attacker with write access to the audit directory can do, and what catches it.

Every case here works on real files: cut back to a seal, delete or empty the active file, swap
files under a running writer, roll the directory back, rewrite the trail with the key. Each is
reported with the right kind, and no acknowledged record goes missing without verify saying so.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from kaizen_otel.audit import AuditTrail, chain, read_anchors, verify_trail
from kaizen_otel.audit.files import TrailLayout
from kaizen_otel.exceptions import AuditError
from tests.audit.conftest import KEY, lines_of, records_in
from tests.audit.test_cli import run_cli


def kinds(path: str, **kwargs: object) -> list[str]:
    return [p.kind for p in verify_trail(path, KEY, **kwargs).problems]  # type: ignore[arg-type]


def cut_after(path: str, predicate: object) -> int:
    """Keep the lines of ``path`` up to the last one that ``predicate`` accepts; return how many."""
    with open(path, "rb") as handle:
        raw = handle.readlines()
    keep = max(i for i, line in enumerate(raw) if predicate(json.loads(line))) + 1  # type: ignore[operator]
    with open(path, "wb") as handle:
        handle.writelines(raw[:keep])
    return keep


def seal_with(reason: str) -> object:
    return lambda line: line["kind"] == "seal" and line["reason"] == reason


@pytest.fixture
def sealed_trail(trail_path: str) -> str:
    """35 records sealed every 10, one explicit seal, closed: seals of every in-file reason."""
    with AuditTrail(trail_path, key=KEY, seal_records=10, seal_seconds=0) as trail:
        for i in range(35):
            trail.record("agent", "step", {"i": i})
            if i == 22:
                trail.seal()
    return trail_path


@pytest.mark.parametrize("reason", ["open", "periodic", "explicit"])
def test_a_trail_cut_back_to_any_seal_but_its_close_seal_is_truncated(sealed_trail: str, reason: str) -> None:
    assert verify_trail(sealed_trail, KEY).ok
    kept = cut_after(sealed_trail, seal_with(reason))
    report = verify_trail(sealed_trail, KEY)
    assert [(p.kind, p.line) for p in report.problems] == [("truncated", kept + 1)]
    assert f"a {reason} seal" in report.problems[0].message


def test_a_rotated_trail_cut_back_to_a_rotation_seal_is_truncated(trail_path: str) -> None:
    with AuditTrail(trail_path, key=KEY, rotate_bytes=600, seal_seconds=0) as trail:
        for i in range(12):
            trail.record("agent", "step", {"i": i})
    newest_rotated = TrailLayout(trail_path).rotated()[-1][1]
    os.unlink(trail_path)
    os.rename(newest_rotated, trail_path)  # the trail now ends at the last rotation seal
    assert "truncated" in kinds(trail_path) or "missing_file" in kinds(trail_path)
    assert not verify_trail(trail_path, KEY).ok


def test_the_closed_trail_verifies_and_says_it_is_closed(sealed_trail: str) -> None:
    report = verify_trail(sealed_trail, KEY)
    assert report.ok and report.state == "closed"


@pytest.fixture
def rotated_trail(trail_path: str) -> str:
    with AuditTrail(trail_path, key=KEY, rotate_bytes=700, seal_seconds=0) as trail:
        for i in range(15):
            trail.record("agent", "step", {"i": i})
    assert len(TrailLayout(trail_path).rotated()) >= 2
    return trail_path


def test_an_emptied_active_file_is_truncated(rotated_trail: str) -> None:
    open(rotated_trail, "wb").close()
    assert kinds(rotated_trail)[0] == "truncated"


def test_an_emptied_single_file_trail_is_truncated(sealed_trail: str) -> None:
    open(sealed_trail, "wb").close()
    assert kinds(sealed_trail) == ["truncated"]


def test_a_deleted_active_file_is_missing(rotated_trail: str) -> None:
    os.unlink(rotated_trail)
    assert "missing_file" in kinds(rotated_trail)


def test_the_active_file_deleted_with_the_newest_rotated_file_is_caught(rotated_trail: str) -> None:
    os.unlink(rotated_trail)
    os.unlink(TrailLayout(rotated_trail).rotated()[-1][1])
    found = kinds(rotated_trail)
    assert "missing_file" in found and "truncated" in found  # ends on a rotation seal, no close


# ------------------------------------------------------------------------------- a running writer


def failures(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    out: dict[str, int] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "kaizen.audit.append.failures":
                    for point in metric.data.data_points:
                        out[str(point.attributes["error.type"])] = int(point.value)
    return out


def other_valid_trail(tmp_path: Path) -> str:
    other = str(tmp_path / "elsewhere" / "audit_trail.jsonl")
    with AuditTrail(other, key=KEY, seal_seconds=0) as trail:
        for i in range(3):
            trail.record("intruder", "step", {"i": i})
    return other


@pytest.mark.parametrize("attack", ["cut", "emptied", "replaced_by_empty", "replaced_by_other_trail"])
def test_a_writer_refuses_to_chain_onto_a_file_changed_under_it(
    trail_path: str, tmp_path: Path, attack: str
) -> None:
    reader = InMemoryMetricReader()
    trail = AuditTrail(trail_path, key=KEY, seal_seconds=0, meter_provider=MeterProvider([reader]))
    acknowledged = [trail.record("agent", "step", {"i": i}) for i in range(5)]
    if attack == "cut":
        cut_after(trail_path, lambda line: line.get("seq") == acknowledged[2].seq)
    elif attack == "emptied":
        open(trail_path, "wb").close()
    elif attack == "replaced_by_empty":
        os.unlink(trail_path)
        open(trail_path, "wb").close()
    else:
        os.unlink(trail_path)
        shutil.copy(other_valid_trail(tmp_path), trail_path)
    for _ in range(2):  # it keeps refusing; it never starts over or chains onto foreign lines
        with pytest.raises(AuditError, match="changed under the writer"):
            trail.record("agent", "step", {"i": 99})
    assert failures(reader) == {"tampered": 2}
    assert not trail.verify().ok  # acknowledged lines are gone and verify says so
    assert not any(r["details"] == {"i": 99} for r in records_in(trail_path))  # type: ignore[index]


def test_a_writer_follows_another_writers_rotation(trail_path: str) -> None:
    first = AuditTrail(trail_path, key=KEY, seal_seconds=0)
    second = AuditTrail(trail_path, key=KEY, seal_seconds=0, rotate_bytes=1)
    first.record("a", "step")
    second.record("b", "step")  # rotates the file the first writer knows
    second.record("b", "step")
    first.record("a", "step")  # follows the rotation: the same inode lives on as a rotated file
    second.close()
    first.close()
    assert verify_trail(trail_path, KEY).ok


def test_a_fresh_writer_refuses_to_start_over_where_a_trail_was_emptied(sealed_trail: str) -> None:
    open(sealed_trail, "wb").close()
    with pytest.raises(AuditError, match="a trail was started here"):
        AuditTrail(sealed_trail, key=KEY, seal_seconds=0)


def test_a_fresh_writer_refuses_an_empty_active_file_beside_rotated_files(rotated_trail: str) -> None:
    open(rotated_trail, "wb").close()
    with pytest.raises(AuditError, match="empty although rotated files exist"):
        AuditTrail(rotated_trail, key=KEY, seal_seconds=0)


# ------------------------------------------------------------------------------- live checks


def test_live_verify_with_the_key_needs_a_valid_seal(trail_path: str) -> None:
    trail = AuditTrail(trail_path, key=KEY, seal_seconds=0)
    for i in range(4):
        trail.record("agent", "step", {"i": i})
    live = verify_trail(trail_path, KEY, live=True)
    assert live.ok and live.state == "open" and live.unsealed_lines == 4
    assert any("4 line(s) after the last seal" in note for note in live.notes)
    # A rewrite without the key, its seals removed, would pass a check that counts no seals.
    prev, out = chain.GENESIS_PREV, []
    for line in lines_of(trail_path):
        if line["kind"] == "seal":
            continue
        line.pop("hash")
        line["prev"] = prev
        line["seq"] = len(out)
        encoded, prev = chain.encode_line(line)
        out.append(encoded)
    trail.close()
    with open(trail_path, "wb") as handle:
        handle.writelines(out)
    assert "bad_seal" in kinds(trail_path, live=True)


def test_the_cli_prints_the_unsealed_window_of_a_live_trail(trail_path: str, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    trail = AuditTrail(trail_path, key=KEY, seal_seconds=0)
    trail.record("agent", "step")
    done = run_cli("verify", trail_path, "--live", "--key-file", str(key_file))
    trail.close()
    assert done.returncode == 0, done.stdout
    assert "OK (open)" in done.stdout and "1 line(s) after the last seal" in done.stdout


# ------------------------------------------------------------------------------- anchors


def test_a_rollback_to_an_older_copy_is_caught_by_the_anchors(trail_path: str, tmp_path: Path) -> None:
    anchors = str(tmp_path / "other-mount" / "anchors.jsonl")
    os.makedirs(os.path.dirname(anchors))
    backup = tmp_path / "backup"
    with AuditTrail(trail_path, key=KEY, seal_records=5, seal_seconds=0, anchor_path=anchors) as trail:
        for i in range(12):
            trail.record("agent", "step", {"i": i})
        trail.close()
        shutil.copytree(os.path.dirname(trail_path), backup)
    with AuditTrail(trail_path, key=KEY, seal_records=5, seal_seconds=0, anchor_path=anchors) as trail:
        for i in range(12, 20):
            trail.record("agent", "step", {"i": i})
    shutil.rmtree(os.path.dirname(trail_path))
    shutil.copytree(backup, os.path.dirname(trail_path))  # a complete, older, valid trail
    assert verify_trail(trail_path, KEY).ok  # key-holding check alone cannot tell
    report = verify_trail(trail_path, KEY, expect=read_anchors(anchors, trail=trail_path))
    assert {p.kind for p in report.problems} == {"truncated"}
    done = run_cli("verify", trail_path, "--anchors", anchors)
    assert done.returncode == 1 and "rolled back" in done.stdout


def test_a_rewrite_by_a_key_holder_is_caught_by_the_anchors(trail_path: str, tmp_path: Path) -> None:
    anchors = str(tmp_path / "anchors.jsonl")
    with AuditTrail(trail_path, key=KEY, seal_records=4, seal_seconds=0, anchor_path=anchors) as trail:
        for i in range(10):
            trail.record("agent", "step", {"i": i})
    prev, out = chain.GENESIS_PREV, []
    for line in lines_of(trail_path):  # the attacker holds the key: every seal is valid again
        line.pop("hash")
        line["prev"] = prev
        if line["kind"] == "record":
            line["details"] = {"i": "rewritten"}
        if line["kind"] == "seal":
            line["mac"] = chain.seal_mac(KEY, line)
        encoded, prev = chain.encode_line(line)
        out.append(encoded)
    with open(trail_path, "wb") as handle:
        handle.writelines(out)
    assert verify_trail(trail_path, KEY).ok
    report = verify_trail(trail_path, KEY, expect=read_anchors(anchors))
    assert report.problems and {p.kind for p in report.problems} == {"edited"}


def test_anchors_leave_as_otlp_events_a_collector_file_export_can_be_checked_against(
    trail_path: str, tmp_path: Path
) -> None:
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    with AuditTrail(
        trail_path, key=KEY, seal_records=3, seal_seconds=0, forward_logger_provider=provider
    ) as trail:
        for i in range(7):
            trail.record("agent", "step", {"i": i})
    events = [f for f in exporter.get_finished_logs() if f.log_record.event_name == "kaizen.audit.anchor"]
    seals = [line for line in lines_of(trail_path) if line["kind"] == "seal"]
    assert [e.log_record.attributes["kaizen.audit.anchor.seq"] for e in events] == [s["seq"] for s in seals]
    export = tmp_path / "collector-file-export"
    export.mkdir()
    (export / "logs.json").write_text(MessageToJson(encode_logs(events), indent=None) + "\n")
    anchors = read_anchors(str(export), trail=trail_path)
    assert anchors == [(s["seq"], s["hash"]) for s in seals]
    cut_after(trail_path, seal_with("periodic"))
    assert "truncated" in kinds(trail_path, expect=anchors)


def test_verify_refuses_an_anchor_path_that_holds_no_anchor(sealed_trail: str, tmp_path: Path) -> None:
    empty = tmp_path / "anchors.jsonl"
    empty.write_text("")
    done = run_cli("verify", sealed_trail, "--anchors", str(empty))
    assert done.returncode == 2 and "no audit anchors" in done.stderr


def test_a_staging_name_left_by_a_killed_writer_never_truncates_the_trail(trail_path: str) -> None:
    """Killed between link() and unlink(), a writer leaves <trail>.new as a second name of the file."""
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        trail.record("agent", "step", {"i": 0})
    os.link(trail_path, TrailLayout(trail_path).staging_path)
    with AuditTrail(trail_path, key=KEY, rotate_bytes=1, seal_seconds=0) as trail:
        for i in range(1, 4):
            trail.record("agent", "step", {"i": i})  # each record rotates and starts a new file
    assert [r["details"]["i"] for r in records_in(trail_path)] == [0, 1, 2, 3]  # type: ignore[index]
    assert verify_trail(trail_path, KEY).ok
