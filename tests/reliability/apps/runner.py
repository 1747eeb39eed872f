"""Run an app of ``tests/reliability/apps`` in a fresh interpreter and time its phases from outside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Run:
    """What one app run printed and how long its exit took, seen from the parent."""

    returncode: int
    phases: list[dict[str, Any]]
    stderr: str
    exit_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def phase(self, name: str) -> dict[str, Any]:
        return next(p for p in self.phases if p.get("phase") == name)


def app_environment(**env: str) -> dict[str, str]:
    """The current environment without KAIZEN_OTEL_*/OTEL_*, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KAIZEN_OTEL_", "OTEL_"))}
    base["PYTHONPATH"] = str(ROOT)
    base.update(env)
    return base


def run_app(module: str, *args: str, env: dict[str, str], timeout: float = 60.0) -> Run:
    """Start ``python -m module args``; ``exit_seconds`` runs from its ``exiting`` line to its end."""
    with tempfile.TemporaryFile(mode="w+") as errors:  # a file, not a pipe: stderr cannot block
        return _run(module, args, env, timeout, errors)


def _run(module: str, args: tuple[str, ...], env: dict[str, str], timeout: float, errors: Any) -> Run:
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=errors,
        env=env,
        cwd=ROOT,
        text=True,
    )
    assert process.stdout is not None
    phases: list[dict[str, Any]] = []
    exiting_at = None
    try:
        for line in process.stdout:
            if line.startswith("{"):
                phases.append(json.loads(line))
                if phases[-1].get("phase") == "exiting":
                    exiting_at = time.monotonic()
        process.wait(timeout=timeout)
        ended = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.seek(0)
        stderr = errors.read()
    exit_seconds = ended - exiting_at if exiting_at is not None else float("nan")
    return Run(process.returncode, phases, stderr, exit_seconds)
