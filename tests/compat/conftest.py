"""Fixtures for the source documents' API: a process environment that stays on this machine.

Every test gets a clean environment with the Prometheus endpoint on a free loopback port, the
audit trail in the test's own folder and console logs off, so managers built exactly as the
documents build them (no arguments beyond theirs) configure a process that touches nothing shared.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.conftest import certs
from tests.testbed.fixtures import prometheus, rotel

__all__ = ["certs", "prometheus", "rotel"]


@pytest.fixture(autouse=True)
def compat_env(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    clean_env.setenv("KAIZEN_OTEL_PROMETHEUS_HOST", "127.0.0.1")
    clean_env.setenv("KAIZEN_OTEL_PROMETHEUS_PORT", "0")
    clean_env.setenv("KAIZEN_OTEL_AUDIT_PATH", str(tmp_path / "audit" / "audit_trail.jsonl"))
    clean_env.setenv("KAIZEN_OTEL_LOGS_EXPORTER", "none")
    clean_env.setenv("KAIZEN_OTEL_PROCESS_METRICS", "false")
    return clean_env


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    """Where the default audit trail of a test's process is (the ``audit_path`` setting)."""
    return tmp_path / "audit" / "audit_trail.jsonl"
