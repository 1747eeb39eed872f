"""Real processes: writers killed with SIGKILL, and several processes appending at once."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import time

import pytest

from kaizen_otel.audit import AuditTrail, verify_trail
from kaizen_otel.audit.files import TrailLayout
from tests.audit.conftest import KEY, records_in, start_writer

pytestmark = pytest.mark.integration

KILLS = 16


def read_acks(proc: subprocess.Popen[bytes], seconds: float) -> tuple[set[tuple[str, str]], bytes]:
    """Read the writer's stdout for ``seconds`` after its first ack; return the acknowledged records."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer = b""
    deadline: float | None = None
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        if deadline is not None and time.monotonic() >= deadline:
            break
        wait = 0.5 if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
            if deadline is None and b"ack " in buffer:
                deadline = time.monotonic() + seconds
    return acks_in(buffer), buffer


def acks_in(buffer: bytes) -> set[tuple[str, str]]:
    acks = set()
    for line in buffer.split(b"\n"):
        parts = line.split()
        if len(parts) == 5 and parts[0] == b"ack":
            acks.add((parts[2].decode(), parts[3].decode()))
    return acks


def test_every_acknowledged_record_survives_kill_9(trail_path: str) -> None:
    rng = random.Random(20240601)
    acknowledged: set[tuple[str, str]] = set()
    torn_seen = 0
    for round_number in range(KILLS):
        proc = start_writer(
            trail_path,
            "--name",
            f"r{round_number}",
            "--threads",
            "4",
            "--records",
            "100000",
            "--big-every",
            "3",
            "--rotate-bytes",
            str(2 * 1024 * 1024),
            "--key",
            KEY.decode(),
        )
        _, early = read_acks(proc, rng.uniform(0.02, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        late, _ = proc.communicate()  # acks written to the pipe before the kill count too
        acks = acks_in(early + late)
        assert acks, f"round {round_number}: the writer acknowledged nothing"
        acknowledged |= {(f"r{round_number}", f"{thread}:{i}") for thread, i in acks}
        live = verify_trail(trail_path, KEY, live=True)
        kinds = {p.kind for p in live.problems}
        assert kinds <= {"torn"}, live.problems  # a crash is never reported as tampering
        torn_seen += bool(kinds)
    print(f"{KILLS} kills, {len(acknowledged)} acknowledged records, {torn_seen} torn tails")
    with AuditTrail(trail_path, key=KEY, seal_seconds=0):
        pass  # a clean open recovers any torn tail and a clean close seals
    report = verify_trail(trail_path, KEY)
    assert report.ok, report.problems
    present = {
        (str(r["agent_id"]), f"{r['details']['thread']}:{r['details']['i']}")  # type: ignore[index]
        for r in records_in(trail_path)
    }
    missing = acknowledged - present
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:3]}"


def test_two_processes_with_eight_threads_each_lose_nothing(trail_path: str) -> None:
    per_thread = 150
    procs = [
        start_writer(
            trail_path,
            "--name",
            name,
            "--threads",
            "8",
            "--records",
            str(per_thread),
            "--rotate-bytes",
            str(96 * 1024),
            "--key",
            KEY.decode(),
        )
        for name in ("p1", "p2")
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.endswith(b"done\n")
    records = records_in(trail_path)
    assert len(records) == 2 * 8 * per_thread
    keys = {(r["agent_id"], r["details"]["thread"], r["details"]["i"]) for r in records}  # type: ignore[index]
    assert len(keys) == 2 * 8 * per_thread
    assert len(TrailLayout(trail_path).rotated()) >= 2  # both processes rotated the shared trail
    report = verify_trail(trail_path, KEY)
    assert report.ok, report.problems
    seqs = [int(r["seq"]) for r in records]  # type: ignore[call-overload]
    assert seqs == sorted(seqs)
