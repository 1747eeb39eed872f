"""Operations tests: the collector configs, the deploy/ stack, alert rules and dashboards.

Tests that run a real server (Prometheus, Alertmanager, rotel, the collector binary) are marked
``integration``; the session-scoped servers are the ones of ``tests.testbed`` (tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

__all__ = ["REPO", "certs"]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a collector certificate and a client certificate from deploy/tls/generate-certs.sh."""
    out = tmp_path_factory.mktemp("certs") / "out"
    subprocess.run(
        ["sh", str(REPO / "deploy" / "tls" / "generate-certs.sh"), str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out
