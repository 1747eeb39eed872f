"""``kaizen-otel audit verify | query | tail``, in-process and as a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaizen_otel.audit import AuditTrail
from kaizen_otel.audit.cli import register
from tests.audit.conftest import KEY, ROOT


@pytest.fixture
def sample(trail_path: str) -> str:
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        for i in range(6):
            trail.record(f"agent-{i % 2}", "tool_execute", {"i": i}, result="denied" if i == 4 else "success")
    return trail_path


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("KAIZEN_OTEL_", "OTEL_"))}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kaizen_otel.audit.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=str(ROOT),
        timeout=60,
    )


def test_register_adds_the_audit_commands_to_a_parser(
    sample: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="kaizen-otel")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "query", sample, "--agent", "agent-1"])
    assert args.func(args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["details"]["i"] for p in printed] == [1, 3, 5]


def test_verify_exits_zero_for_an_intact_trail(sample: str, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    done = run_cli("verify", sample, "--key-file", str(key_file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(f"OK (closed): {sample}: 1 file(s)")
    assert "seals checked with the key" in done.stdout


def test_verify_names_file_line_and_kind_of_damage(sample: str) -> None:
    with open(sample, "rb") as handle:
        lines = handle.readlines()
    lines[3] = lines[3].replace(b'"result":"success"', b'"result":"denied"')
    with open(sample, "wb") as handle:
        handle.writelines(lines)
    done = run_cli("verify", sample, env={"KAIZEN_OTEL_AUDIT_KEY": KEY.decode()})
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        "audit_trail.jsonl:4: edited: the content does not match the line's hash"
    )
    assert "DAMAGED (1 problem(s))" in done.stdout


def test_verify_json_report(sample: str) -> None:
    done = run_cli("audit", "verify", sample, "--json", "--no-key")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"] is True and report["records"] == 6
    assert report["key_checked"] is False


def test_the_trail_path_defaults_to_the_setting(sample: str) -> None:
    done = run_cli("query", "--result", "denied", env={"KAIZEN_OTEL_AUDIT_PATH": sample})
    assert done.returncode == 0, done.stderr
    (only,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert only["details"] == {"i": 4} and only["timestamp"].endswith("Z")


def test_query_time_window_and_a_bad_time_is_a_usage_error(sample: str) -> None:
    with AuditTrail(sample, seal_seconds=0) as trail:
        entries = list(trail.query())
    start = entries[2].to_dict()["timestamp"]
    done = run_cli("query", sample, "--start", start, "--end", str(entries[4].timestamp_ns))
    assert [json.loads(line)["details"]["i"] for line in done.stdout.splitlines()] == [2, 3]
    bad = run_cli("query", sample, "--start", "last tuesday")
    assert bad.returncode == 2
    assert "invalid value for --start (from argument): 'last tuesday'" in bad.stderr


def test_a_time_bound_keeps_the_nanoseconds_a_record_prints() -> None:
    """A record's timestamp pasted into --start must select that record, to the nanosecond."""
    from kaizen_otel.audit.cli import _parse_time

    base = 1_796_148_600 * 1_000_000_000  # 2026-12-01T18:10:00Z
    assert _parse_time("2026-12-01T18:10:00.123456789Z", "start") == base + 123_456_789
    assert _parse_time("2026-12-01T18:10:00.5+00:00", "start") == base + 500_000_000
    assert _parse_time("2026-12-01T19:10:00,25+01:00", "start") == base + 250_000_000
    assert _parse_time("2026-12-01T18:10:00Z", "start") == base


def test_tail_prints_the_last_records(sample: str) -> None:
    done = run_cli("tail", sample, "-n", "2")
    assert [json.loads(line)["details"]["i"] for line in done.stdout.splitlines()] == [4, 5]


def test_tail_follow_prints_records_as_they_arrive(sample: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAIZEN_OTEL_", "OTEL_"))}
    env["PYTHONPATH"] = str(ROOT)
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kaizen_otel.audit.cli",
            "tail",
            sample,
            "-n",
            "1",
            "-f",
            "--interval",
            "0.05",
            "--duration",
            "180",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(ROOT),
    )
    assert follower.stdout is not None
    try:
        assert json.loads(follower.stdout.readline())["details"] == {"i": 5}
        with AuditTrail(sample, key=KEY, rotate_bytes=1, seal_seconds=0) as trail:
            for i in range(6, 9):
                trail.record("agent-0", "tool_execute", {"i": i})
                time.sleep(0.1)
        seen = [json.loads(follower.stdout.readline())["details"]["i"] for _ in range(3)]
        assert seen == [6, 7, 8]  # in order, across rotations
    finally:
        follower.kill()
        follower.wait()
