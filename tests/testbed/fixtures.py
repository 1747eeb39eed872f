"""Session-scoped pytest fixtures for the real servers: ``prometheus``, ``alertmanager``, ``rotel``.

Each server starts once per test session, on first use, and is stopped by PID at session end.
Prometheus alone needs ~6 s to its first scrape, so tests share one instance and add their own
scrape targets (``prometheus.add_target``); rotel records are told apart by ``service.name``.

A missing binary skips the tests that need it, except under ``CI=true``, where it fails them with
the install hint: a green CI run always includes the real round trips.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.testbed.install import INSTALL_HINT, has_libpython, in_ci, rotel_agent_path
from tests.testbed.servers import Alertmanager, Prometheus, Rotel


def require(available: bool, what: str) -> None:
    """Skip the test (fail it under ``CI=true``) when ``what`` is not installed."""
    if available:
        return
    message = f"{what} is not installed: {INSTALL_HINT}"
    if in_ci():
        pytest.fail(f"CI=true needs every test server; {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    """A Prometheus on 127.0.0.1 scraping every 1 s; add targets with ``add_target(host_port)``."""
    require(shutil.which("prometheus") is not None, "Debian package `prometheus`")
    server = Prometheus()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[Alertmanager]:
    """An Alertmanager on 127.0.0.1 whose only receiver is ``alertmanager.webhook``."""
    require(shutil.which("prometheus-alertmanager") is not None, "Debian package `prometheus-alertmanager`")
    server = Alertmanager()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rotel() -> Iterator[Rotel]:
    """A rotel OTLP receiver (gRPC + HTTP) that records every span, log record and data point."""
    require(rotel_agent_path() is not None, "PyPI package `rotel`")
    require(has_libpython(), "Debian package `libpython3.11`")
    server = Rotel()
    try:
        server.start()
        yield server
    finally:
        server.stop()
