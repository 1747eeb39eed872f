"""Shared fixtures: every test starts in a process that never configured OpenTelemetry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kaizen_otel.testing import reset_globals

# The real servers, once per session for every test folder (a fixture imported by two conftest
# files would start two of each).
from tests.testbed.fixtures import alertmanager, prometheus, rotel

__all__ = ["alertmanager", "prometheus", "rotel"]


#: Keys that would let a client or SDK reach its real service. The OpenAI Agents SDK posts every
#: run, prompts included, to OpenAI's trace ingest whenever ``OPENAI_API_KEY`` is set, from a batch
#: it also flushes at exit: a developer's own key must be gone for the whole run, not per test.
REAL_SERVICE_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


def pytest_configure(config: pytest.Config) -> None:
    """Nothing the tests run (nor the applications they start) can talk to a real provider."""
    import os

    for name in REAL_SERVICE_KEYS:
        os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def _fresh_globals() -> Iterator[None]:
    yield
    reset_globals()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No KAIZEN_OTEL_* / OTEL_* variable from the outer environment leaks into the test."""
    import os

    for name in list(os.environ):
        if name.startswith(("KAIZEN_OTEL_", "OTEL_")):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch
