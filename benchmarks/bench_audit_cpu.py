"""CPU per audit record: ``AuditTrail.record()`` against the least any hash-chained line costs.

Durability costs wall time (an ``fdatasync`` per commit, shared by concurrent writers: see
``bench_audit``); this measures what ``record()`` costs the CPU around it, which decides how many
writers one sync can serve. The trail is opened as a user opens it (``AuditTrail.open()``: default
redaction on) with only ``fdatasync``/``fsync`` skipped through the ``SysCalls`` seam. The raw
baseline, in the same process and alternating rounds: ``json.dumps`` of the same fields with
sorted keys, SHA-256 of it, and one ``os.write`` to an ``O_APPEND`` file. Process CPU time;
the ratio is the median of per-round ratios.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

try:
    from benchmarks._util import table
except ImportError:  # run as a script
    from _util import table  # type: ignore[no-redef]

from kaizen_otel.audit import AuditTrail
from kaizen_otel.audit.storage import SysCalls

RECORDS = 5000
ROUNDS = 15
DETAILS = {"tool_name": "bash", "command": "ls -la /srv/data", "exit_code": 0, "duration_ms": 41}
METADATA = {"session_id": "session-123", "request_id": "req-9f2c"}


class NoSync(SysCalls):
    """Every durability call but the sync itself: the CPU side of ``record()``."""

    def fdatasync(self, fd: int) -> None:
        return None

    def fsync(self, fd: int) -> None:
        return None


def _cpu(fn: Callable[[], object], count: int) -> float:
    gc.collect()
    started = time.process_time()
    for _ in range(count):
        fn()
    return (time.process_time() - started) / count * 1e6


def main(records: int = RECORDS, rounds: int = ROUNDS) -> dict[str, float]:
    directory = tempfile.mkdtemp(prefix="kaizen-bench-audit-cpu-")
    try:
        trail = AuditTrail.open(
            os.path.join(directory, "audit_trail.jsonl"),
            seal_seconds=0,
            rotate_seconds=0,
            rotate_bytes=0,
            syscalls=NoSync(),
        )
        fd = os.open(os.path.join(directory, "raw.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        state = {"prev": "0" * 64, "seq": 0}

        def record() -> object:
            return trail.record(
                "qa-agent", "tool_execute", DETAILS, user_id="user@example.com", metadata=METADATA
            )

        def raw() -> object:
            fields = {
                "agent_id": "qa-agent",
                "action": "tool_execute",
                "result": "success",
                "user_id": "user@example.com",
                "details": DETAILS,
                "metadata": METADATA,
                "timestamp": time.time_ns(),
                "prev": state["prev"],
                "seq": state["seq"],
            }
            body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
            state["prev"] = hashlib.sha256(body).hexdigest()
            state["seq"] += 1
            return os.write(fd, body + b"\n")

        _cpu(record, records // 5)
        _cpu(raw, records // 5)
        samples: dict[str, list[float]] = {"record": [], "raw": []}
        for _ in range(rounds):
            samples["raw"].append(_cpu(raw, records))
            samples["record"].append(_cpu(record, records))
        trail.close()
        os.close(fd)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratio = statistics.median(r / b for r, b in zip(samples["record"], samples["raw"], strict=True))
    results = {"record_cpu_us": med["record"], "raw_cpu_us": med["raw"], "record_vs_raw": ratio}
    print(
        table(
            ["case", "µs CPU/record", "vs raw"],
            [
                ["raw: sorted json.dumps + sha256 + write", med["raw"], 1.0],
                ["AuditTrail.record(), fdatasync skipped", med["record"], ratio],
            ],
        )
    )
    print(f"aim: <= 20 µs CPU per record; median of {rounds} alternating rounds of {records} records")
    return results


if __name__ == "__main__":
    main()
