"""The ``kaizen_telemetry`` pytest fixture, installed with kaizen-otel (a ``pytest11`` entry point).

Each test that asks for the fixture runs inside :func:`kaizen_otel.testing.capture_telemetry`:
the real ``configure()`` pipeline with in-memory exporters, reset before and after, so tests pass
alone, in sequence and in any order. Settings per test come from a marker::

    @pytest.mark.kaizen_otel(budget_run_usd=0.01, budget_enforce=True)
    def test_the_budget_stops_the_agent(kaizen_telemetry): ...

``--kaizen-deterministic`` (or ``kaizen_otel_deterministic = true`` in the ini file, or the
marker's ``deterministic=True``) numbers ids 1, 2, 3... and uses a clock of one-second ticks.
Nothing here runs for a test that does not use the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

_MARKER = "kaizen_otel"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kaizen-otel")
    group.addoption(
        "--kaizen-deterministic",
        action="store_true",
        default=None,
        help="kaizen_telemetry: sequential trace/span ids and a one-second-tick clock",
    )
    parser.addini(
        "kaizen_otel_deterministic",
        type="bool",
        default=False,
        help="kaizen_telemetry: sequential trace/span ids and a one-second-tick clock",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**settings): configure() settings for the kaizen_telemetry fixture "
        "(plus service_name=, deterministic=, environ=)",
    )


@pytest.fixture
def kaizen_telemetry(request: pytest.FixtureRequest) -> Iterator[Any]:
    """kaizen_otel configured with in-memory exporters for this test; everything reset after."""
    from kaizen_otel.testing import capture_telemetry

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(_MARKER))):  # closest marker wins
        options.update(marker.kwargs)
    if "deterministic" not in options:
        flag = request.config.getoption("kaizen_deterministic")
        options["deterministic"] = bool(
            flag if flag is not None else request.config.getini("kaizen_otel_deterministic")
        )
    with capture_telemetry(**options) as captured:
        yield captured
