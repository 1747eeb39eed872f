"""Fixtures for the audit tests: a fresh trail directory, a key, and a writer subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaizen_otel.audit import AuditTrail

KEY = b"0123456789abcdef0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def trail_path(tmp_path: Path) -> str:
    """Where a test's trail lives: a directory that does not exist yet."""
    return str(tmp_path / "audit" / "audit_trail.jsonl")


@pytest.fixture
def trail(trail_path: str) -> Iterator[AuditTrail]:
    """A keyed trail with the time seal off, closed after the test."""
    opened = AuditTrail(trail_path, key=KEY, seal_seconds=0)
    yield opened
    opened.close()


def lines_of(path: str) -> list[dict[str, object]]:
    """Every line of one file, parsed."""
    with open(path, "rb") as handle:
        return [json.loads(line) for line in handle]


def records_in(path: str) -> list[dict[str, object]]:
    """The ``record`` lines of every file of the trail, in chain order."""
    from kaizen_otel.audit.files import TrailLayout

    layout = TrailLayout(path)
    files = [p for _, p in layout.rotated()] + [path]
    return [line for f in files for line in lines_of(f) if line["kind"] == "record"]


def start_writer(path: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``tests/audit/writer.py`` writing to ``path``; it prints one line per acknowledged record."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.writer", path, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(ROOT),
        env=full_env,
    )
