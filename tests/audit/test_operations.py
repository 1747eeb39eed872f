"""The trail as users run it: the default path, damaged lines, bursts of rotations, a full disk,
secrets and hostile details, and the metrics a configure()-opened trail reports."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from kaizen_otel.audit import AuditTrail, verify_trail
from kaizen_otel.exceptions import AuditError
from tests.audit.conftest import KEY, ROOT
from tests.audit.test_cli import run_cli
from tests.audit.test_tamper import failures


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("KAIZEN_OTEL_", "OTEL_"))}
    full.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=str(ROOT), timeout=60
    )


def test_the_cli_finds_the_trail_configure_wrote_to_the_default_path(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    wrote = run_python(
        "import kaizen_otel\n"
        "obs = kaizen_otel.configure(enable_audit=True, prometheus_port=0)\n"
        "obs.audit.record('qa-agent', 'tool_execute', {'n': 1})\n"
        "obs.shutdown()\n",
        home,
    )
    assert wrote.returncode == 0, wrote.stderr
    assert (tmp_path / ".kaizen" / "audit" / "audit_trail.jsonl").exists()
    query = run_cli("query", env=home)
    assert [json.loads(line)["agent_id"] for line in query.stdout.splitlines()] == ["qa-agent"]
    tail = run_cli("tail", env=home)
    assert json.loads(tail.stdout)["details"] == {"n": 1}
    verify = run_cli("verify", env=home)
    assert verify.returncode == 0 and "OK (closed)" in verify.stdout


def test_a_torn_tail_recovered_by_configure_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit_trail.jsonl"
    with AuditTrail(str(path), seal_seconds=0) as trail:
        trail.record("a", "x")
    with open(path, "ab") as handle:
        handle.write(b'{"action":"x","agent_id":"a","det')
    done = run_python(
        "import urllib.request, kaizen_otel\n"
        f"obs = kaizen_otel.configure(enable_audit=True, audit_path={str(path)!r}, prometheus_port=0,"
        " prometheus_host='127.0.0.1')\n"
        "print(urllib.request.urlopen(obs.metrics_url).read().decode())\n"
        "obs.shutdown()\n",
        {},
    )
    assert done.returncode == 0, done.stderr
    samples = [line for line in done.stdout.splitlines() if line.startswith("kaizen_audit_recoveries_total")]
    assert samples and samples[0].endswith(" 1.0"), samples


@pytest.fixture
def damaged(trail_path: str) -> str:
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        for i in range(3):
            trail.record("agent", "step", {"i": i})
    with open(trail_path, "ab") as handle:
        handle.write(b'{"kind":"record","seq":90,"timestamp":"soon","agent_id":"agent","action":"step"}\n')
        handle.write(b'{"kind":"record","seq":91,"timestamp":1e999,"agent_id":"agent","action":"step"}\n')
        handle.write(b"not json at all\n")
    return trail_path


@pytest.mark.parametrize("command", ["query", "tail"])
def test_query_and_tail_skip_unreadable_lines_and_say_so(damaged: str, command: str) -> None:
    done = run_cli(command, damaged)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["details"]["i"] for line in done.stdout.splitlines()] == [0, 1, 2]
    assert "2 unreadable line(s) skipped" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["query", "tail", "verify"])
def test_a_directory_or_a_missing_path_is_a_clear_error(tmp_path: Path, command: str) -> None:
    as_directory = run_cli(command, str(tmp_path))
    assert as_directory.returncode == 2 and "is a directory" in as_directory.stderr
    missing = run_cli(command, str(tmp_path / "nothing.jsonl"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_tail_follow_reads_every_file_of_a_burst_of_rotations(trail_path: str) -> None:
    with AuditTrail(trail_path, key=KEY, seal_seconds=0) as trail:
        trail.record("agent", "step", {"i": 0})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAIZEN_OTEL_", "OTEL_"))}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "kaizen_otel.audit.cli", "tail", trail_path, "-n", "1", "-f"]
    follower = subprocess.Popen(
        [*command, "--interval", "0.5", "--duration", "180"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert follower.stdout is not None
    try:
        assert json.loads(follower.stdout.readline())["details"] == {"i": 0}
        with AuditTrail(trail_path, key=KEY, rotate_bytes=1, seal_seconds=0) as trail:
            for burst in range(3):  # each burst rotates several times within one poll interval
                for i in range(1 + burst * 5, 6 + burst * 5):
                    trail.record("agent", "step", {"i": i})
                time.sleep(0.7)
        printed = [follower.stdout.readline() for _ in range(15)]  # "" only if the follower stopped
        assert [json.loads(line)["details"]["i"] for line in printed if line] == list(range(1, 16))
    finally:
        follower.kill()
        follower.wait()


# ------------------------------------------------------------------------------- a full disk


def small_filesystem(directory: Path) -> bool:
    """Mount a 256 KiB tmpfs on ``directory`` when root can; False when it cannot."""
    directory.mkdir(parents=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(directory)], capture_output=True
    )
    return done.returncode == 0


def test_a_full_disk_fails_records_without_a_torn_file_per_call(tmp_path: Path) -> None:
    disk = tmp_path / "small"
    if not small_filesystem(disk):
        pytest.skip("covered by the RLIMIT_FSIZE test: mounting a tmpfs needs root")
    try:
        path = str(disk / "audit_trail.jsonl")
        reader = InMemoryMetricReader()
        trail = AuditTrail(path, key=KEY, seal_seconds=0, meter_provider=MeterProvider([reader]))
        acknowledged, refused = [], 0
        for i in range(400):
            try:
                acknowledged.append(trail.record("agent", "step", {"i": i, "pad": "x" * 2000}))
            except AuditError:
                refused += 1
        assert acknowledged and refused > 100
        assert not [name for name in os.listdir(disk) if ".torn-" in name]
        assert sum(failures(reader).values()) == refused
        present = {entry.seq for entry in trail.query()}
        assert {entry.seq for entry in acknowledged} <= present
        report = verify_trail(path, KEY, live=True)
        assert {p.kind for p in report.problems} <= {"torn"}  # at most our own cut-short line
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_file_size_limit_fails_records_without_a_torn_file_per_call(tmp_path: Path) -> None:
    path = str(tmp_path / "audit" / "audit_trail.jsonl")
    code = (
        "import resource, os\n"
        "from kaizen_otel.audit import AuditTrail\n"
        "from kaizen_otel.exceptions import AuditError\n"
        f"trail = AuditTrail({path!r}, seal_seconds=0, rotate_bytes=0)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "ok = refused = 0\n"
        "for i in range(60):\n"
        "    try:\n"
        "        trail.record('agent', 'step', {'i': i, 'pad': 'x' * 1500}); ok += 1\n"
        "    except AuditError:\n"
        "        refused += 1\n"
        "print(ok, refused)\n"
    )
    done = run_python(code, {})
    assert done.returncode == 0, done.stderr
    ok, refused = map(int, done.stdout.split())
    assert ok > 5 and refused > 40
    assert not [name for name in os.listdir(os.path.dirname(path)) if ".torn-" in name]
    from kaizen_otel.audit.query import iter_entries

    assert len(list(iter_entries(path))) == ok
    assert resource.getrlimit(resource.RLIMIT_FSIZE)  # the limit applied to the child only


# ------------------------------------------------------------------------------- what goes in


def test_a_trail_opened_directly_redacts_secrets_by_default(trail_path: str) -> None:
    secret = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2
    with AuditTrail.open(trail_path, seal_seconds=0) as trail:
        trail.record("agent", "call", {"api_key": secret, "note": f"Authorization: Bearer {secret}"})
    assert secret not in Path(trail_path).read_text()


def test_redaction_of_a_direct_trail_can_be_turned_off_explicitly(trail_path: str) -> None:
    with AuditTrail.open(trail_path, seal_seconds=0, redact=False) as trail:
        trail.record("agent", "call", {"api_key": "kept-on-purpose"})
    assert "kept-on-purpose" in Path(trail_path).read_text()


@pytest.mark.parametrize("shape", ["deep", "cyclic_list", "cyclic_in_metadata"])
def test_hostile_details_fail_with_audit_error_and_are_counted(trail_path: str, shape: str) -> None:
    reader = InMemoryMetricReader()
    trail = AuditTrail(trail_path, seal_seconds=0, meter_provider=MeterProvider([reader]))
    details: dict[str, object] = {}
    metadata: dict[str, object] = {}
    if shape == "deep":
        node: dict[str, object] = details
        for _ in range(600):
            node["n"] = {}
            node = node["n"]  # type: ignore[assignment]
    elif shape == "cyclic_list":
        loop: list[object] = []
        loop.append(loop)
        details["items"] = loop
    else:
        metadata["self"] = metadata
    with pytest.raises(AuditError):
        trail.record("agent", "step", details, metadata=metadata)
    assert failures(reader) == {"invalid_record": 1}
    trail.record("agent", "step", {"ok": True})  # the trail is unharmed
    trail.close()
    assert verify_trail(trail_path).ok
