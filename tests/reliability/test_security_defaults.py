"""Security defaults, each a test: loopback endpoints, private audit files, quiet logs, no network.

The audit file modes and symlink refusal are the audit trail's own; these tests check them from
the outside, as a user's deployment would see them.
"""

from __future__ import annotations

import json
import logging
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import kaizen_otel
from kaizen_otel import KaizenConfigError
from tests.reliability.apps.runner import ROOT, app_environment

SECRET = "sk-live-SECRETVALUE0123456789abcdef"
AUDIT_DETAIL = "patient-4711-diagnosis"


def _non_loopback_addresses() -> list[str]:
    addresses = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addresses.add(str(info[4][0]))
    except OSError:
        pass
    return sorted(a for a in addresses if not a.startswith("127."))


def test_the_http_server_binds_loopback_only_by_default(clean_env: pytest.MonkeyPatch) -> None:
    obs = kaizen_otel.configure(prometheus_port=0, logs_exporter="none")
    assert obs.metrics_url is not None
    server = obs._pipeline.server  # type: ignore[union-attr]
    assert server is not None
    bound = server._httpd.server_address[0]
    assert bound in ("127.0.0.1", "::1"), bound
    for address in _non_loopback_addresses():
        with socket.socket() as probe:
            probe.settimeout(1)
            assert probe.connect_ex((address, server.port)) != 0, f"reachable on {address}"


def test_the_default_otlp_endpoint_is_localhost(clean_env: pytest.MonkeyPatch) -> None:
    obs = kaizen_otel.configure(prometheus_port=0, traces_exporter="otlp", logs_exporter="none")
    processors = obs._pipeline.batch_processors  # type: ignore[union-attr]
    exporter = processors[0][1]._batch_processor._exporter._inner
    assert exporter._endpoint in ("localhost:4317", "http://localhost:4317")
    obs.shutdown()


def test_audit_files_are_private_and_a_symlinked_trail_is_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = tmp_path / "audit"
    obs = kaizen_otel.configure(
        prometheus_port=0, logs_exporter="none", enable_audit=True, audit_path=str(directory / "trail.jsonl")
    )
    obs.audit.record("agent", "tool_execute", {"q": 1})
    obs.shutdown()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = [p for p in directory.iterdir() if p.is_file()]
    assert files
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o600)}
    kaizen_otel.testing.reset_globals()
    # A trail file that is a symlink (to a file an attacker wants appended to) is refused.
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a trail\n")
    linked = tmp_path / "linked"
    linked.mkdir(mode=0o700)
    (linked / "trail.jsonl").symlink_to(target)
    with pytest.raises(kaizen_otel.AuditError, match="symbolic link"):
        kaizen_otel.configure(
            prometheus_port=0, logs_exporter="none", enable_audit=True, audit_path=str(linked / "trail.jsonl")
        )
    assert target.read_text() == "not a trail\n"
    # A trail directory that is a symlink is refused too.
    real_dir = tmp_path / "real"
    real_dir.mkdir(mode=0o700)
    (tmp_path / "dirlink").symlink_to(real_dir)
    kaizen_otel.testing.reset_globals()
    with pytest.raises(kaizen_otel.AuditError, match="symbolic link"):
        kaizen_otel.configure(
            prometheus_port=0,
            logs_exporter="none",
            enable_audit=True,
            audit_path=str(tmp_path / "dirlink" / "trail.jsonl"),
        )
    assert list(real_dir.iterdir()) == []


def test_our_log_messages_never_hold_secrets_or_audit_details(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer {SECRET}")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        obs = kaizen_otel.configure(
            prometheus_port=0,
            logs_exporter="none",
            otlp_endpoint="http://127.0.0.1:9",
            otlp_protocol="http/protobuf",
            traces_exporter="otlp",
            enable_audit=True,
            audit_path=str(tmp_path / "audit.jsonl"),
            audit_key=SECRET,
            shutdown_timeout_ms=500,
        )
        with kaizen_otel.agent_run("worker", attributes={"api_key": SECRET}) as run:
            run.set_attribute("password", SECRET)
            obs.audit.record("worker", "read_record", {"record": AUDIT_DETAIL, "token": SECRET})
            kaizen_otel.configure(audit_key=SECRET)  # the "already configured" warning
        obs.shutdown()
        with pytest.raises(KaizenConfigError) as caught:
            kaizen_otel.testing.reset_globals()
            kaizen_otel.configure(enable_audit=True, audit_path=str(tmp_path / "a2.jsonl"), audit_key=" ")
        assert SECRET not in str(caught.value)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    ours = [r for r in records if r.name.startswith("kaizen_otel")]
    assert ours, "expected some kaizen_otel log records"
    for record in ours:
        text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
        assert SECRET not in text, text
        assert AUDIT_DETAIL not in text, text


@pytest.mark.parametrize(
    "env",
    [{}, {"KAIZEN_OTEL_ENABLE_AUDIT": "true"}],
    ids=["defaults", "with-audit"],
)
def test_no_network_at_import_or_configure_beyond_the_local_endpoint(
    tmp_path: Path, env: dict[str, str]
) -> None:
    environ = app_environment(
        KAIZEN_OTEL_PROMETHEUS_PORT="0", KAIZEN_OTEL_AUDIT_PATH=str(tmp_path / "a.jsonl"), **env
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.apps.network_probe"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.splitlines()[0])
    assert seen["at_import"] == []
    kinds = [event for event, _ in seen["at_configure"]]
    assert set(kinds) <= {"socket.bind", "socket.getaddrinfo"}, seen
    for event, args in seen["at_configure"]:
        assert "localhost" in args or "127.0.0.1" in args or "::1" in args, (event, args)
    assert "socket.connect" not in kinds
