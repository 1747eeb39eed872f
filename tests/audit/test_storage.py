"""Durability: failures reach the caller, crashes are recovered, files rotate and expire safely."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable

import pytest

from kaizen_otel.audit import AuditTrail, chain, verify_trail
from kaizen_otel.audit.entry import AuditEntry
from kaizen_otel.audit.files import TrailLayout
from kaizen_otel.audit.storage import DurableLog, StorageOptions, SysCalls
from kaizen_otel.exceptions import AuditError
from tests.audit.conftest import KEY, lines_of, records_in


class Faulty(SysCalls):
    """Real os calls, with a failure armed for the next fdatasync or write."""

    def __init__(self) -> None:
        self.fail_sync = False
        self.short_write = False
        self.syncs = 0
        self.sync_delay = 0.0
        self.syncing = threading.Event()

    def fdatasync(self, fd: int) -> None:
        self.syncs += 1
        self.syncing.set()
        if self.sync_delay:
            time.sleep(self.sync_delay)
        if self.fail_sync:
            self.fail_sync = False
            raise OSError(errno.EIO, "Input/output error")
        super().fdatasync(fd)

    def write(self, fd: int, data: bytes) -> int:
        if self.short_write:
            self.short_write = False
            return os.write(fd, data[: len(data) // 2])
        return super().write(fd, data)


def test_a_failed_fsync_reaches_the_caller_and_nothing_is_acknowledged(trail_path: str) -> None:
    faults = Faulty()
    trail = AuditTrail(trail_path, key=KEY, seal_seconds=0, syscalls=faults)
    trail.record("a", "x", {"n": 1})
    faults.fail_sync = True
    with pytest.raises(
        AuditError, match=r"fdatasync .* failed: Input/output error; the record is not durable"
    ):
        trail.record("a", "x", {"n": 2})
    after = trail.record("a", "x", {"n": 3})
    trail.close()
    assert verify_trail(trail_path, KEY).ok
    assert [r["details"]["n"] for r in records_in(trail_path)][-1] == 3  # type: ignore[index]
    assert after.seq == records_in(trail_path)[-1]["seq"]


def test_a_short_write_fails_the_record_and_its_own_bytes_are_cut_back_and_recorded(
    trail_path: str,
) -> None:
    faults = Faulty()
    trail = AuditTrail(trail_path, key=KEY, seal_seconds=0, syscalls=faults)
    trail.record("a", "x", {"n": 1})
    faults.short_write = True
    with pytest.raises(AuditError, match="short write"):
        trail.record("a", "x", {"n": 2})
    trail.record("a", "x", {"n": 3})
    trail.close()
    assert [r["details"]["n"] for r in records_in(trail_path)] == [1, 3]  # type: ignore[index]
    recovery = [line for line in lines_of(trail_path) if line["kind"] == "recovery"]
    assert len(recovery) == 1 and recovery[0]["torn_bytes"] > 0
    assert recovery[0]["cause"] == "failed_write" and recovery[0]["moved_to"] is None
    assert not [name for name in os.listdir(os.path.dirname(trail_path)) if ".torn-" in name]
    assert verify_trail(trail_path, KEY).ok


def test_a_torn_tail_is_moved_aside_on_open_and_the_chain_resumes(trail_path: str) -> None:
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        trail.record("a", "x")
    torn = b'{"action":"x","agent_id":"a","det'
    with open(trail_path, "ab") as handle:
        handle.write(torn)
    assert [p.kind for p in verify_trail(trail_path, KEY).problems] == ["torn"]
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        trail.record("a", "y")
    report = verify_trail(trail_path, KEY)
    assert report.ok, report.problems
    (recovery,) = [line for line in lines_of(trail_path) if line["kind"] == "recovery"]
    with open(os.path.join(os.path.dirname(trail_path), str(recovery["moved_to"])), "rb") as handle:
        assert handle.read() == torn


def test_a_damaged_last_line_is_refused_rather_than_chained_onto(trail_path: str) -> None:
    with AuditTrail(trail_path, seal_seconds=0) as trail:
        trail.record("a", "x")
    with open(trail_path, "ab") as handle:
        handle.write(b'{"kind":"record","seq":99}\n')
    with pytest.raises(AuditError, match=r"the last line of the audit file .* is damaged"):
        AuditTrail(trail_path)


def test_a_symlinked_trail_file_is_refused(tmp_path: os.PathLike[str]) -> None:
    target = os.path.join(tmp_path, "elsewhere.jsonl")
    with open(target, "w"):
        pass
    os.chmod(tmp_path, 0o700)
    link = os.path.join(tmp_path, "audit.jsonl")
    os.symlink(target, link)
    with pytest.raises(AuditError, match="symbolic link"):
        AuditTrail(link)


def test_a_symlinked_directory_is_refused(tmp_path: os.PathLike[str]) -> None:
    real = os.path.join(tmp_path, "real")
    os.mkdir(real, 0o700)
    link = os.path.join(tmp_path, "link")
    os.symlink(real, link)
    with pytest.raises(AuditError, match="symbolic link"):
        AuditTrail(os.path.join(link, "audit.jsonl"))


def test_rotation_by_size_links_each_file_to_the_previous_one(trail_path: str) -> None:
    with AuditTrail(trail_path, key=KEY, rotate_bytes=1000, seal_seconds=0) as trail:
        for i in range(20):
            trail.record("a", "x", {"i": i})
    rotated = TrailLayout(trail_path).rotated()
    assert [index for index, _ in rotated] == list(range(len(rotated))) and len(rotated) >= 3
    for (index, path), (_, following) in zip(rotated, [*rotated[1:], (0, trail_path)], strict=True):
        assert lines_of(path)[-1]["reason"] == "rotation"
        first = lines_of(following)[0]
        assert (first["kind"], first["file_index"], first["prev"]) == (
            "link",
            index + 1,
            lines_of(path)[-1]["hash"],
        )
    assert [r["details"]["i"] for r in records_in(trail_path)] == list(range(20))  # type: ignore[index]


def test_rotation_by_age(trail_path: str) -> None:
    now = [1_000_000_000_000]
    log = DurableLog(trail_path, StorageOptions(rotate_bytes=0, rotate_seconds=60), clock=lambda: now[0])
    log.append([{"timestamp": now[0], "agent_id": "a", "action": "x", "result": "success"}])
    now[0] += 59 * 10**9
    log.append([{"timestamp": now[0], "agent_id": "a", "action": "x", "result": "success"}])
    assert TrailLayout(trail_path).rotated() == []
    now[0] += 2 * 10**9
    log.append([{"timestamp": now[0], "agent_id": "a", "action": "x", "result": "success"}])
    log.close()
    assert len(TrailLayout(trail_path).rotated()) == 1
    assert verify_trail(trail_path).ok


def test_retention_by_count_keeps_the_rest_verifiable_from_an_anchor(trail_path: str) -> None:
    with AuditTrail(trail_path, key=KEY, rotate_bytes=800, retention_files=2, seal_seconds=0) as trail:
        for i in range(30):
            trail.record("a", "x", {"i": i})
    rotated = TrailLayout(trail_path).rotated()
    assert len(rotated) == 2 and rotated[0][0] > 0
    report = verify_trail(trail_path, KEY)
    assert report.ok, report.problems
    assert any("removed by retention" in note for note in report.notes)
    assert any(line["kind"] == "retention" for line in lines_of(trail_path) + lines_of(rotated[-1][1]))


def test_retention_by_age_removes_only_old_files(trail_path: str) -> None:
    with AuditTrail(trail_path, rotate_bytes=800, seal_seconds=0) as trail:
        for i in range(12):
            trail.record("a", "x", {"i": i})
    rotated = TrailLayout(trail_path).rotated()
    old = time.time() - 3 * 86400
    for _, path in rotated[:2]:
        os.utime(path, (old, old))
    with AuditTrail(trail_path, rotate_bytes=800, retention_days=2, seal_seconds=0) as trail:
        for i in range(12):
            trail.record("a", "y", {"i": i})
    kept = [index for index, _ in TrailLayout(trail_path).rotated()]
    assert kept[0] == rotated[2][0]
    assert verify_trail(trail_path).ok


def test_concurrent_writers_share_fsyncs(trail_path: str) -> None:
    faults = Faulty()
    faults.sync_delay = 0.002  # a slow disk, so writers pile up behind a running sync
    trail = AuditTrail(trail_path, seal_records=0, seal_seconds=0, syscalls=faults)
    start = faults.syncs
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for i in range(25):
            trail.record("a", "x", {"i": i})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    syncs = faults.syncs - start
    trail.close()
    assert len(records_in(trail_path)) == 200
    assert syncs < 100  # one fsync per record would be 200
    assert verify_trail(trail_path).ok


def test_a_deleted_active_file_is_an_error_not_a_silent_restart(trail_path: str) -> None:
    trail = AuditTrail(trail_path, seal_seconds=0)
    trail.record("a", "x")
    os.unlink(trail_path)
    with pytest.raises(AuditError, match="changed under the writer: the file holding seq 2 was deleted"):
        trail.record("a", "x")


def test_a_forked_child_appends_with_its_own_lock(trail_path: str) -> None:
    trail = AuditTrail(trail_path, seal_seconds=0)
    trail.record("parent", "x")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            trail.record("child", "x")
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    trail.record("parent", "y")
    trail.close()
    assert [r["agent_id"] for r in records_in(trail_path)] == ["parent", "child", "parent"]
    assert verify_trail(trail_path).ok


def test_a_line_is_its_canonical_body_then_its_hash(trail: AuditTrail) -> None:
    trail.record("a", "x", {"b": 1, "a": [1, 2]})
    with open(trail.path, "rb") as handle:
        raw = handle.readlines()[1]
    record = json.loads(raw)
    digest = record.pop("hash")
    body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    assert raw == body[:-1] + b',"hash":"' + digest.encode() + b'"}\n'
    assert hashlib.sha256(body).hexdigest() == digest


def test_values_json_would_rewrite_differently_still_verify(trail: AuditTrail) -> None:
    """Integer keys become strings and sort differently once read back; the hash is over the bytes."""
    trail.record("a", "x", {"by_code": {10: "ten", 9: "nine"}, "when": dt.date(2025, 1, 2)})
    trail.close()
    assert verify_trail(trail.path, KEY).ok


def _hammer(threads: int, per_thread: int, work: Callable[[int, int], None]) -> None:
    """Run ``work(thread, i)`` from several threads started together."""
    barrier = threading.Barrier(threads)

    def run(thread: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            work(thread, i)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_a_prepared_record_line_is_byte_for_byte_the_canonical_line() -> None:
    """Writers serialise a record before they know its seq and prev; splicing them in changes nothing."""
    rng = random.Random(7)
    keys = ["action", "agent_id", "details", "kind", "metadata", "pre", "prevx", "result", "s", "seq0"]
    keys += ["span_id", "time", "timestamp", "trace_id", "user_id", "v", "zz", "A", "_", "\u00e9"]
    values: list[object] = [1, -2.5, None, True, 't\u00e9xt "q"', {"b": [1, {"a": 2}]}, {10: "x", 9: "y"}]
    values += [dt.date(2025, 1, 2), b"\x00\xff", []]
    for _ in range(2000):
        fields = {key: rng.choice(values) for key in rng.sample(keys, rng.randrange(len(keys) + 1))}
        prev, seq = f"{rng.getrandbits(256):064x}", rng.randrange(10**12)
        expected = chain.encode_line({**fields, "prev": prev, "seq": seq})
        assert chain.prepare_body(fields).line(prev, seq) == expected


def test_a_record_envelope_line_is_byte_for_byte_the_canonical_line() -> None:
    """Record lines are written field by field; any value in any field still gives the canonical line."""
    rng = random.Random(11)
    texts: list[object] = ["a", 't\u00e9xt "q"\n', "", "\u2028\U0001f600", None]
    odd: list[object] = [1, -2.5, True, b"\x00\xff", dt.date(2025, 1, 2), ["x"], {"k": "v"}]
    nested: list[object] = [{}, {"b": [1, {"a": 2.5}], "a": None}, {10: "x", 9: "y"}, {"\u00e9": b"\x01"}, []]
    for _ in range(2000):
        unusual = 0.1 if rng.random() < 0.5 else 0.0  # half of them only the types record() writes
        fields: dict[str, object] = {"kind": "record"}
        for key, usual, others in (
            ("v", [1, 2], [True, 1.0]),
            ("timestamp", [2**63, -1, 0], [True, 1.5, "7"]),
        ):
            fields[key] = rng.choice(others) if rng.random() < unusual else rng.choice(usual)
        for key in ("time", "agent_id", "user_id", "action", "result", "trace_id", "span_id"):
            fields[key] = rng.choice(odd) if rng.random() < unusual else rng.choice(texts)
        for key in ("details", "metadata"):
            fields[key] = rng.choice(odd) if rng.random() < unusual else rng.choice(nested)
        prev, seq = f"{rng.getrandbits(256):064x}", rng.randrange(10**12)
        expected = chain.encode_line({**fields, "prev": prev, "seq": seq})
        assert chain.prepare_body(fields).line(prev, seq) == expected


def test_a_record_that_contains_itself_fails_only_its_caller(trail: AuditTrail) -> None:
    looped: dict[str, object] = {}
    looped["self"] = looped
    with pytest.raises(AuditError, match="details contains itself"):
        trail.record("a", "x", looped)
    assert trail.record("a", "x", {"ok": True}).seq == 2
    trail.close()
    assert verify_trail(trail.path, KEY).ok


def test_a_short_write_inside_a_shared_batch_fails_only_its_own_record(trail_path: str) -> None:
    faults = Faulty()
    faults.sync_delay = 0.002  # writers pile up, so lines are written in shared batches
    trail = AuditTrail(trail_path, key=KEY, seal_records=0, seal_seconds=0, syscalls=faults)
    acknowledged: list[AuditEntry] = []
    failed: list[str] = []

    def work(thread: int, i: int) -> None:
        if thread == 0 and i == 10:
            faults.short_write = True
        try:
            acknowledged.append(trail.record("a", "x", {"thread": thread, "i": i}))
        except AuditError as exc:
            failed.append(str(exc))

    _hammer(8, 20, work)
    trail.close()
    assert len(failed) == 1 and "short write" in failed[0]
    on_disk = {(r["details"]["thread"], r["details"]["i"]) for r in records_in(trail_path)}  # type: ignore[index]
    assert {(e.details["thread"], e.details["i"]) for e in acknowledged} == on_disk
    assert len(on_disk) == 159
    assert sum(1 for line in lines_of(trail_path) if line["kind"] == "recovery") == 1
    assert verify_trail(trail_path, KEY).ok


def test_a_failed_shared_sync_fails_every_record_it_covered_and_later_ones_succeed(trail_path: str) -> None:
    faults = Faulty()
    faults.sync_delay = 0.002
    trail = AuditTrail(trail_path, key=KEY, seal_records=0, seal_seconds=0, syscalls=faults)
    acknowledged: list[AuditEntry] = []
    failed: list[str] = []

    def work(thread: int, i: int) -> None:
        if thread == 0 and i == 10:
            faults.fail_sync = True
        try:
            acknowledged.append(trail.record("a", "x", {"thread": thread, "i": i}))
        except AuditError as exc:
            failed.append(str(exc))

    _hammer(8, 20, work)
    last = trail.record("a", "x", {"thread": 99, "i": 0})
    trail.close()
    assert failed and all("the record is not durable" in text for text in failed)
    assert len(acknowledged) + len(failed) == 160
    on_disk = {(r["details"]["thread"], r["details"]["i"]) for r in records_in(trail_path)}  # type: ignore[index]
    assert {(e.details["thread"], e.details["i"]) for e in acknowledged} <= on_disk
    assert last.seq == records_in(trail_path)[-1]["seq"]
    assert verify_trail(trail_path, KEY).ok


def test_a_caller_interrupted_after_being_handed_the_lead_does_not_hang_later_callers(
    trail_path: str,
) -> None:
    faults = Faulty()
    trail = AuditTrail(trail_path, seal_seconds=0, syscalls=faults)
    faults.sync_delay = 0.5
    faults.syncing.clear()
    leader = threading.Thread(target=trail.record, args=("leader", "x"))

    def interrupt(signum: int, frame: object) -> None:
        leader.join()  # meanwhile the leader hands its lead to the caller asleep in the queue
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        leader.start()
        assert faults.syncing.wait(5)
        main = threading.main_thread().ident
        assert main is not None
        threading.Timer(0.1, signal.pthread_kill, args=(main, signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            trail.record("interrupted", "x")
    finally:
        signal.signal(signal.SIGINT, previous)
    faults.sync_delay = 0.0
    later = threading.Thread(target=trail.record, args=("later", "x"))
    later.start()
    later.join(10)
    assert not later.is_alive()
    trail.close()
    assert [r["agent_id"] for r in records_in(trail_path)] == ["leader", "later"]
